# A task asleep in an original that a replacement entered by a tail call
# through its LIVEGRAFT_ORIGINAL stub (lg_tailblock: no frame of the
# replacement is left; the original runs the rest of the replacement's work,
# in the patched universe) must not be switched by a stack check while the
# patch is disabled: the original is affected code on both sides
# (stack_verdict::affected_code; the model's seeded bug
# AffectedWithoutOriginal). With only the patch's new functions affected, the
# sleeper switched to the unpatched universe and finished its unit with the
# old lg_target_b(): versions 5 and 1 in one unit. Nudges are held back, so
# only the stack check could switch it.
# host-check: tools/check-tailcall.sh tests/modules/lg_testpatch/lg_tailblock.ko new_tblock orig_tblock
# timeout: 150
. ./lib.sh
insmod $MODDIR/livegraft.ko nudge_after_ms=3600000 report_after_ms=3600000
insmod $MODDIR/lg_target.ko
insmod $MODDIR/lg_tailblock.ko
wait_transition_done lg_tailblock
expect_dmesg "livegraft: 'lg_tailblock': patching complete"

( echo tblock > $T; echo "sleeper rc=$?" > /tmp/sleeper.rc ) &
wait_for 10 grep -q "^blocked 1" $T
ok "a task sleeps in the original lg_target_tblock, entered by the replacement's tail call"

echo 0 > $LG/lg_tailblock/enabled
sleep 3
if [ -e $LG/lg_tailblock ]; then
	cat $LG/lg_tailblock/summary
	pending=$(cat $LG/lg_tailblock/pending_tasks)
	echo "pending_tasks:"
	echo "$pending"
	held=1
else
	echo "lg_tailblock is gone: unpatching completed"
	held=0
fi

echo release > $T
wait_for 10 [ -e /tmp/sleeper.rc ]
expect_eq "$(cat /tmp/sleeper.rc)" "sleeper rc=0" "the sleeper's write"
cat $T
expect_no_mixed
expect_eq "$(stat tblock v5)" 1 "the sleeper's unit ran version 5 throughout"
expect_eq "$held" 1 "unpatching held open while the task slept in the original"
echo "$pending" | grep -Eq "^[0-9]+ sh sleeping-on lg_target_tblock\+" \
	|| fail "the sleeper is not pending on the original lg_target_tblock"
ok "the sleeper was pending, sleeping on the original"

wait_for 30 [ ! -e $LG/lg_tailblock ]
expect_dmesg "livegraft: 'lg_tailblock': unpatching complete"
rmmod lg_tailblock
rmmod lg_target
rmmod livegraft
