# CPU hotplug during a transition: a CPU that is offline when the transition
# begins and comes online mid-transition (issue 9 item 3). Every possible
# CPU's idle task is tracked from the start, and an offline CPU's is switched
# at once: brought online, its idle task starts on a fresh stack already in
# the target universe. Before the fix it was not tracked at all and ran in the
# initial universe until the transition completed, then jumped to the other
# code in the middle of its loop. A holder kthread keeps each transition
# open; lg_testpatch_hotplug counts, per CPU, the idle-loop iterations that
# run the new arch_cpu_idle_exit(). Patching, then unpatching.
# timeout: 240
. ./lib.sh
P=/sys/module/lg_testpatch_hotplug/parameters
C1=/sys/devices/system/cpu/cpu1/online
S=$LG/lg_testpatch_hotplug/summary
field() { sed -n "s/^$1: //p" $S; }
pending_is() { [ "$(sed -n 's/^pending: //p' $S)" = "$1" ]; }
cpu1_units() { cut -d' ' -f2 $P/cpu_units; }
# cpu1's idle time in /proc/stat (USER_HZ ticks): it grows while cpu1 idles.
cpu1_idle() { sed -n 's/^cpu1 \+[0-9]\+ \+[0-9]\+ \+[0-9]\+ \+\([0-9]\+\).*/\1/p' /proc/stat; }
[ -e $C1 ] || fail "cpu1 cannot be taken offline (no $C1)"
load_core_and_target

echo hold > $T
echo 0 > $C1
insmod $MODDIR/lg_testpatch_hotplug.ko
wait_for 20 pending_is 1
expect_eq "$(cat $LG/lg_testpatch_hotplug/transition)" 1 "patching held open by the holder"
cat $S
echo 1 > $C1
wait_for 20 sh -c "[ \$(cut -d' ' -f2 $P/cpu_units) -gt 0 ]"
ok "cpu1, online since mid-transition, runs the new code in its idle loop ($(cat $P/cpu_units))"
expect_eq "$(field pending)" 1 "pending: the holder only"
grep -q "lg_target_hold sleeping-on lg_target_hold+0x" $LG/lg_testpatch_hotplug/pending_tasks \
	|| fail "pending_tasks: $(cat $LG/lg_testpatch_hotplug/pending_tasks)"
expect_eq "$(field switched_offline)" 1 "idle tasks switched offline"
echo unhold > $T
wait_transition_done lg_testpatch_hotplug 30
expect_dmesg "livegraft: 'lg_testpatch_hotplug': patching complete"

echo hold > $T
echo 0 > $C1
echo 0 > $LG/lg_testpatch_hotplug/enabled
wait_for 20 pending_is 1
expect_eq "$(cat $LG/lg_testpatch_hotplug/transition)" 1 "unpatching held open by the holder"
cat $S
n=$(cpu1_units)
echo 1 > $C1
i0=$(cpu1_idle)
sleep 2
[ "$(cpu1_idle)" -gt "$i0" ] || fail "cpu1 did not idle: idle ticks $i0 -> $(cpu1_idle)"
expect_eq "$(cpu1_units)" "$n" "cpu1's idle-loop iterations with the new code after it came online"
expect_eq "$(field pending)" 1 "pending: the holder only"
expect_eq "$(field switched_offline)" 1 "idle tasks switched offline"
echo unhold > $T
wait_for 30 [ ! -e $LG/lg_testpatch_hotplug ]
expect_dmesg "livegraft: 'lg_testpatch_hotplug': unpatching complete"
rmmod lg_testpatch_hotplug
rmmod lg_target
rmmod livegraft
