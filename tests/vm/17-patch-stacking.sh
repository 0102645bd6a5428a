# Stacking: two patches replace the same functions; the newest wins.
# Disabling the older one while the newer is enabled is refused (stack
# order); disabling the newer brings back the older's code, then the
# original.
# timeout: 180
. ./lib.sh
load_core_and_target
echo "kthread on" > $T
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "first patch's version runs"
insmod $MODDIR/lg_testpatch2.ko
wait_transition_done lg_testpatch2
echo unit > $T
expect_eq "$(stat syscall v3)" 1 "second (newest) patch's version runs"
expect_fail "disabling the older patch" sh -c "echo 0 > $LG/lg_testpatch/enabled"
expect_dmesg "'lg_testpatch': cannot disable: a newer patch also replaces"
expect_eq "$(cat $LG/lg_testpatch/enabled)" 1 "older patch still enabled"
echo 0 > $LG/lg_testpatch2/enabled
wait_for 30 [ ! -e $LG/lg_testpatch2 ]
rmmod lg_testpatch2
echo unit > $T
expect_eq "$(stat syscall v2)" 2 "older patch's version runs again"
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
rmmod lg_testpatch
echo unit > $T
expect_eq "$(stat syscall v1)" 1 "original runs after both are gone"
echo "kthread off" > $T
expect_no_mixed
rmmod lg_target
rmmod livegraft
