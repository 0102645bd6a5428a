# Reversal of an atomic replace: while a task asleep in v3's
# lg_target_block holds lg_replace's transition open, writing 0 to its
# enabled reverses it. When the reversal completes the state is exactly the
# one before: lg_testpatch and lg_testpatch2 enabled, v3 running everywhere
# (lg_target_wrap included, which the replace would have reverted), the
# cumulative patch gone and its module removable; no unit mixed.
# timeout: 240
. ./lib.sh
patches_with_blocker lg_testpatch lg_testpatch2
start_units
insmod $MODDIR/lg_replace.ko
sleep 2
expect_eq "$(cat $LG/lg_replace/transition)" 1 "the sleeper holds the replacing transition"
units_advance kthread 4
echo 0 > $LG/lg_replace/enabled
expect_dmesg "livegraft: 'lg_replace': reversing transition from patching to unpatching"
wait_for 60 [ ! -e $LG/lg_replace ]
expect_dmesg "livegraft: 'lg_replace': unpatching complete"
rmmod lg_replace
ok "the cumulative patch's module unloads after the reversal"
expect_eq "$(cat $LG/lg_testpatch/enabled) $(cat $LG/lg_testpatch2/enabled)" "1 1" "the patches it would have replaced are still enabled"
expect_eq "$(cat $LG/lg_testpatch/stack_order) $(cat $LG/lg_testpatch2/stack_order)" "1 2" "and keep their stack order"
units_advance kthread 3
units_advance syscall 3
expect_eq "$(wrap)" 341 "v3's new_wrap runs again"
echo release > $T
wait_for 10 [ -e /tmp/blocker.rc ]
expect_eq "$(stat blocking v3)" 1 "the blocked unit finished in v3"
stop_units
disable_patch lg_testpatch2
units_advance_once() { before=$(stat syscall v$1); echo unit > $T; expect_eq "$(stat syscall v$1)" $((before + 1)) "$2"; }
units_advance_once 2 "v2 after disabling lg_testpatch2"
disable_patch lg_testpatch
units_advance_once 1 "original after disabling both"
rmmod lg_target
rmmod livegraft
