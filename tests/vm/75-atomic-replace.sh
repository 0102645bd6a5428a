# Atomic replace: lg_testpatch (v2) and lg_testpatch2 (v3) are stacked;
# lg_replace (v4, LIVEGRAFT_F_REPLACE) replaces only lg_target_unit and
# lg_target_a. Its one transition replaces both patches: lg_target_b,
# _block, _hold and _wrap, which only the replaced patches touched, go back
# to their original code for tasks in the patched universe, while tasks in
# the unpatched one keep running v3 (a task asleep in v3's lg_target_block
# holds the transition open and finishes its unit in v3). No unit of work
# mixes; at the end the replaced patches are disabled, their directories are
# gone and their modules unload. The replace and stack_order files follow.
# timeout: 240
. ./lib.sh
patches_with_blocker lg_testpatch lg_testpatch2
expect_eq "$(cat $LG/lg_testpatch/stack_order) $(cat $LG/lg_testpatch2/stack_order)" "1 2" "stack_order of two stacked patches"
expect_eq "$(cat $LG/lg_testpatch/replace) $(cat $LG/lg_testpatch2/replace)" "0 0" "replace of non-cumulative patches"
expect_eq "$(wrap)" 341 "v3's new_wrap runs before the replace"
start_units
sleep 1
insmod $MODDIR/lg_replace.ko
expect_eq "$(cat $LG/lg_replace/replace)" 1 "replace of the cumulative patch"
expect_eq "$(cat $LG/lg_replace/stack_order)" 3 "stack_order of the cumulative patch during its transition"
sleep 2
expect_eq "$(cat $LG/lg_replace/transition)" 1 "the sleeper in v3's lg_target_block holds the transition"
cat $LG/lg_replace/pending_tasks
grep -q "sleeping-on new_block" $LG/lg_replace/pending_tasks \
	|| fail "pending_tasks does not name the sleeper in v3's new_block: $(cat $LG/lg_replace/pending_tasks)"
ok "the function only the replaced patches touched is checked on stacks"
expect_eq "$(cat $LG/lg_testpatch/enabled) $(cat $LG/lg_testpatch2/enabled)" "1 1" "replaced patches enabled during the transition"
expect_fail "rmmod a replaced patch during the transition" rmmod lg_testpatch2
units_advance kthread 4
units_advance syscall 4
echo release > $T
wait_for 10 [ -e /tmp/blocker.rc ]
expect_eq "$(cat /tmp/blocker.rc)" "blocker rc=0" "blocked writer's result"
expect_eq "$(stat blocking v3)" 1 "the blocked unit finished in v3 (the unpatched universe)"
wait_transition_done lg_replace 60
expect_dmesg_sequence "livegraft: enabling patch 'lg_replace'" \
	"livegraft: 'lg_replace': starting patching transition" \
	"livegraft: 'lg_replace': completing patching transition" \
	"livegraft: 'lg_replace': patching complete"
wait_for 10 [ ! -e $LG/lg_testpatch2 ]
wait_for 10 [ ! -e $LG/lg_testpatch ]
ok "the replaced patches' directories are gone"
sleep 1
stop_units
expect_eq "$(stat syscall mixed)$(stat kthread mixed)$(stat work mixed)" 000 "no unit mixed through the replace"
expect_eq "$(cat $LG/lg_replace/stack_order)" 1 "stack_order of the only patch left"
rmmod lg_testpatch2
rmmod lg_testpatch
ok "the replaced patches' modules unload"
before=$(stat syscall v4)
echo unit > $T
expect_eq "$(stat syscall v4)" $((before + 1)) "a unit runs v4 unit and a with the original lg_target_b"
expect_eq "$(wrap)" 41 "lg_target_wrap, which only the replaced patches touched, is the original again"
disable_patch lg_replace
expect_eq "$(wrap)" 41 "original after disabling the cumulative patch"
before=$(stat syscall v1)
echo unit > $T
expect_eq "$(stat syscall v1)" $((before + 1)) "original unit after disabling the cumulative patch"
rmmod lg_target
rmmod livegraft
