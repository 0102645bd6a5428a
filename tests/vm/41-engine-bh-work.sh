# Switches happen only in task context. A work item of a BH workqueue
# (system_bh_wq) runs in softirq context on top of whatever task it
# interrupted, and workqueue_execute_end fires there too. lg_target's
# "kspin" kthread never sleeps and passes no safe point while it spins; each
# loop iteration is a unit, not preemptible: lg_target_a(), a BH work item
# run on top of the kthread, lg_target_b(). Switching the kthread from the
# BH item would land between a and b: the unit would mix versions (that is
# what the engine did before switches were limited to task context). The
# kthread may only switch where a stack check finds it runnable in yield(),
# between two units, or at its loop head after "kspin off".
# timeout: 180
. ./lib.sh
load_core_and_target
kspin_bh() { sed -n 's/^kspin_bh //p' $T; }
kspin_units() { [ "$(stat kspin units)" -ge "$1" ]; }
echo "kspin on" > $T
wait_for 20 kspin_units 20
bh0=$(kspin_bh)
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch 30
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
[ "$(kspin_bh)" -gt "$bh0" ] || fail "no BH work item ran on top of the kthread ($bh0)"
ok "BH work items ran in softirq context on top of the spinning kthread ($bh0 -> $(kspin_bh))"
u0=$(stat kspin v2)
sleep 1
[ "$(stat kspin v2)" -gt "$u0" ] || fail "the kthread does not run new units: $(grep '^kspin ' $T)"
ok "the kthread runs new units"
expect_no_mixed
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
expect_dmesg "livegraft: 'lg_testpatch': unpatching complete"
echo "kspin off" > $T
expect_no_mixed
expect_no_dmesg "MIXED"
rmmod lg_testpatch
rmmod lg_target
rmmod livegraft
