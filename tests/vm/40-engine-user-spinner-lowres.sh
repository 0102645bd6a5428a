# Scenario 18 without high-resolution timers: with highres=off the tick is
# tick_handle_periodic(), hrtimer_interrupt() never runs, and an IPI records
# no interrupted registers, so a task spinning in user space that never makes
# a syscall must switch on its way back to user mode (the user_return safe
# point: a task_work the transition work queues for it, run when the IPI or
# the tick returns to user mode). Both transitions complete; dmesg shows the
# user_return switches.
# cmdline: highres=off
# timeout: 180
. ./lib.sh
expect_no_dmesg "Switched to high resolution mode"
load_core_and_target
lg_spawn 40 > /tmp/spawn.out &
spawner=$!
wait_for 60 grep -q ready /tmp/spawn.out
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch 30
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
expect_dmesg "livegraft: 'lg_testpatch': switched in [0-9]+ ms:.* user_return=[0-9]+"
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
expect_dmesg "livegraft: 'lg_testpatch': unpatching complete"
n=$(dmesg | grep -Ec "'lg_testpatch': switched in [0-9]+ ms:.* user_return=[0-9]+")
expect_eq "$n" 2 "transitions that switched tasks at user_return"
kill $spawner
wait $spawner 2>/dev/null || true
rmmod lg_testpatch
rmmod lg_target
rmmod livegraft
