# Generated patches that use non-exported symbols ([[symbol]] in
# patch.toml): samples/target_static_c (a C source, compiled through
# Kbuild) and samples/target_static_rs (Rust, through typed accessors)
# replace lg_target_fix(x) = x + 1 with lg_target_scale(x) +
# lg_target_factor + 2000 (C) or + 3000 (Rust), calling lg_target's static
# function and reading its static variable, whose live value they follow.
# Each disables cleanly and unloads; the original is back after each.
# timeout: 180
. ./lib.sh
load_core_and_target
fix() { echo "fix $1" > $T; sed -n 's/^fix //p' $T; }
expect_eq "$(fix 5)" 6 "original lg_target_fix(5)"
for lang in c rs; do
	P=livegraft_static_$lang
	[ $lang = c ] && base=2000 || base=3000
	echo "factor 7" > $T
	insmod $MODDIR/$P.ko
	wait_transition_done $P
	expect_dmesg "livegraft: '$P': patching complete"
	expect_eq "$(fix 5)" $((5 * 7 + 7 + base)) "$P: lg_target_fix(5) = scale(5) + factor + $base"
	echo "factor 3" > $T
	expect_eq "$(fix 5)" $((5 * 3 + 3 + base)) "$P: follows the static variable (factor 3)"
	echo "scale 4" > $T
	expect_eq "$(sed -n 's/^fix //p' $T)" 12 "$P: lg_target_scale itself untouched"
	disable_patch $P
	expect_eq "$(fix 5)" 6 "$P: original again after unpatching"
done
rmmod lg_target
rmmod livegraft
