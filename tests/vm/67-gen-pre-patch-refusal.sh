# A generated callbacks-only Rust patch (samples/gen_requires: one object,
# lg_target, with callbacks and no function) whose pre_patch returns an
# error: the enable is aborted cleanly with upstream's messages (the Err of
# the safe callback becomes the insmod's errno, nothing stays registered,
# post_unpatch does not run). Once samples/gen_callbacks introduced the state
# it needs (prev_state(7)), the same module enables: its lg_target
# directory has `patched` and no function directory.
# timeout: 180
. ./lib.sh
R=livegraft_gen_requires
insmod $MODDIR/livegraft.ko
insmod $MODDIR/lg_target.ko
if insmod $MODDIR/$R.ko 2>/tmp/insmod.err; then
	fail "$R enabled without the state it needs"
fi
grep -q "No such device" /tmp/insmod.err || fail "insmod's error is not ENODEV: $(cat /tmp/insmod.err)"
ok "insmod fails with the callback's ENODEV: $(cat /tmp/insmod.err)"
expect_dmesg_sequence "livegraft: enabling patch '$R'" \
	"$R: pre_patch lg_target: no state 7 to build on: refused" \
	"livegraft: failed to enable patch '$R'" \
	"livegraft: '$R': canceling patching transition, going to unpatch" \
	"livegraft: '$R': unpatching complete"
expect_no_dmesg "$R: post_unpatch"
[ ! -e $LG/$R ] || fail "a refused patch left its directory"
! grep -q "^$R " /proc/modules || fail "the refused module stayed loaded"
ok "nothing of the refused patch is left"
insmod $MODDIR/livegraft_gen_callbacks.ko
wait_transition_done livegraft_gen_callbacks
insmod $MODDIR/$R.ko
wait_transition_done $R
expect_dmesg "$R: pre_patch lg_target: state 7 version 1 found"
expect_dmesg "$R: post_patch lg_target: patched 1"
expect_eq "$(cat $LG/$R/lg_target/patched)" 1 "lg_target/patched of the callbacks-only object"
expect_eq "$(ls $LG/$R/lg_target | grep -c ,)" 0 "function directories of the callbacks-only object"
disable_patch $R
expect_dmesg "$R: post_unpatch lg_target: patched 0"
disable_patch livegraft_gen_callbacks
rmmod lg_target
rmmod livegraft
