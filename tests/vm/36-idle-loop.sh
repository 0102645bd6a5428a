# Idle tasks switch only where their whole stack is known and clean: in
# their own loop (arch_cpu_idle_enter, with a stack check) or, on a busy
# CPU, parked in schedule_idle() and checked from the IPI on their CPU.
# Part 1: the test patch replaces do_idle() (X) and arch_cpu_idle_exit() (Y,
# called by do_idle() after the CPU slept) and counts the new Y run by an
# old X: power:cpu_idle fires inside do_idle(), mid-iteration, so an idle
# task switched there ran the new Y inside the old X. Every idle task has
# the old do_idle() on its stack, so none may switch: the transition waits
# for them until it is reversed.
# Part 2: only Y is patched and unpatched while every CPU is busy: the idle
# tasks never run, yet switch (parked) both ways; idle loops run the new Y
# once the CPUs idle again.
# timeout: 300
. ./lib.sh
P=/sys/module/lg_testpatch_idle/parameters
ncpu=$(ls -d /sys/devices/system/cpu/cpu[0-9]* | wc -l)
insmod $MODDIR/livegraft.ko
insmod $MODDIR/lg_testpatch_idle.ko
sleep 3
cat $LG/lg_testpatch_idle/summary
expect_eq "$(cat $P/mixed)" 0 "new Y calls from the old X"
expect_eq "$(cat $LG/lg_testpatch_idle/transition)" 1 "transition held by the idle tasks"
expect_eq "$(sed -n 's/^pending: //p' $LG/lg_testpatch_idle/summary)" "$ncpu" "pending tasks (one idle task per CPU)"
echo 0 > $LG/lg_testpatch_idle/enabled
wait_for 30 [ ! -e $LG/lg_testpatch_idle ]
expect_dmesg "livegraft: 'lg_testpatch_idle': unpatching complete"
expect_eq "$(cat $P/mixed)" 0 "new Y calls from the old X after the reversal"
rmmod lg_testpatch_idle

# Two user-space spinners bound to each CPU: no runqueue ever empties (free
# spinners were seen all on one CPU for a while, the other one idling).
start_spinners() {
	spinners=
	for cpu in $(seq 0 $((ncpu - 1))) $(seq 0 $((ncpu - 1))); do
		taskset -c $cpu sh -c 'while :; do :; done' &
		spinners="$spinners $!"
	done
	sleep 2
}
start_spinners
insmod $MODDIR/lg_testpatch_idle.ko patch_do_idle=0
wait_transition_done lg_testpatch_idle 60
expect_dmesg "livegraft: 'lg_testpatch_idle': patching complete"
dmesg | grep "livegraft-stats: .*switched in" | tail -n 1
expect_eq "$(cat $P/units)" 0 "idle-loop iterations while every CPU was busy"
kill $spinners
wait_for 10 sh -c "[ \$(cat $P/units) -gt 0 ]"
ok "idle loops run the new arch_cpu_idle_exit"
start_spinners
u=$(cat $P/units)
echo 0 > $LG/lg_testpatch_idle/enabled
wait_for 60 [ ! -e $LG/lg_testpatch_idle ]
expect_eq "$(dmesg | grep -c "'lg_testpatch_idle': unpatching complete")" 2 "unpatching completions"
expect_eq "$(cat $P/units)" "$u" "idle-loop iterations while every CPU was busy"
kill $spinners
expect_eq "$(cat $P/mixed)" 0 "new Y calls from the old X"
rmmod lg_testpatch_idle
rmmod livegraft
