# The soak run (issue 9, item 7): not part of the test command; run it with
# tools/soak.sh --minutes N, which passes lg.soak=N. The stress set of
# stress-lib.sh, in rounds, under load for the whole run, until N minutes
# have passed. A round: two enable/disable cycles, two disables at a random
# moment (one of them reversing a held patching transition), one round of
# stacked patches and, where the kernel has failslab (the debug flavour),
# two loads with a random one of their allocations failing. After every
# round, no unit of work may have mixed versions. At the end: every kind of
# unit ran every version, kmemleak finds nothing of livegraft's, and 100
# core load/unload cycles leave slab usage within 256 kB.
# Prints one "SOAK key=value ..." line of figures, which tools/soak.sh turns
# into a table: what was done, and the checker reports (mixed units; any
# kernel report fails the run in tools/vm.sh).
# injected-faults: yes
. ./lib.sh
. ./stress-lib.sh
minutes=$(sed -n 's/.*lg\.soak=\([0-9]*\).*/\1/p' /proc/cmdline)
minutes=${minutes:-10}
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || :
FS=/sys/kernel/debug/failslab
faults=0
if [ -d $FS ]; then
	faults=1
	echo N > $FS/ignore-gfp-wait
	echo 0 > $FS/verbose
fi
load_core_and_target
total=0
if [ $faults = 1 ]; then
	total=$(lg_failnth 1000000 insmod $MODDIR/lg_testpatch.ko | sed -n 's/.*allocations=//p')
	[ -n "$total" ] || fail "could not count the allocations of a load"
	wait_transition_done lg_testpatch 60
	disable_patch lg_testpatch
fi
dmesg -c > /dev/null
stress_load_start

transitions=0; switched=0
# account: count the transitions that completed since the last call and the
# tasks they switched, from the livegraft-stats lines ("... transition:
# setup N us, switched in N ms: syscall=N kthread=N ...").
account() {
	dmesg -c | sed -n 's/.*livegraft-stats: .*transition: setup .*switched in [0-9]* ms: *//p' > /tmp/soak.stats
	transitions=$((transitions + $(wc -l < /tmp/soak.stats)))
	_s=$(tr ' ' '\n' < /tmp/soak.stats | sed -n 's/^[a-z_]*=\([0-9]*\)$/\1/p' | paste -sd+ | bc)
	switched=$((switched + ${_s:-0}))
}
mixed_now() { sed -n 's/.* mixed=\([0-9]*\).*/\1/p' $T | paste -sd+ | bc; }

start=$(cut -d. -f1 /proc/uptime)
end=$((start + minutes * 60))
rounds=0
while [ "$(cut -d. -f1 /proc/uptime)" -lt $end ]; do
	stress_cycle
	stress_cycle
	stress_random_disable 0
	stress_random_disable 1
	stress_stacked_round
	if [ $faults = 1 ]; then
		stress_faulty_load $((1 + RANDOM % total))
		stress_faulty_load $((1 + RANDOM % total))
	fi
	account
	rounds=$((rounds + 1))
	m=$(mixed_now)
	[ "$m" = 0 ] || { cat $T; fail "round $rounds: $m units mixed old and new code"; }
	echo "soak: round $rounds done at $(( $(cut -d. -f1 /proc/uptime) - start )) s: $transitions transitions"
done
elapsed=$(( $(cut -d. -f1 /proc/uptime) - start ))
stress_load_stop
units=$(sed -n 's/.* units=\([0-9]*\).*/\1/p' $T | paste -sd+ | bc)
mixed=$(mixed_now)
stress_every_version 1 2 3
expect_no_kmemleak
rmmod lg_target
stress_core_cycles 100 256
echo "SOAK flavour=$(sed -n 's/.*lg\.flavour=\([a-z]*\).*/\1/p' /proc/cmdline) seconds=$elapsed rounds=$rounds transitions=$transitions tasks_switched=$switched cycles=$STRESS_CYCLES disables=$STRESS_DISABLES reversals=$STRESS_REVERSALS stacked=$STRESS_STACKED faults_injected=$STRESS_FAULTS loads_refused=$STRESS_REFUSED units=$units mixed=$mixed slab_growth_kb=$STRESS_SLAB_GROWTH"
ok "soak: $rounds rounds in $elapsed s, no unit mixed versions"
