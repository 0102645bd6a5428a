# Fork storm and exits during a transition held open: children inherit their
# parent's universe, exiting tasks release their entries, the pending count
# stays exact (the transition completes as soon as the holder is released),
# and no unit mixes versions.
# timeout: 240
. ./lib.sh
load_core_and_target
echo "kthread on" > $T
echo hold > $T
insmod $MODDIR/lg_testpatch.ko
for j in 1 2 3; do
	( i=0; while [ $i -lt 150 ]; do ( echo unit > $T ) ; i=$((i + 1)); done ) &
done
wait
expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "transition held open through the storm"
cat $LG/lg_testpatch/summary
grep -q "^pending: 1$" $LG/lg_testpatch/summary || fail "pending is not exactly the holder"
ok "only the holder is pending after 450 forks and exits"
echo unhold > $T
wait_transition_done lg_testpatch 30
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
[ "$(stat syscall units)" -ge 450 ] || fail "fewer units than forks: $(stat syscall units)"
expect_no_mixed
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
rmmod lg_testpatch
echo "kthread off" > $T
rmmod lg_target
rmmod livegraft
