# Idle tasks switch only between idle-loop iterations. The patch replaces
# cpuidle_enter() (on an idle task's stack while its CPU idles) and
# sched_idle_set_state() (called inside it before and after the idle state);
# the test patch counts the idle units that ran old and new code. The
# power:cpu_idle event fires inside cpuidle_enter(), so an idle task switched
# there ran the new sched_idle_set_state() inside the old cpuidle_enter().
# Then every CPU is kept busy (its idle task never runs, parked off-CPU) and
# the patch is disabled: the idle tasks must still switch back.
# timeout: 240
. ./lib.sh
drv=$(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || true)
[ -n "$drv" ] && [ "$drv" != none ] || fail "no cpuidle driver (current_driver: '$drv')"
ok "cpuidle driver: $drv"
P=/sys/module/lg_testpatch_idle/parameters
insmod $MODDIR/livegraft.ko
insmod $MODDIR/lg_testpatch_idle.ko
wait_transition_done lg_testpatch_idle 30
expect_dmesg "livegraft: 'lg_testpatch_idle': patching complete"
sleep 1
[ "$(cat $P/units)" -gt 0 ] || fail "the new cpuidle_enter never ran"
ok "idle units run the new code: $(cat $P/units)"
expect_eq "$(cat $P/mixed)" 0 "idle units that mixed versions (patching)"

spinners=
for i in 1 2 3 4; do
	( while :; do :; done ) &
	spinners="$spinners $!"
done
sleep 2
u=$(cat $P/units)
sleep 1
expect_eq "$(cat $P/units)" "$u" "idle units while every CPU is busy"
echo 0 > $LG/lg_testpatch_idle/enabled
wait_for 60 [ ! -e $LG/lg_testpatch_idle ]
expect_dmesg "livegraft: 'lg_testpatch_idle': unpatching complete"
dmesg | grep "'lg_testpatch_idle': switched in"
kill $spinners
expect_eq "$(cat $P/mixed)" 0 "idle units that mixed versions (unpatching)"
rmmod lg_testpatch_idle
rmmod livegraft
