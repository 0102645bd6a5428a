# A module loading while a transition runs (upstream's klp_module_coming
# during a transition): the new object's functions join the transition with
# its per-task semantics. A kthread asleep in lg_target_hold (the original:
# it is in the unpatched universe) holds lg_latepatch's patching transition
# open; lg_late loads meanwhile: it is patched ("applying patch" line,
# patched=1), and the loading insmod (forked by the shell, which has
# switched) runs version 2 in its init. Released, the holder calls
# lg_late_sleep() in its universe, the original, and sleeps there: the stack
# checks must now count lg_late's functions, so it stays pending (before,
# it was switched there and its call of lg_late_value() after the sleep ran
# version 2 after version 1 before it). Then a load during the unpatching
# transition: its tasks run the original.
. ./lib.sh
insmod $MODDIR/livegraft.ko nudge_after_ms=600000
insmod $MODDIR/lg_target.ko
echo hold > $T
insmod $MODDIR/lg_latepatch.ko
sleep 1
expect_eq "$(cat $LG/lg_latepatch/transition)" 1 "the holder keeps the transition open"
insmod $MODDIR/lg_late.ko hook=1
expect_dmesg "livegraft: applying patch 'lg_latepatch' to loading module 'lg_late'"
expect_eq "$(cat $LG/lg_latepatch/lg_late/patched)" 1 "lg_late patched during the transition"
expect_eq "$(cat /proc/lg_late)" "init=2 now=2" "tasks in the patched universe run the new version"
grep -q "^pending: 1$" $LG/lg_latepatch/summary || fail "summary: $(cat $LG/lg_latepatch/summary)"
ok "still only the holder pending"
# unhold stops the holder (kthread_stop waits for it): in the background.
( echo unhold > $T ) &
unholder=$!
wait_for 10 sh -c "grep -q 'lg_late_sleep' $LG/lg_latepatch/pending_tasks"
sleep 2
cat $LG/lg_latepatch/pending_tasks
expect_eq "$(cat $LG/lg_latepatch/transition)" 1 "the holder asleep in lg_late's original keeps the transition open"
grep -q "sleeping-on lg_late_sleep+0x" $LG/lg_latepatch/pending_tasks \
	|| fail "pending_tasks: $(cat $LG/lg_latepatch/pending_tasks)"
ok "the stack checks count the functions of the object that loaded during the transition"
echo release > /proc/lg_late
wait $unholder
wait_transition_done lg_latepatch 60
expect_dmesg "livegraft: 'lg_latepatch': patching complete"
grep -q "^sleep=1,1$" /proc/lg_late || fail "the holder's call tree in lg_late mixed versions: $(cat /proc/lg_late)"
ok "the holder ran version 1 of lg_late_value before and after its sleep"
expect_eq "$(cat /proc/lg_late)" "init=2 now=2
sleep=1,1" "after completion"
rmmod lg_late
# Unpatching transition held open by a writer asleep in v2's
# lg_target_block (no nudge), and lg_late loads during it.
( echo block > $T; echo "blocker rc=$?" > /tmp/blocker.rc ) &
wait_for 10 grep -q "^blocked 1" $T
echo 0 > $LG/lg_latepatch/enabled
sleep 1
expect_eq "$(cat $LG/lg_latepatch/transition)" 1 "the sleeper in v2 keeps the unpatching open"
insmod $MODDIR/lg_late.ko
expect_eq "$(dmesg | grep -c "applying patch 'lg_latepatch' to loading module 'lg_late'")" 2 "applied on a load during unpatching"
expect_eq "$(cat $LG/lg_latepatch/lg_late/patched)" 1 "lg_late patched during the unpatching"
expect_eq "$(cat /proc/lg_late)" "init=1 now=1" "tasks in the unpatched universe run the original"
echo release > $T
wait_for 10 [ -e /tmp/blocker.rc ]
expect_eq "$(stat blocking v2)" 1 "the blocked unit finished in v2"
wait_for 60 [ ! -e $LG/lg_latepatch ]
expect_eq "$(cat /proc/lg_late)" "init=1 now=1" "unpatched after the unpatching completed"
expect_no_mixed
rmmod lg_latepatch
rmmod lg_late
rmmod lg_target
rmmod livegraft
