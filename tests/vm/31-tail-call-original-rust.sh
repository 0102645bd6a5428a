# The same as scenario 30 with a generated Rust patch (samples/target_wrap):
# its replacement of lg_target_wrap() ends in a jump to the original (checked
# on the host), and returns through the per-task decision and on the fast
# path; its call by symbol runs the replacement again.
# host-check: tools/check-tailcall.sh out/patches/livegraft_target_wrap/livegraft_target_wrap.ko lg_sample_tail_wrap orig_lg_target_wrap
# timeout: 150
. ./lib.sh
P=livegraft_target_wrap
wrap() { echo "wrap $1" > $T; sed -n 's/^wrap //p' $T; }
check_wrap() {
	expect_eq "$(wrap -5)" 300 "$1: the replacement runs"
	expect_eq "$(wrap 40)" 41 "$1: its tail call of the original returns the original's result"
	expect_eq "$(wrap 1040)" 301 "$1: its call by symbol runs the replacement again"
}

load_core_and_target
expect_eq "$(wrap 40)" 41 "lg_target_wrap unpatched"

echo hold > $T
insmod $MODDIR/$P.ko
sleep 1
expect_eq "$(cat $LG/$P/transition)" 1 "transition held open by the holder"
expect_eq "$(sed -n 's/^fast_path: //p' $LG/$P/summary)" 0 "no fast path during the transition"
check_wrap "decide path"

echo unhold > $T
wait_transition_done $P
fast_path_is $P 2
check_wrap "fast path"

disable_patch $P
expect_eq "$(wrap -5)" -4 "original again after unpatching"
rmmod lg_target
rmmod livegraft
