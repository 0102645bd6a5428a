# Tasks that never enter the kernel (a user-space busy loop) and tasks in
# mixed states (tight getpid loops, blocked in read(), in nanosleep()): the
# busy ones switch on their way back to user mode (user_return), the
# transition completes in both directions.
# timeout: 180
. ./lib.sh
load_core_and_target
lg_spawn 40 > /tmp/spawn.out &
spawner=$!
wait_for 60 grep -q ready /tmp/spawn.out
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch 30
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
expect_dmesg "livegraft: 'lg_testpatch': unpatching complete"
kill $spawner
rmmod lg_testpatch
rmmod lg_target
rmmod livegraft
