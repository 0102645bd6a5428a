# A C replacement that tail-calls the original (lg_tailpatch: its object
# code ends in a jump, checked on the host below) returns, both through the
# per-task decision (a kthread sleeping in the old lg_target_hold() holds the
# transition open) and on the fast path after "patching complete"; and a
# call of the patched function by its symbol from the replacement runs the
# replacement again (recursion, as under upstream livepatch).
# host-check: tools/check-tailcall.sh tests/modules/lg_testpatch/lg_tailpatch.ko new_tail_wrap orig_wrap
# timeout: 150
. ./lib.sh
wrap() { echo "wrap $1" > $T; sed -n 's/^wrap //p' $T; }
# check_wrap WHERE: the three behaviours of lg_tailpatch's new_tail_wrap.
check_wrap() {
	expect_eq "$(wrap -5)" 200 "$1: the replacement runs"
	expect_eq "$(wrap 40)" 41 "$1: its tail call of the original returns the original's result"
	expect_eq "$(wrap 1040)" 201 "$1: its call by symbol runs the replacement again"
}

load_core_and_target
expect_eq "$(wrap 40)" 41 "lg_target_wrap unpatched"
expect_eq "$(wrap -5)" -4 "lg_target_wrap unpatched, negative"

# The per-task decision: the holder keeps the transition open; this shell
# switched at its last syscall exit.
echo hold > $T
insmod $MODDIR/lg_tailpatch.ko
sleep 1
expect_eq "$(cat $LG/lg_tailpatch/transition)" 1 "transition held open by the holder"
expect_eq "$(sed -n 's/^fast_path: //p' $LG/lg_tailpatch/summary)" 0 "no fast path during the transition"
check_wrap "decide path"

# The fast path.
echo unhold > $T
wait_transition_done lg_tailpatch
fast_path_is lg_tailpatch 3
check_wrap "fast path"

disable_patch lg_tailpatch
expect_eq "$(wrap -5)" -4 "original again after unpatching"
rmmod lg_target
rmmod livegraft
