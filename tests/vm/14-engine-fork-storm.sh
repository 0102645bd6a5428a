# Fork storm and exits during a transition held open: children inherit their
# parent's universe, exiting tasks release their entries, the pending count
# stays exact (the transition completes as soon as the holder is released),
# and no unit mixes versions.
# timeout: 240
. ./lib.sh
load_core_and_target
held_fork_storm
echo unhold > $T
wait_transition_done lg_testpatch 30
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
[ "$(stat syscall units)" -ge 450 ] || fail "fewer units than forks: $(stat syscall units)"
expect_no_mixed
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
rmmod lg_testpatch
echo "kthread off" > $T
rmmod lg_target
rmmod livegraft
