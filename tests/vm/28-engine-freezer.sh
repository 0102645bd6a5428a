# The freezer is a safe point: a kthread whose loop calls try_to_freeze()
# between units, is off its CPU only inside the patched lg_target_unit() (so
# a stack check always finds the old function there) holds both transitions
# open until a real freeze of every task (/sys/power/pm_test = freezer, then a suspend
# request) sends it into __refrigerator(), where it switches; summary counts
# it under "freezer" (summary's switched_freezer during a transition, the
# "switched in" line of dmesg at its end). No unit mixes versions.
# timeout: 240
# requires: CONFIG_PM_DEBUG
. ./lib.sh
freeze_once() {
	echo freezer > /sys/power/pm_test
	# s2idle always exists; pm_test stops after freezing every task, waits
	# 5 s, thaws and fails the request with -EAGAIN... or succeeds: either way.
	echo freeze > /sys/power/state || true
	expect_dmesg "PM: suspend debug: Waiting for 5 second"
}

kthread_units_over() { [ "$(stat kthread units)" -gt "$1" ]; }
load_core_and_target
echo "ztask on" > $T
wait_for 20 kthread_units_over 5
ok "the freezer-only kthread runs units"

insmod $MODDIR/lg_testpatch.ko
sleep 3
expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "transition held open by the freezer-only kthread"
grep -q "lg_target_fz" $LG/lg_testpatch/pending_tasks || fail "lg_target_fz not pending: $(cat $LG/lg_testpatch/pending_tasks)"
ok "lg_target_fz is what the transition waits for"
freeze_once
wait_transition_done lg_testpatch 30
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
expect_dmesg "livegraft-stats: patching transition: .*switched in .* freezer=[1-9]"
units_advance kthread 2

dmesg -c > /dev/null
echo 0 > $LG/lg_testpatch/enabled
sleep 3
expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "unpatching held open by the freezer-only kthread"
freeze_once
wait_for 30 [ ! -e $LG/lg_testpatch ]
expect_dmesg "livegraft: 'lg_testpatch': unpatching complete"
expect_dmesg "livegraft-stats: unpatching transition: .*switched in .* freezer=[1-9]"
units_advance kthread 1
echo "ztask off" > $T
expect_no_mixed
rmmod lg_testpatch
rmmod lg_target
rmmod livegraft
