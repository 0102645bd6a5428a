# CPU hotplug during a transition, the tasks' side (issue 9 item 3): while a
# holder kthread keeps the transition open, cpu1 goes offline and online
# three times with work running on it (a syscall unit loop and a user-space
# spinner bound to cpu1, the target's kthread and work item, a free unit
# loop): bound tasks migrate away (and are bound to cpu1 again each time it
# is back), the idle task of cpu1 is switched whether the CPU is online or
# not, every task but the holder switches, the transition completes when the
# holder is released, and no unit mixes versions. Patching starts with cpu1
# online, unpatching with cpu1 offline (its idle task switches as such).
# timeout: 300
. ./lib.sh
C1=/sys/devices/system/cpu/cpu1/online
S=$LG/lg_testpatch_hotplug/summary
pending_is() { [ "$(sed -n 's/^pending: //p' $S)" = "$1" ]; }
[ -e $C1 ] || fail "cpu1 cannot be taken offline (no $C1)"
cycle_cpu1() {
	for _c in 1 2 3; do
		echo 0 > $C1
		usleep 300000
		echo 1 > $C1
		taskset -p -c 1 $bound > /dev/null
		taskset -p -c 1 $spin > /dev/null
		usleep 300000
	done
	ok "cpu1 offline and online 3 times"
}
load_core_and_target
start_units
taskset -c 1 sh -c "while :; do echo unit > $T; done" &
bound=$!
taskset -c 1 sh -c 'while :; do :; done' &
spin=$!
sleep 1

echo hold > $T
insmod $MODDIR/lg_testpatch_hotplug.ko
cycle_cpu1
wait_for 30 pending_is 1
cat $S
expect_eq "$(cat $LG/lg_testpatch_hotplug/transition)" 1 "patching held open by the holder"
echo unhold > $T
wait_transition_done lg_testpatch_hotplug 30
expect_dmesg "livegraft: 'lg_testpatch_hotplug': patching complete"
units_advance syscall 2
units_advance kthread 2
units_advance work 2
expect_no_mixed

echo hold > $T
echo 0 > $C1
echo 0 > $LG/lg_testpatch_hotplug/enabled
usleep 300000
echo 1 > $C1
cycle_cpu1
wait_for 30 pending_is 1
cat $S
expect_eq "$(cat $LG/lg_testpatch_hotplug/transition)" 1 "unpatching held open by the holder"
echo unhold > $T
wait_for 30 [ ! -e $LG/lg_testpatch_hotplug ]
expect_dmesg "livegraft: 'lg_testpatch_hotplug': unpatching complete"
dmesg | grep "livegraft-stats: .*switched in" | tail -n 1 | grep -q "unpatching transition: .* offline=1" \
	|| fail "cpu1's idle task was not switched offline: $(dmesg | grep "switched in" | tail -n 1)"
ok "cpu1's idle task switched while cpu1 was offline"
units_advance syscall 1
units_advance kthread 1
units_advance work 1
kill $bound $spin
stop_units
rmmod lg_testpatch_hotplug
rmmod lg_target
rmmod livegraft
