# The stress set (issue 9, item 4), shared by scenario 64-stress and the
# soak run (tests/vm/soak.sh, tools/soak.sh). Sourced after lib.sh, with
# livegraft and lg_target loaded. Each step checks its own outcome and
# fails the run on any surprise; the counters below add up what was done.

STRESS_CYCLES=0      # enable/disable cycles completed
STRESS_REVERSALS=0   # disables written while the patching transition ran
STRESS_DISABLES=0    # disables written at a random moment
STRESS_STACKED=0     # rounds of two stacked patches
STRESS_FAULTS=0      # loads with an allocation failing (injected)
STRESS_REFUSED=0     # of them, loads refused (and checked clean)

# stress_load_start: load for the whole run: units of every kind (the
# target's kthread and work item, a shell loop), a busy loop on every vCPU
# calling the patched functions, and a loop forking short-lived tasks that
# each run one unit. stress_load_stop stops it all.
stress_load_start() {
	start_units
	_cpus=$(grep -c ^processor /proc/cpuinfo)
	_c=0; STRESS_BUSY=
	while [ $_c -lt $_cpus ]; do
		taskset -c $_c sh -c "while :; do echo wrap > $T; done" &
		STRESS_BUSY="$STRESS_BUSY $!"
		_c=$((_c + 1))
	done
	( while :; do ( echo unit > $T ); done ) &
	STRESS_FORKS=$!
}
stress_load_stop() {
	kill $STRESS_FORKS $STRESS_BUSY
	stop_units
}

# stress_cycle: load lg_testpatch, the patching completes; disable, the
# unpatching completes; unload.
stress_cycle() {
	insmod $MODDIR/lg_testpatch.ko
	wait_transition_done lg_testpatch 60
	disable_patch lg_testpatch
	STRESS_CYCLES=$((STRESS_CYCLES + 1))
}

# stress_random_disable HELD: load lg_testpatch and disable it 0-40 ms
# later. With HELD=1 a kthread asleep in the old lg_target_hold() keeps the
# patching transition open until after the disable, which must then find
# it running and reverse it (on the debug kernel an unheld transition
# usually completes within insmod). The patch is unloaded once the reversal
# or the unpatching is done.
stress_random_disable() {
	[ "$1" = 0 ] || echo hold > $T
	insmod $MODDIR/lg_testpatch.ko
	usleep $(( RANDOM % 40000 ))
	_running=$(cat $LG/lg_testpatch/transition)
	[ "$1" = 0 ] || [ "$_running" = 1 ] ||
		fail "the held patching transition was not running at the disable"
	echo 0 > $LG/lg_testpatch/enabled
	[ "$1" = 0 ] || echo unhold > $T
	wait_for 60 [ ! -e $LG/lg_testpatch ]
	rmmod lg_testpatch
	STRESS_DISABLES=$((STRESS_DISABLES + 1))
	[ "$_running" = 0 ] || STRESS_REVERSALS=$((STRESS_REVERSALS + 1))
}

# stress_stacked_round: two stacked patches; the lower one cannot go first;
# both are disabled in stack order.
stress_stacked_round() {
	insmod $MODDIR/lg_testpatch.ko
	wait_transition_done lg_testpatch 60
	insmod $MODDIR/lg_testpatch2.ko
	wait_transition_done lg_testpatch2 60
	units_advance syscall 3
	expect_fail "rmmod of the lower patch while stacked" rmmod lg_testpatch > /dev/null
	disable_patch lg_testpatch2
	disable_patch lg_testpatch
	STRESS_STACKED=$((STRESS_STACKED + 1))
}

# stress_faulty_load N: insmod lg_testpatch with its Nth allocation failing
# (failslab fail-nth, progs/lg_failnth.c; needs CONFIG_FAILSLAB and
# ignore-gfp-wait=N). Either the load is refused and nothing of it is left,
# or it completed (the allocation had a fallback, or the load made fewer
# than N); then the patch is disabled and unloaded again.
stress_faulty_load() {
	_out=$(lg_failnth $1 insmod $MODDIR/lg_testpatch.ko)
	case $_out in
	injected=0*|*"rc=0 "*)
		wait_transition_done lg_testpatch 60
		expect_eq "$(cat $LG/lg_testpatch/enabled)" 1 "load with allocation $1 failing ($_out)"
		disable_patch lg_testpatch ;;
	*)
		[ ! -e $LG/lg_testpatch ] || fail "a refused load left $LG/lg_testpatch ($_out)"
		! grep -q '^lg_testpatch ' /proc/modules || fail "a refused load left the module ($_out)"
		STRESS_REFUSED=$((STRESS_REFUSED + 1)) ;;
	esac
	case $_out in injected=1*) STRESS_FAULTS=$((STRESS_FAULTS + 1)) ;; esac
}

# stress_every_version: every kind of unit ran every version (original,
# lg_testpatch's, lg_testpatch2's).
stress_every_version() {
	for _k in syscall kthread work; do
		for _v in $*; do
			[ "$(stat $_k v$_v)" -gt 0 ] || fail "no $_k unit ran version $_v"
		done
	done
	ok "every kind of unit ran versions $*"
}

# slab_kb: slab memory in use, after the free lists and KASAN's quarantine
# have been emptied (a write of 1 to a cache's `shrink` frees its objects
# held in the quarantine: kmem_cache_shrink() -> kasan_cache_shrink()), so
# that what remains is what is really allocated.
slab_kb() {
	echo 3 > /proc/sys/vm/drop_caches
	for _s in /sys/kernel/slab/*/shrink; do echo 1 > $_s 2>/dev/null || :; done
	sed -n 's/^Slab: *\([0-9]*\) kB/\1/p' /proc/meminfo
}

# stress_core_cycles N MAX_KB: with lg_target unloaded, N insmod/rmmod
# cycles of the core; the slab usage after them may exceed that before by
# at most MAX_KB (the growth is in STRESS_SLAB_GROWTH).
stress_core_cycles() {
	rmmod livegraft
	insmod $MODDIR/livegraft.ko
	rmmod livegraft
	_before=$(slab_kb)
	_i=0
	while [ $_i -lt $1 ]; do
		insmod $MODDIR/livegraft.ko
		rmmod livegraft
		_i=$((_i + 1))
	done
	_after=$(slab_kb)
	STRESS_SLAB_GROWTH=$((_after - _before))
	echo "slab: $_before kB before $1 core load/unload cycles, $_after kB after"
	[ $STRESS_SLAB_GROWTH -le $2 ] || fail "slab usage grew by $STRESS_SLAB_GROWTH kB over $1 core cycles"
}
