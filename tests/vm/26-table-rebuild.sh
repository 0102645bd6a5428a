# The fork storm of scenario 14 with the smallest task table
# (min_table_slots=64) and 150 more tasks started while the transition is
# held: the table must be rebuilt larger during the transition; the pending
# count stays exact across rebuilds, the transition completes once the holder
# is released, and no unit mixes versions.
# timeout: 240
. ./lib.sh
insmod $MODDIR/livegraft.ko min_table_slots=64
insmod $MODDIR/lg_target.ko
held_fork_storm
# 150 more live tasks push the 256-slot table past half its capacity.
lg_spawn 150 > /tmp/spawn.out &
spawner=$!
wait_for 120 grep -q ready /tmp/spawn.out
wait_for 60 sh -c "grep -q '^pending: 1$' $LG/lg_testpatch/summary"
ok "only the holder is pending with 150 more tasks"
kill $spawner
wait $spawner 2>/dev/null || true
wait_for 60 sh -c "grep -q '^pending: 1$' $LG/lg_testpatch/summary"
cat $LG/lg_testpatch/summary
expect_dmesg "livegraft: task table rebuilt: [0-9]+ live entries, [0-9]+ -> [0-9]+ slots"
n=$(dmesg | grep -c "task table rebuilt")
[ "$n" -ge 1 ] || fail "the table was never rebuilt"
ok "the table was rebuilt $n times"
expect_no_dmesg "task table full"
release_storm_and_unload
