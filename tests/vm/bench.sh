# The benchmark run (tools/bench.sh; not part of the test suite). Prints
# "BENCH <key> <value>" lines; tools/bench.sh turns them into the table.
# Configurations are interleaved within this one boot.
# timeout: 3000
. ./lib.sh
B=/proc/lg_bench
KLP=/sys/kernel/livepatch/lg_bench_klp
LGP=$LG/lg_bench_lg
CALLS=${CALLS:-200000}
dmesg -n 1
# Early in boot the TSC is not yet calibrated (tsc-early); time nothing before
# the kernel has switched to its final clocksource.
wait_for 60 sh -c '[ "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)" != tsc-early ]'
echo "BENCH clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
insmod $MODDIR/livegraft.ko
insmod $MODDIR/lg_bench.ko

percall() {   # percall CONFIG EXPECTED_RESULT: 3 samples of CALLS calls
	for _r in 1 2 3; do
		echo "run $CALLS" > $B
		_l=$(cat $B)
		case "$_l" in *"result=$2") ;; *) fail "$1: wrong version ran: $_l" ;; esac
		echo "BENCH percall.$1 $(echo "$_l" | awk -F'[ =]' '{ printf "%.2f", $4 / $2 }')"
	done
	echo "BENCH getpid.$1 $(lg_syscall_bench 20000)"
}
klp_on()  { insmod $MODDIR/lg_bench_klp.ko; wait_for 120 file_is $KLP/transition 0; }
klp_off() { echo 0 > $KLP/enabled; wait_for 120 [ ! -e $KLP ]; rmmod lg_bench_klp; }
lg_on()   { insmod $MODDIR/lg_bench_lg.ko; wait_for 120 file_is $LGP/transition 0; }
lg_off()  { echo 0 > $LGP/enabled; wait_for 120 [ ! -e $LGP ]; rmmod lg_bench_lg; }
FAST=/sys/module/livegraft/parameters/fast_path
# Both patched functions on the fast path (the per-task hooks are retired
# before, in the same run of the transition work).
lg_fast() { [ "$(sed -n 's/^fast_path: //p' $LGP/summary)" = 2 ]; }

for cycle in 1 2 3; do
	percall unpatched 1
	klp_on; percall klp_done 2; klp_off
	lg_on; wait_for 120 lg_fast; percall lg_done 2; lg_off
	# The same without the fast path: the per-task decision after completion.
	echo 0 > $FAST
	lg_on; sleep 2; lg_fast && fail "fast path despite fast_path=0"
	percall lg_handler 2; lg_off
	echo 1 > $FAST
	echo hold > $B
	insmod $MODDIR/lg_bench_klp.ko
	sleep 1
	file_is $KLP/transition 1 || fail "upstream transition not held open"
	percall klp_transition 2
	echo unhold > $B
	wait_for 120 file_is $KLP/transition 0
	klp_off
	echo hold > $B
	insmod $MODDIR/lg_bench_lg.ko
	sleep 1
	file_is $LGP/transition 1 || fail "livegraft transition not held open"
	percall lg_transition 2
	echo "BENCH memory.lg_table_bytes $(sed -n 's/^table_bytes: //p' $LGP/summary)"
	echo "BENCH memory.lg_tracked_tasks $(sed -n 's/^tracked: //p' $LGP/summary)"
	echo unhold > $B
	wait_for 120 file_is $LGP/transition 0
	lg_off
done

# User-visible: read /proc/cmdline with each system's sample patch.
for cycle in 1 2 3; do
	echo "BENCH readcmdline.unpatched $(lg_syscall_bench 3000 /proc/cmdline)"
	insmod $MODDIR/livepatch-sample.ko
	wait_for 120 file_is /sys/kernel/livepatch/livepatch_sample/transition 0
	echo "BENCH readcmdline.klp_done $(lg_syscall_bench 3000 /proc/cmdline)"
	echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled
	wait_for 120 [ ! -e /sys/kernel/livepatch/livepatch_sample ]
	rmmod livepatch_sample
	insmod $MODDIR/livegraft_cmdline.ko
	wait_transition_done livegraft_cmdline 120
	echo "BENCH readcmdline.lg_done $(lg_syscall_bench 3000 /proc/cmdline)"
	echo 0 > $LG/livegraft_cmdline/enabled
	wait_for 120 [ ! -e $LG/livegraft_cmdline ]
	rmmod livegraft_cmdline
done

# Transition latency with N tasks in mixed states.
# time_patch KEY MODULE DIR: time loading MODULE until its transition (DIR)
# completes, then disabling it until DIR is gone; unload it.
time_patch() {
	t=$(lg_transition_time enable $MODDIR/$2.ko $3) || fail "$1 enable timing"
	echo "BENCH latency.$1.enable.$n $t"
	t=$(lg_transition_time disable $3) || fail "$1 disable timing"
	echo "BENCH latency.$1.disable.$n $t"
	rmmod $2
}
for n in ${SIZES:-10 100 1000}; do
	lg_spawn $n > /tmp/spawn.out &
	spawner=$!
	wait_for 300 grep -q ready /tmp/spawn.out
	sleep 1
	for cycle in 1 2 3; do
		# The floor: loading a module that patches nothing.
		t=$(lg_transition_time load $MODDIR/lg_bench_nop.ko) || fail "nop load timing"
		echo "BENCH latency.nop.load.$n $t"
		rmmod lg_bench_nop
		time_patch klp lg_bench_klp $KLP
		time_patch lg lg_bench_lg $LGP
		# The same with the optional stop_machine sweep.
		echo 1 > /sys/module/livegraft/parameters/sweep
		time_patch lgsweep lg_bench_lg $LGP
		echo 0 > /sys/module/livegraft/parameters/sweep
	done
	kill $spawner
	wait $spawner 2>/dev/null || true
	sleep 1
done

# The transitions' own timeline (setup, switching, teardown) for the record.
dmesg | grep -E "livegraft: '|livegraft: sweep|livegraft-stats: |livepatch: '" | sed 's/^/BENCHLOG /'
echo "BENCH done 1"
