# livegraft's own workers never stall a transition, in the setting the
# review reported it in: 128 tasks in getpid() loops, one task blocked in
# read(), and a reader of the patched function (/proc/cmdline, patched by the
# generated livegraft_cmdline sample). Both transitions complete on their own
# with nobody reading pending_tasks or summary, and no task is reported as
# pending for being on a CPU 2 s in ("livegraft-stats: pending: <comm>:<pid> is running"):
# neither a livegraft worker (the pass runs on one, so it always found it
# running) nor a kernel thread the tick wakes together with the transition
# work, which is runnable whenever a pass looks (the RCU grace-period
# kthread on the preemptible debug flavour held unpatching for 30 s and
# more before runnable tasks were stack-checked).
# timeout: 240
. ./lib.sh
insmod $MODDIR/livegraft.ko report_after_ms=2000
lg_spawn 128 getpid > /tmp/spawn.out &
spawner=$!
wait_for 120 grep -q ready /tmp/spawn.out
mkfifo /tmp/pipe
( cat /tmp/pipe > /dev/null ) &
reader=$!
exec 3>/tmp/pipe
( while :; do cat /proc/cmdline > /dev/null; done ) &
cmdline_loop=$!

insmod $MODDIR/livegraft_cmdline.ko
wait_transition_done livegraft_cmdline 60
expect_dmesg "livegraft: 'livegraft_cmdline': patching complete"
expect_eq "$(cat /proc/cmdline)" "this has been live patched by livegraft" "the patch is in effect"
echo 0 > $LG/livegraft_cmdline/enabled
wait_for 60 [ ! -e $LG/livegraft_cmdline ]
expect_dmesg "livegraft: 'livegraft_cmdline': unpatching complete"
expect_no_dmesg "livegraft-stats: pending: .*:[0-9]+ is running"
dmesg | grep "livegraft-stats: .*switched in"
kill $cmdline_loop $spawner
exec 3>&-
rmmod livegraft_cmdline
rmmod livegraft
