# Reversal: a kthread sleeping uninterruptibly in a patched function holds
# the patching transition open; pending_tasks names it; writing 0 reverses
# the transition, which completes as an unpatching (the holder never left
# the old universe), and the patch module can be removed.
# timeout: 180
. ./lib.sh
insmod $MODDIR/livegraft.ko report_after_ms=3000
insmod $MODDIR/lg_target.ko
expect_eq "$(cat /sys/module/livegraft/parameters/report_after_ms)" 3000 "report_after_ms parameter"
expect_eq "$(cat /sys/module/livegraft/parameters/nudge_after_ms)" 500 "nudge_after_ms default"
echo hold > $T
( while :; do echo unit > $T; done ) &
loop=$!
insmod $MODDIR/lg_testpatch.ko
sleep 2
expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "transition held open"
cat $LG/lg_testpatch/pending_tasks
grep -q "lg_target_hold sleeping-on lg_target_hold+0x" $LG/lg_testpatch/pending_tasks \
	|| fail "pending_tasks does not name the holder: $(cat $LG/lg_testpatch/pending_tasks)"
ok "pending_tasks names the holding kthread"
cat $LG/lg_testpatch/summary
grep -q "^pending: 1$" $LG/lg_testpatch/summary || fail "summary: $(cat $LG/lg_testpatch/summary)"
for kind in syscall idle stack_check; do
	n=$(sed -n "s/^switched_$kind: //p" $LG/lg_testpatch/summary)
	[ "${n:-0}" -ge 1 ] || fail "no task switched at the $kind safe point"
done
ok "tasks switched at syscall exit, idle entry and by stack check"
expect_fail "rmmod during the transition" rmmod lg_testpatch
expect_eq "$(cat $LG/lg_testpatch/lg_target/patched)" 1 "object patched during the transition"
# After report_after_ms the stalled task is reported in dmesg, with the function.
wait_for 15 sh -c "dmesg | grep -q \"livegraft-stats: pending: lg_target_hold:[0-9]* is sleeping on function lg_target_hold+0x\""
ok "dmesg reports the stalled task and the function it sleeps on"
expect_dmesg "livegraft-stats: signaling remaining tasks"

echo 0 > $LG/lg_testpatch/enabled
expect_dmesg "livegraft: 'lg_testpatch': reversing transition from patching to unpatching"
wait_for 30 [ ! -e $LG/lg_testpatch ]
expect_dmesg "livegraft: 'lg_testpatch': unpatching complete"
kill $loop
expect_no_mixed
before=$(stat syscall v1)
echo unit > $T
[ "$(stat syscall v1)" -gt "$before" ] || fail "old code does not run after the reversal"
rmmod lg_testpatch
echo unhold > $T
rmmod lg_target
rmmod livegraft
