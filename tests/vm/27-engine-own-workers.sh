# livegraft's own workers never stall a transition: with 128 tasks in mixed
# states (busy in user space, getpid() loops, blocked in read(), asleep) and
# units of work running the patched functions, both transitions complete on
# their own, with nobody reading pending_tasks or summary (a read used to run
# a pass from another task, which was what unstuck them), and no pending
# report ever names a livegraft worker. On the preemptible debug flavour the
# transition worker used to sit pending ("livegraft:<pid> is running") for
# tens of seconds, or forever.
# timeout: 240
. ./lib.sh
insmod $MODDIR/livegraft.ko report_after_ms=2000
insmod $MODDIR/lg_target.ko
lg_spawn 128 > /tmp/spawn.out &
spawner=$!
wait_for 120 grep -q ready /tmp/spawn.out
start_units

# Only the 'transition' and 'enabled' files are read below.
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch 60
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
echo 0 > $LG/lg_testpatch/enabled
wait_for 60 [ ! -e $LG/lg_testpatch ]
expect_dmesg "livegraft: 'lg_testpatch': unpatching complete"
expect_no_dmesg "'lg_testpatch': livegraft(-setup)?:[0-9]+ "
stop_units
kill $spawner
rmmod lg_testpatch
rmmod lg_target
rmmod livegraft
