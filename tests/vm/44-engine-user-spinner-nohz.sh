# A user task spinning alone on a nohz_full CPU: the CPU's tick is stopped
# but for the residual 1 Hz one, and the task makes no syscall. Both
# transitions complete: it switches on its way back to user mode from the
# transition's IPI (user_return), or by a stack check when a pass finds it
# preempted (which of the two is timing, so not asserted). (The engine before the
# user_return safe point got it through that residual tick's
# hrtimer_interrupt: 3.8 s for patching on the debug flavour.)
# cmdline: nohz_full=1
# requires: CONFIG_NO_HZ_FULL
# timeout: 180
. ./lib.sh
grep -q 'nohz_full=1' /proc/cmdline || fail "no nohz_full on the command line"
load_core_and_target
taskset -c 1 sh -c 'while :; do :; done' &
spin=$!
sleep 2
for dir in patching unpatching; do
	dmesg -c > /dev/null
	if [ $dir = patching ]; then
		insmod $MODDIR/lg_testpatch.ko
		wait_transition_done lg_testpatch 60
	else
		echo 0 > $LG/lg_testpatch/enabled
		wait_for 60 [ ! -e $LG/lg_testpatch ]
	fi
	expect_dmesg "livegraft: 'lg_testpatch': $dir complete"
	dmesg | grep "livegraft-stats: .*switched in"
done
kill $spin
rmmod lg_testpatch
rmmod lg_target
rmmod livegraft
