# sweep=1: each transition starts with one stop_machine sweep that switches
# every task whose stack is clean, runnable ones included. Busy user tasks
# switch there instead of waiting for their turn on a CPU; a kthread asleep
# inside an old function is still left alone (its stack is not clean); units
# never mix versions; dmesg says how many tasks the sweep switched.
# timeout: 240
. ./lib.sh
insmod $MODDIR/livegraft.ko sweep=1
insmod $MODDIR/lg_target.ko
lg_spawn 40 > /tmp/spawn.out &
spawner=$!
wait_for 60 grep -q ready /tmp/spawn.out
start_units
echo hold > $T
sleep 1
insmod $MODDIR/lg_testpatch.ko
sleep 2
expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "the holder keeps the transition open"
expect_eq "$(sed -n 's/^pending: //p' $LG/lg_testpatch/summary)" 1 "only the holder is pending"
n=$(sed -n 's/^switched_sweep: //p' $LG/lg_testpatch/summary)
[ "${n:-0}" -ge 20 ] || fail "the sweep switched only '${n}' tasks: $(cat $LG/lg_testpatch/summary)"
ok "the sweep switched $n tasks"
grep -q "lg_target_hold" $LG/lg_testpatch/pending_tasks || fail "holder not reported: $(cat $LG/lg_testpatch/pending_tasks)"
echo unhold > $T
wait_transition_done lg_testpatch
expect_dmesg "livegraft-stats: patching transition: setup [0-9]+ us, switched in [0-9]+ ms:.* sweep=[0-9]+"
units_advance syscall 2
disable_patch lg_testpatch
expect_dmesg "livegraft-stats: unpatching transition: setup [0-9]+ us, switched in [0-9]+ ms:.* sweep=[0-9]+.*"
units_advance syscall 1
stop_units
kill $spawner
wait $spawner 2>/dev/null || true
rmmod lg_target
rmmod livegraft
