# CPU hotplug during a transition, the idle side (issue 9 item 3). The test
# patch replaces do_idle() (X) and arch_cpu_idle_exit() (Y): every online
# CPU's idle task has the old X on its stack and cannot switch, so only
# hotplug can move cpu1's. As upstream, the idle task of an offline CPU is
# switched at once (an x86 CPU brought back online restarts its idle task on
# a fresh stack, so the abandoned one is never resumed):
#  - patching: cpu1 goes offline with its idle task pending; it switches and
#    the pending count drops to cpu0's idle task alone (before the fix it
#    stayed pending forever);
#  - cpu1 comes back mid-transition: its fresh idle task runs the new X with
#    the new Y inside (no mixed iteration);
#  - unpatching (reversal): cpu1's idle task now has the new X on its stack
#    and cannot switch back; taking cpu1 offline switches it and the
#    transition completes.
# timeout: 240
. ./lib.sh
P=/sys/module/lg_testpatch_idle/parameters
C1=/sys/devices/system/cpu/cpu1/online
S=$LG/lg_testpatch_idle/summary
field() { sed -n "s/^$1: //p" $S; }
pending_is() { [ "$(sed -n 's/^pending: //p' $S)" = "$1" ]; }
[ -e $C1 ] || fail "cpu1 cannot be taken offline (no $C1)"
insmod $MODDIR/livegraft.ko
insmod $MODDIR/lg_testpatch_idle.ko
sleep 2
cat $S
expect_eq "$(field pending)" 2 "pending: both idle tasks (the old do_idle on their stacks)"

echo 0 > $C1
expect_eq "$(cat $C1)" 0 "cpu1 online"
wait_for 20 pending_is 1
ok "cpu1's idle task switched while cpu1 is offline"
cat $S
expect_eq "$(field switched_offline)" 1 "idle tasks switched offline"
expect_eq "$(cat $LG/lg_testpatch_idle/transition)" 1 "transition still held by cpu0's idle task"

u=$(cat $P/units)
echo 1 > $C1
wait_for 20 sh -c "[ \$(cat $P/units) -gt $u ]"
ok "cpu1's fresh idle task runs the new arch_cpu_idle_exit"
expect_eq "$(cat $P/mixed)" 0 "new Y calls from the old X"
sleep 1
expect_eq "$(field pending)" 1 "pending: cpu0's idle task only"

echo 0 > $LG/lg_testpatch_idle/enabled
expect_dmesg "livegraft: 'lg_testpatch_idle': reversing transition from patching to unpatching"
sleep 2
cat $S
expect_eq "$(cat $LG/lg_testpatch_idle/transition)" 1 "unpatching held by cpu1's idle task (the new do_idle on its stack)"
expect_eq "$(field pending)" 1 "pending: cpu1's idle task"
echo 0 > $C1
wait_for 30 [ ! -e $LG/lg_testpatch_idle ]
expect_dmesg "livegraft: 'lg_testpatch_idle': unpatching complete"
dmesg | grep "livegraft-stats: .*switched in" | tail -n 1
dmesg | grep "livegraft-stats: .*switched in" | tail -n 1 | grep -q "^.*unpatching transition: .* offline=2" \
	|| fail "the last (unpatching) transition did not switch 2 offline idle tasks"
echo 1 > $C1
expect_eq "$(cat $C1)" 1 "cpu1 online"
u=$(cat $P/units)
sleep 1
expect_eq "$(cat $P/units)" "$u" "idle-loop iterations running the new Y after unpatching"
expect_eq "$(cat $P/mixed)" 0 "new Y calls from the old X"
rmmod lg_testpatch_idle
rmmod livegraft
