# Switches happen only in task context. A work item of a BH workqueue
# (system_bh_wq) runs in softirq context on top of whatever task it
# interrupted, and workqueue_execute_end fires there too. lg_target's
# "kspin" kthread never sleeps and passes no safe point while it spins; each
# loop iteration is a unit: lg_target_a(), a BH work item run on top of the
# kthread, lg_target_b(). Switching the kthread from the BH item would land
# between a and b: the unit would mix versions. So the kthread keeps the
# patching transition open until "kspin off" takes it to its loop head
# (kthread_should_stop()), and no unit mixes versions.
# timeout: 180
. ./lib.sh
load_core_and_target
kspin_bh() { sed -n 's/^kspin_bh //p' $T; }
kspin_units() { [ "$(stat kspin units)" -ge "$1" ]; }
echo "kspin on" > $T
wait_for 20 kspin_units 20
insmod $MODDIR/lg_testpatch.ko
sleep 3
bh0=$(kspin_bh)
u0=$(stat kspin units)
sleep 1
[ "$(kspin_bh)" -gt "$bh0" ] || fail "no BH work item ran on top of the kthread ($bh0)"
ok "BH work items run in softirq context on top of the spinning kthread"
[ "$(stat kspin units)" -gt "$u0" ] || fail "the kthread does not spin"
expect_no_mixed
expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "the spinning kthread keeps the transition open"
cat $LG/lg_testpatch/summary
expect_eq "$(sed -n 's/^pending: //p' $LG/lg_testpatch/summary)" 1 "only the spinning kthread is pending"
[ "$(stat kspin v2)" = 0 ] || fail "the pending kthread ran new code: $(grep '^kspin ' $T)"
ok "the pending kthread runs only old units"
echo "kspin off" > $T
wait_transition_done lg_testpatch 30
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
expect_no_mixed
disable_patch lg_testpatch
rmmod lg_target
rmmod livegraft
