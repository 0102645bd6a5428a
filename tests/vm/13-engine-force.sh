# Force: with a transition held open, writing 1 to force completes it, logs
# the warning, and the patch module can never be unloaded. force outside a
# transition is -EINVAL. The holder, forced while asleep in the old
# function, then holds the unpatching until it leaves it.
# timeout: 120
. ./lib.sh
load_core_and_target
echo hold > $T
insmod $MODDIR/lg_testpatch.ko
sleep 1
expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "transition held open"
echo 1 > $LG/lg_testpatch/force
wait_transition_done lg_testpatch 10
expect_dmesg "livegraft: 'lg_testpatch': forcing remaining tasks to the patched state"
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
expect_fail "force when not in transition" sh -c "echo 1 > $LG/lg_testpatch/force"
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "new code runs after force"
echo 0 > $LG/lg_testpatch/enabled
# The forced holder still sleeps in the original lg_target_hold(), which is
# affected code when unpatching (a task in the patched universe may have
# entered an original from a replacement): it holds the unpatching until
# it leaves it.
sleep 2
expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "unpatching waits for the forced holder"
echo unhold > $T
wait_for 30 [ ! -e $LG/lg_testpatch ]
expect_fail "rmmod of a forced patch" rmmod lg_testpatch
grep -q '^lg_testpatch ' /proc/modules || fail "forced patch module was unloaded"
ok "forced patch module stays loaded"
