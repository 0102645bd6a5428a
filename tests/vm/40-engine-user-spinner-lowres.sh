# Scenario 18 without high-resolution timers: with highres=off the tick is
# tick_handle_periodic(), hrtimer_interrupt() never runs, and an IPI records
# no interrupted registers, so a task spinning in user space that never makes
# a syscall must switch on its way back to user mode (the user_return safe
# point: a task_work the transition work queues for it when it finds it on a
# CPU, run when the IPI or the tick returns to user mode), or by a stack
# check when a pass finds it preempted (runnable, pinned by task_call_func()).
# Both transitions complete. Then with one spinner bound to each CPU and
# nothing else busy, the other CPU's spinner is mostly on its CPU while the
# transition work runs: within five rounds a transition switches one at
# user_return.
# cmdline: highres=off
# timeout: 180
. ./lib.sh
expect_no_dmesg "Switched to high resolution mode"
load_core_and_target
lg_spawn 40 > /tmp/spawn.out &
spawner=$!
wait_for 60 grep -q ready /tmp/spawn.out
patch_and_unpatch() {
	insmod $MODDIR/lg_testpatch.ko
	wait_transition_done lg_testpatch 30
	expect_dmesg "livegraft: 'lg_testpatch': patching complete"
	echo 0 > $LG/lg_testpatch/enabled
	wait_for 30 [ ! -e $LG/lg_testpatch ]
	expect_dmesg "livegraft: 'lg_testpatch': unpatching complete"
	rmmod lg_testpatch
}
patch_and_unpatch
kill $spawner
wait $spawner 2>/dev/null || true

# Only one spinner per CPU now: while the transition work runs on one CPU,
# the other CPU's spinner is on its CPU, and only user_return switches it.
# Whether a pass finds a spinner on its CPU or preempted is timing: up to
# five rounds until one transition switched a task at user_return.
taskset -c 0 sh -c 'while :; do :; done' &
spin0=$!
taskset -c 1 sh -c 'while :; do :; done' &
spin1=$!
user_returns() { dmesg | grep -Ec "livegraft-stats: .*switched in [0-9]+ ms:.* user_return=[0-9]+"; }
round=0
while [ "$(user_returns)" = 0 ] && [ $round -lt 5 ]; do
	patch_and_unpatch
	round=$((round + 1))
done
dmesg | grep "livegraft-stats: .*switched in"
n=$(user_returns)
[ "$n" -ge 1 ] || fail "no task switched at user_return in $round rounds"
ok "tasks switched at user_return in $n transitions"
kill $spin0 $spin1
rmmod lg_target
rmmod livegraft
