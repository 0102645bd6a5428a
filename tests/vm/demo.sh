# The README demo (not part of the test suite). Each step is echoed so the
# transcript reads as a terminal session.
. ./lib.sh
step() { echo; echo "### $*"; }
dmesg -n 1    # kernel messages only through the dmesg commands below

step "insmod livegraft.ko lg_target.ko   # the core, and a module with functions to patch"
insmod $MODDIR/livegraft.ko
insmod $MODDIR/lg_target.ko
dmesg | grep 'livegraft:' | tail -n 1
echo "kthread on" > $T; echo "work on" > $T
( while :; do echo unit > $T; done ) &
loop=$!
sleep 1
step "cat /proc/lg_target   # units of work so far: all version 1"
cat $T

step "insmod lg_testpatch.ko   # a patch replacing lg_target_{unit,a,b,block,hold}"
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
dmesg | grep 'livegraft:' | tail -n 5
step "ls /sys/kernel/livegraft/lg_testpatch; cat enabled transition"
ls /sys/kernel/livegraft/lg_testpatch
cat $LG/lg_testpatch/enabled $LG/lg_testpatch/transition
sleep 1
step "cat /proc/lg_target   # new units run version 2; mixed stays 0"
cat $T

step "echo 0 > /sys/kernel/livegraft/lg_testpatch/enabled   # disable"
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
dmesg | grep 'livegraft:' | tail -n 4
sleep 1
step "cat /proc/lg_target   # version 1 again"
cat $T
kill $loop
echo "kthread off" > $T; echo "work off" > $T
expect_no_mixed

step "rmmod lg_testpatch lg_target livegraft"
rmmod lg_testpatch
rmmod lg_target
rmmod livegraft
dmesg | grep 'livegraft:' | tail -n 1
