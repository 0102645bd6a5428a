# `livegraft load --wait` shows progress and the task holding the
# transition while a kthread sleeps inside a patched function; once it is
# released the command exits 0. `pending`, `disable --wait` and `unload`
# work on the patch; units run the new, then the old version.
# timeout: 150
. ./lib.sh
livegraft load $MODDIR/livegraft.ko
[ -d $LG ] || fail "load of the core itself"
insmod $MODDIR/lg_target.ko
echo hold > $T
livegraft load --wait --timeout 90 --progress plain $MODDIR/lg_testpatch.ko >/tmp/load.out 2>&1 &
cli=$!
wait_for 30 grep -q "waiting for: [0-9]* lg_target_hold: sleeping in lg_target_hold+" /tmp/load.out
wait_for 10 grep -q "lg_testpatch: patching [0-9]*/[0-9]* tasks switched" /tmp/load.out
livegraft pending lg_testpatch | tee /tmp/pending.out
grep -q "lg_target_hold: sleeping in lg_target_hold" /tmp/pending.out || fail "pending: no holder"
echo unhold > $T
rc=0; wait $cli || rc=$?
echo "--- captured output of livegraft load --wait:"
cat /tmp/load.out
expect_eq "$rc" 0 "load --wait exit status"
grep -q "lg_testpatch: patching complete in [0-9]* ms (.*)" /tmp/load.out || fail "no completion line"
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "a unit after load --wait runs the new version"
livegraft disable lg_testpatch --wait --progress plain
[ ! -e $LG/lg_testpatch ] || fail "patch directory left after disable --wait"
echo unit > $T
expect_eq "$(stat syscall v1)" 1 "a unit after disable runs the old version"
livegraft unload lg_testpatch
! grep -q "^lg_testpatch " /proc/modules || fail "module still loaded"
rc=0; livegraft unload lg_testpatch || rc=$?
expect_eq "$rc" 9 "unload of an unknown patch: exit code"
expect_no_mixed
rmmod lg_target
rmmod livegraft
