# A module loading while a transition runs (upstream's klp_module_coming
# during a transition): the new object's functions join the transition with
# its per-task semantics. A kthread asleep in lg_target_hold holds
# lg_latepatch's patching transition open; lg_late loads meanwhile: it is
# patched ("applying patch" line, patched=1), the loading insmod (forked by
# the shell, which has switched) runs version 2 in its init, and the
# transition still completes and reverses as usual. Then a load during the
# unpatching transition.
# timeout: 240
. ./lib.sh
insmod $MODDIR/livegraft.ko nudge_after_ms=600000
insmod $MODDIR/lg_target.ko
echo hold > $T
insmod $MODDIR/lg_latepatch.ko
sleep 1
expect_eq "$(cat $LG/lg_latepatch/transition)" 1 "the holder keeps the transition open"
insmod $MODDIR/lg_late.ko
expect_dmesg "livegraft: applying patch 'lg_latepatch' to loading module 'lg_late'"
expect_eq "$(cat $LG/lg_latepatch/lg_late/patched)" 1 "lg_late patched during the transition"
expect_eq "$(cat /proc/lg_late)" "init=2 now=2" "tasks in the patched universe run the new version"
grep -q "^pending: 1$" $LG/lg_latepatch/summary || fail "summary: $(cat $LG/lg_latepatch/summary)"
ok "still only the holder pending"
echo unhold > $T
wait_transition_done lg_latepatch 60
expect_dmesg "livegraft: 'lg_latepatch': patching complete"
expect_eq "$(cat /proc/lg_late)" "init=2 now=2" "after completion"
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
