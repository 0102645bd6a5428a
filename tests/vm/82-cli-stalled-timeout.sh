# A transition held by a kthread asleep (uninterruptibly) in a patched
# function: `load --wait --timeout 5` exits 7 naming that task and where it
# sleeps, reverts the transition and removes the module; with --no-revert it
# exits 8 and leaves the transition running; `force` refuses without --yes.
# timeout: 180
. ./lib.sh
load_core_and_target
echo hold > $T
holder=
for d in /proc/[0-9]*; do
	if [ "$(cat $d/comm 2>/dev/null)" = lg_target_hold ]; then holder=${d#/proc/}; fi
done
[ -n "$holder" ] || fail "no holder kthread"
rc=0
livegraft load --wait --timeout 5 --progress plain $MODDIR/lg_testpatch.ko >/tmp/load.out 2>&1 || rc=$?
cat /tmp/load.out
expect_eq "$rc" 7 "load --wait --timeout 5 exit status (timed out, reverted)"
grep -q "lg_testpatch: patching did not complete in 5 s" /tmp/load.out || fail "no timeout line"
grep -q "^  $holder lg_target_hold: sleeping in lg_target_hold+" /tmp/load.out || fail "the holder ($holder) is not named"
grep -q "reverted: 'lg_testpatch' is unpatched; module lg_testpatch removed" /tmp/load.out || fail "no revert line"
grep -q "livegraft force lg_testpatch --yes" /tmp/load.out || fail "no next steps"
[ ! -e $LG/lg_testpatch ] || fail "patch left after revert"
! grep -q "^lg_testpatch " /proc/modules || fail "module left after revert"
expect_dmesg "livegraft: 'lg_testpatch': reversing transition from patching to unpatching"
echo unit > $T
expect_eq "$(stat syscall v2)" 0 "no unit ran the new version after the revert"

rc=0
livegraft load --wait --timeout 3 --no-revert --progress plain $MODDIR/lg_testpatch.ko >/tmp/load2.out 2>&1 || rc=$?
cat /tmp/load2.out
expect_eq "$rc" 8 "--no-revert exit status"
expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "transition left running"
rc=0; livegraft force lg_testpatch >/tmp/force.out 2>&1 || rc=$?
expect_eq "$rc" 2 "force without --yes"
grep -q "never be unloaded" /tmp/force.out || fail "force does not say what it costs"
expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "still in transition after the refused force"
echo unhold > $T
wait_transition_done lg_testpatch 30
livegraft unload lg_testpatch
expect_no_mixed
rmmod lg_target
rmmod livegraft
