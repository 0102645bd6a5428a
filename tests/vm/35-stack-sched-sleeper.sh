# A task asleep inside a patched scheduler function is not clean. The patch
# replaces schedule_hrtimeout_range_clock() (.sched.text), which poll()
# sleeps in; the stack check must find the old function on the poller's
# stack and leave it pending while it sleeps there (stack_trace_save_tsk()
# leaves .sched.text frames out, so it used to be switched by stack check).
# Nudges are held back until the check was seen to hold; then the nudge
# restarts the poll() through syscall exit, where the poller switches; the
# restarted call sleeps in the new version.
# timeout: 180
. ./lib.sh
insmod $MODDIR/livegraft.ko nudge_after_ms=3600000 report_after_ms=3600000
lg_poll 600 > /tmp/poll.out &
poller=$!
wait_for 10 grep -q polling /tmp/poll.out
sleep 1
grep -q "^State:.*S (sleeping)" /proc/$poller/status || fail "the poller does not sleep: $(grep State /proc/$poller/status)"
ok "a task sleeps in poll()"

insmod $MODDIR/lg_testpatch_sched.ko
sleep 3
cat $LG/lg_testpatch_sched/summary
pending=$(cat $LG/lg_testpatch_sched/pending_tasks)
echo "pending_tasks:"
echo "$pending"
expect_eq "$(cat $LG/lg_testpatch_sched/transition)" 1 "transition still running after 3 s"
echo "$pending" | grep -Eq "^$poller lg_poll sleeping-on schedule_hrtimeout_range_clock\+" \
	|| fail "the poller is not pending on the old schedule_hrtimeout_range_clock"
ok "the poller is pending, sleeping on the old function"
! grep -q "poll rc" /tmp/poll.out || fail "poll() returned: $(cat /tmp/poll.out)"

echo 1 > /sys/module/livegraft/parameters/nudge_after_ms
wait_transition_done lg_testpatch_sched 30
expect_dmesg "livegraft: 'lg_testpatch_sched': patching complete"
! grep -q "poll rc" /tmp/poll.out || fail "the nudged poll() returned: $(cat /tmp/poll.out)"
ok "the nudged poll() restarted transparently"
wait_for 10 sh -c "[ \$(cat /sys/module/lg_testpatch_sched/parameters/entered) -gt 0 ]"
ok "the new schedule_hrtimeout_range_clock runs"
kill $poller
disable_patch lg_testpatch_sched
rmmod livegraft
