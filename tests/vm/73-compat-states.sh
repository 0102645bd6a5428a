# System states through the compat layer (Documentation/livepatch/
# system-state.rst): lg_compat_cb introduces state 0x5a version 1,
# lg_compat_cb2 (stacked, not cumulative) takes it over. A lower version is
# refused with upstream's message and nothing registered; klp_get_state()
# and klp_get_prev_state() answer in the callbacks (the previous patch's
# version while cb2 is in transition, none for the first patch); the same
# check refuses the older patch on top of the newer one.
# timeout: 240
. ./lib.sh
. ./compat-lib.sh
insmod $MODDIR/livegraft.ko
insmod $MODDIR/lg_target.ko
insmod $MODDIR/lg_compat_cb.ko
wait_transition_done lg_compat_cb

klp_mark
expect_fail "state version 0 under version 1" insmod $MODDIR/lg_compat_cb2.ko state_version=0
grep -q "Invalid argument" /tmp/expect_fail.err || fail "insmod error: $(cat /tmp/expect_fail.err)"
[ ! -e $LG/lg_compat_cb2 ] || fail "refused patch left sysfs behind"
! grep -q '^lg_compat_cb2 ' /proc/modules || fail "refused patch module stayed loaded"
expect_klp_log lg_compat_cb2 "$(twice "livegraft: Livepatch patch (lg_compat_cb2) is not compatible with the already installed livepatches.")"

klp_mark
insmod $MODDIR/lg_compat_cb2.ko state_version=2
wait_transition_done lg_compat_cb2
expect_eq "$(cat $LG/lg_compat_cb2/lg_target/patched)" 1 "lg_compat_cb2 stacked on lg_compat_cb"
echo 0 > $LG/lg_compat_cb2/enabled
wait_for 30 [ ! -e $LG/lg_compat_cb2 ]
rmmod lg_compat_cb2
expect_klp_log lg_compat_cb2 "livegraft: enabling patch 'lg_compat_cb2'
livegraft: 'lg_compat_cb2': initializing patching transition
lg_compat_cb2: pre_patch: state version 2, previous version 1
livegraft: 'lg_compat_cb2': starting patching transition
livegraft: 'lg_compat_cb2': completing patching transition
livegraft: 'lg_compat_cb2': patching complete
livegraft: 'lg_compat_cb2': initializing unpatching transition
livegraft: 'lg_compat_cb2': starting unpatching transition
livegraft: 'lg_compat_cb2': completing unpatching transition
lg_compat_cb2: post_unpatch: previous version 1
livegraft: 'lg_compat_cb2': unpatching complete"

echo 0 > $LG/lg_compat_cb/enabled
wait_for 30 [ ! -e $LG/lg_compat_cb ]
rmmod lg_compat_cb

# cb2 alone: no previous state; then cb (version 1) on top of it is refused.
klp_mark
insmod $MODDIR/lg_compat_cb2.ko
wait_transition_done lg_compat_cb2
expect_fail "state version 1 over version 2" insmod $MODDIR/lg_compat_cb.ko
echo 0 > $LG/lg_compat_cb2/enabled
wait_for 30 [ ! -e $LG/lg_compat_cb2 ]
rmmod lg_compat_cb2
expect_klp_log 'lg_compat_cb2?:' "livegraft: enabling patch 'lg_compat_cb2'
livegraft: 'lg_compat_cb2': initializing patching transition
lg_compat_cb2: pre_patch: state version 2, previous version -1
livegraft: 'lg_compat_cb2': starting patching transition
livegraft: 'lg_compat_cb2': completing patching transition
livegraft: 'lg_compat_cb2': patching complete
livegraft: Livepatch patch (lg_compat_cb) is not compatible with the already installed livepatches.
livegraft: Livepatch patch (lg_compat_cb) is not compatible with the already installed livepatches.
livegraft: 'lg_compat_cb2': initializing unpatching transition
livegraft: 'lg_compat_cb2': starting unpatching transition
livegraft: 'lg_compat_cb2': completing unpatching transition
lg_compat_cb2: post_unpatch: previous version -1
livegraft: 'lg_compat_cb2': unpatching complete"
rmmod lg_target
rmmod livegraft
