# From a source fix to a live patch inside a module: tests/corpus/04-module-object.patch
# (a diff of livegraft's test module lg_target: lg_target_fix(x) returns
# lg_target_scale(x) + 1 instead of x + 1) turned into a module by
# `livegraft-gen diff --build` (tools/gen-samples.sh): object lg_target, the
# static lg_target_scale() resolved in lg_target at load, the patch module
# depending on lg_target. The fix follows a change of the static
# lg_target_factor that lg_target_scale() reads (the module's own data, not
# a copy); lg_target cannot be removed while the patch is loaded; a clean
# disable and unload restore x + 1.
# timeout: 150
. ./lib.sh
P=livegraft_04_module_object
load_core_and_target
fix() { echo "fix $1" > $T; sed -n 's/^fix //p' $T; }
expect_eq "$(fix 5)" 6 "original lg_target_fix(5)"
insmod $MODDIR/$P.ko
wait_transition_done $P
expect_dmesg "livegraft: '$P': patching complete"
[ -d $LG/$P/lg_target/lg_target_fix,1 ] || fail "no sysfs directory lg_target/lg_target_fix,1"
expect_eq "$(cat $LG/$P/lg_target/patched)" 1 "lg_target patched"
expect_eq "$(fix 5)" 36 "patched lg_target_fix(5) = lg_target_scale(5) + 1 (factor 7)"
echo "factor 3" > $T
expect_eq "$(fix 5)" 16 "patched lg_target_fix(5) with lg_target's static factor 3"
expect_fail "rmmod lg_target under the patch" rmmod lg_target
disable_patch $P
expect_eq "$(fix 5)" 6 "lg_target_fix(5) original after unpatching"
rmmod lg_target
rmmod livegraft
