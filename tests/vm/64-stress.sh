# Stress on the debug flavour (issue 9, item 4), bounded: it stops by itself.
# Three profiles ("# long: yes", tools/vm.sh): the test command runs the
# short one (lg.long=0), LIVEGRAFT_LONG=1 a fifth of the counts
# (lg.long=1), and LIVEGRAFT_VM_CMDLINE=lg.stress=full all of them (about an
# hour under KASAN and TCG on the 2-core machine).
# Load for the whole run (stress-lib.sh): the target's kthread and work
# item and a shell loop run units of work (lg_target records which version
# ran per unit and counts units that mixed), a busy loop on every vCPU calls
# the patched functions, and a fork/exit loop creates short-lived tasks that
# each run a unit. Under that load:
#  1. enable/disable cycles of lg_testpatch (load, patching completes,
#     unpatching completes, unload): 200 (full), 40 (long), 8 (short);
#  2. disables at a random moment (0-40 ms after the load), every other one
#     while a kthread asleep in the old lg_target_hold() holds the patching
#     transition open, so that it must reverse it: 100, 20, 8;
#  3. two stacked patches toggled in the allowed order: 30, 6, 2;
#  4. insmod/rmmod cycles of the core itself with no growth in slab usage
#     (Slab of /proc/meminfo after emptying KASAN's quarantine, within
#     256 kB): 100, 20, 5.
# A kmemleak scan after 1-3, with livegraft loaded, finds nothing allocated
# by livegraft or its test modules.
# Then no unit mixed versions, and every kind of unit ran every version.
# long: yes
# (The timeout, doubled on the debug flavour, is for lg.stress=full: about
# an hour under load; the short profile takes 5 minutes.)
# requires: CONFIG_KASAN
# timeout: 2700
. ./lib.sh
. ./stress-lib.sh
if grep -q 'lg\.stress=full' /proc/cmdline; then
	CYCLES=200 REVERSALS=100 STACKED=30 CORE=100
elif grep -q 'lg\.long=1' /proc/cmdline; then
	CYCLES=40 REVERSALS=20 STACKED=6 CORE=20
else
	CYCLES=8 REVERSALS=8 STACKED=2 CORE=5
fi
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || :
load_core_and_target
stress_load_start

i=0
while [ $i -lt $CYCLES ]; do stress_cycle; i=$((i + 1)); done
ok "$STRESS_CYCLES enable/disable cycles under load"

i=0
while [ $i -lt $REVERSALS ]; do stress_random_disable $((i % 2)); i=$((i + 1)); done
# Every held one reversed (stress_random_disable checks it), unheld ones
# may have too.
[ $STRESS_REVERSALS -ge $((REVERSALS / 2)) ] ||
	fail "only $STRESS_REVERSALS of $REVERSALS disables reversed a running transition"
ok "$STRESS_DISABLES disables at random moments, $STRESS_REVERSALS of them reversing a running patching transition"

i=0
while [ $i -lt $STACKED ]; do stress_stacked_round; i=$((i + 1)); done
ok "$STRESS_STACKED rounds of two stacked patches"

stress_load_stop
stress_every_version 1 2 3
# kmemleak while livegraft is loaded, so that its frames in an unreferenced
# object's allocation backtrace have names.
expect_no_kmemleak

rmmod lg_target
stress_core_cycles $CORE 256
ok "slab usage after $CORE core cycles: $STRESS_SLAB_GROWTH kB more"
