# Fault injection (issue 9, item 5): every allocation of livegraft's enable,
# disable and fork-tracking paths fails in turn (failslab with fail-nth, see
# progs/lg_failnth.c). After each failure the system is exactly as before
# the operation (no patch directory, no module reference, nothing left
# attached to ftrace, units run the version they ran before), or, when the
# operation succeeded anyway, completely done; never half-applied, and the
# console shows no oops, WARN, KASAN or lockdep report. A kmemleak scan at
# the end finds nothing of livegraft's.
# Phases:
#  1. insmod lg_testpatch with its Nth allocation failing, for every N
#     that livegraft_enable_patch() makes (itself, or ftrace and sysfs for
#     it), found by bisection over all the load's allocations;
#  2. the same for the write of 0 to `enabled`, and for the transition
#     worker's Nth allocation during the unpatching transition;
#  3. fork with its Nth allocation failing while a transition is held open:
#     a child that exists is tracked and its unit runs one version.
# Profiles ("# long: yes", tools/vm.sh): LIVEGRAFT_LONG=1 (lg.long=1) fails
# every allocation of phases 1 and 3 in turn; the test command's short
# profile fails about 30 of phase 1 and every 8th of phase 3, at a stride
# from a random start (printed), and all of phase 2.
# long: yes
# requires: CONFIG_FAILSLAB
# injected-faults: yes
# timeout: 1500
. ./lib.sh
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || :
FS=/sys/kernel/debug/failslab
[ -d $FS ] || fail "no $FS"
# GFP_KERNEL allocations too (failslab skips sleeping ones by default); one
# line per injected fault, no stack dump.
echo N > $FS/ignore-gfp-wait
echo 1 > $FS/verbose
load_core_and_target
P=$LG/lg_testpatch
TRACING=/sys/kernel/debug/tracing
base_refs=$(cat /sys/module/livegraft/refcnt)

# unit_runs V: one syscall unit runs version V.
unit_runs() {
	_b=$(stat syscall v$1)
	echo unit > $T
	[ "$(stat syscall v$1)" -gt "$_b" ]
}

# as_before WHAT: the state before the patch was loaded.
as_before() {
	[ ! -e $P ] || fail "$1: $P exists"
	! grep -q '^lg_testpatch ' /proc/modules || fail "$1: lg_testpatch is loaded"
	[ "$(cat /sys/module/livegraft/refcnt)" = "$base_refs" ] ||
		fail "$1: livegraft refcnt $(cat /sys/module/livegraft/refcnt), was $base_refs"
	! grep -q 'lg_target' $TRACING/enabled_functions ||
		fail "$1: still attached to ftrace: $(grep lg_target $TRACING/enabled_functions)"
	unit_runs 1 || fail "$1: units do not run the original"
}

# patched WHAT: the patch is fully applied.
patched() {
	wait_transition_done lg_testpatch 60
	expect_eq "$(cat $P/enabled)" 1 "$1: enabled"
	unit_runs 2 || fail "$1: units do not run the replacement"
}

# --- 1. enable ---
# load_failing N: insmod with its Nth allocation failing; checks the state
# after it (as before, or completely patched and then unpatched again).
# Sets under_init (the failed allocation was made under do_init_module(),
# i.e. by the patch module's init or after it) and under_lg (livegraft's
# code was on its stack: livegraft_enable_patch() and what it calls, ftrace
# and sysfs included), from the fault's stack dump (failslab verbose=2);
# located=0 if there is none: failslab prints nothing for an allocation
# with __GFP_NOWARN, a caller that copes with the failure.
# probe N: load_failing N, N+1, ... up to the first located fault (or the
# end of the load); sets probed to that N.
probe() {
	probed=$1
	while :; do
		load_failing $probed
		[ $located = 0 ] && [ "${out#injected=1}" != "$out" ] || return 0
		probed=$((probed + 1))
	done
}
load_failing() {
	dmesg -c > /dev/null
	out=$(lg_failnth $1 insmod $MODDIR/lg_testpatch.ko)
	case $out in
	injected=0*)
		patched "load without a fault"
		disable_patch lg_testpatch ;;
	*"rc=0 "*)
		# The failed allocation had a fallback: the load is complete.
		patched "load with allocation $1 failing"
		disable_patch lg_testpatch ;;
	*)
		as_before "load with allocation $1 failing ($out)"
		refused=$((refused + 1)) ;;
	esac
	under_init=0; under_lg=0; located=0
	dmesg | grep -q 'forcing a failure' && located=1
	dmesg | grep -q 'do_init_module' && under_init=1
	dmesg | grep -q '\[livegraft\]' && under_lg=1
	:
}
echo 2 > $FS/verbose
refused=0
total=$(lg_failnth 1000000 insmod $MODDIR/lg_testpatch.ko | sed -n 's/.*allocations=//p')
[ -n "$total" ] || fail "could not count the allocations of a load"
patched "a counting load"
disable_patch lg_testpatch
# The module loader's allocations come first (load_module()), then those
# of the init, livegraft_enable_patch(), then the loader's again (uevents):
# the Nth failing is under do_init_module() from some N on, and under
# livegraft's code up to some later N. Find both ends by bisection, then
# fail each allocation in between in turn.
# Silent faults (no stack) are located by the next located one: the ends
# err towards a larger range (the first bound), or miss at most silent
# ones just before the first allocation after livegraft's (the second).
lo=1; hi=$total
while [ $lo -lt $hi ]; do
	mid=$(( (lo + hi) / 2 ))
	probe $mid
	if [ $under_init = 1 ]; then hi=$mid; else lo=$((probed + 1)); fi
done
first=$lo
lo=$first; hi=$((total + 1))
while [ $lo -lt $hi ]; do
	mid=$(( (lo + hi) / 2 ))
	probe $mid
	if [ $under_lg = 1 ]; then lo=$((probed + 1)); else hi=$mid; fi
done
last=$((lo - 1))
[ $last -ge $first ] || fail "no allocation of livegraft's found in a load ($first..$total)"
# (The range may start with do_init_module()'s own allocations before the
# init runs: failed too, and checked the same way.)
refused=0; ours=0; tried=0
step=1
grep -q 'lg\.long=1' /proc/cmdline || step=$(( (last - first) / 30 + 1 ))
n=$((first + RANDOM % step))
echo "enable: failing allocations $n, $((n + step)), ... up to $last"
while [ $n -le $last ]; do
	load_failing $n
	[ $under_lg = 0 ] || ours=$((ours + 1))
	tried=$((tried + 1))
	n=$((n + step))
done
[ $ours -gt 0 ] || fail "no fault of $first..$last was located under livegraft's code"
echo 1 > $FS/verbose
ok "enable: a load makes $total allocations, $first to $last around livegraft_enable_patch(); $tried of them (stride $step) failed in turn, $ours located under it: $refused loads refused cleanly, the others completed"

# --- 2. disable: the writer, then the transition worker ---
insmod $MODDIR/lg_testpatch.ko
patched "reload"
n=1; failed=0
while :; do
	out=$(lg_failnth $n write $P/enabled 0)
	case $out in
	injected=0*) break ;;
	*"rc=1 "*)
		wait_for 60 [ ! -e $P ]
		rmmod lg_testpatch
		as_before "disable with allocation $n failing (it completed)"
		insmod $MODDIR/lg_testpatch.ko
		patched "reload" ;;
	*)
		[ "$(cat $P/transition)" = 0 ] || fail "a refused disable left a transition: $out"
		patched "disable with allocation $n failing ($out)"
		failed=$((failed + 1)) ;;
	esac
	n=$((n + 1))
	[ $n -le 500 ] || fail "the write makes more than 500 allocations?"
done
wait_for 60 [ ! -e $P ]
rmmod lg_testpatch
as_before "disable without a fault"
ok "disable (writer): $((n - 1)) allocations failed in turn, $failed writes refused cleanly"

worker=
for comm in /proc/[0-9]*/comm; do
	[ "$(cat $comm 2>/dev/null)" = livegraft ] || continue
	worker=${comm#/proc/}; worker=${worker%/comm}
done
[ -n "$worker" ] || fail "no livegraft worker thread"
n=1
while :; do
	insmod $MODDIR/lg_testpatch.ko
	patched "reload"
	echo $n > /proc/$worker/fail-nth
	echo 0 > $P/enabled
	# The unpatching either completes or, if the failure made it give up,
	# leaves the patch enabled and idle: never stuck half-way.
	wait_for 60 sh -c "[ ! -e $P ] || [ \"\$(cat $P/transition)\" = 0 ]"
	left=$(cat /proc/$worker/fail-nth)
	echo 0 > /proc/$worker/fail-nth
	if [ -e $P ]; then
		patched "unpatching with the worker's allocation $n failing"
		disable_patch lg_testpatch
	else
		rmmod lg_testpatch
	fi
	as_before "unpatching with the worker's allocation $n failing"
	[ "$left" = 0 ] || break
	n=$((n + 1))
	[ $n -le 500 ] || fail "the worker makes more than 500 allocations per unpatching?"
done
ok "disable (worker): $((n - 1)) allocations failed in turn, each unpatching ended consistent"

# --- 3. fork tracking during a held transition ---
echo hold > $T
insmod $MODDIR/lg_testpatch.ko
step=1
grep -q 'lg\.long=1' /proc/cmdline || step=8
n=$((1 + RANDOM % step)); forked=0; refused=0; tried=0
while :; do
	out=$(lg_failnth $n forkunit $T)
	case $out in
	injected=0*) break ;;
	*"rc=0 "*) forked=$((forked + 1)) ;;
	*) refused=$((refused + 1)) ;;
	esac
	tried=$((tried + 1))
	n=$((n + step))
	[ $n -le 2000 ] || fail "fork makes more than 2000 allocations?"
done
expect_eq "$(cat $P/transition)" 1 "the transition is still held"
echo unhold > $T
wait_transition_done lg_testpatch 60
expect_no_mixed
ok "fork: $tried allocations (stride $step) failed in turn: $refused forks refused, $forked children ran one version"
disable_patch lg_testpatch
as_before "the end"

# --- kmemleak ---
expect_no_kmemleak
rmmod lg_target
rmmod livegraft
