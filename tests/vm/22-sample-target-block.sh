# A generated patch on a blocking syscall path (samples/target_block): a
# writer asleep in the old lg_target_block() is nudged, its write restarts
# in version 4 and succeeds once released; no unit mixes versions.
# timeout: 120
. ./lib.sh
load_core_and_target
( echo block > $T; echo "rc=$?" > /tmp/blocker.rc ) &
wait_for 10 grep -q "^blocked 1" $T
insmod $MODDIR/livegraft_target_block.ko
wait_transition_done livegraft_target_block 30
expect_dmesg "livegraft: 'livegraft_target_block': patching complete"
[ ! -e /tmp/blocker.rc ] || fail "the blocked writer returned early: $(cat /tmp/blocker.rc)"
echo release > $T
wait_for 10 [ -e /tmp/blocker.rc ]
expect_eq "$(cat /tmp/blocker.rc)" "rc=0" "blocked writer's result"
expect_eq "$(stat blocking v4)" 1 "the blocking unit ran version 4"
expect_no_mixed
echo 0 > $LG/livegraft_target_block/enabled
wait_for 30 [ ! -e $LG/livegraft_target_block ]
rmmod livegraft_target_block
rmmod lg_target
rmmod livegraft
