# Stack order counts the functions of modules that are not loaded (the
# model test's finding, logic::replace::newer_on_top): lg_latepatch (v2 of
# lg_target's functions and of lg_late_value) and then lg_latepatch2 (v3 of
# lg_late_value only) are enabled while lg_late is not loaded. Disabling
# lg_latepatch first must be refused (EBUSY, the function named in dmesg),
# since lg_late loading during its unpatching would put v3 above the
# version in transition; nothing changes. lg_late loaded then runs v3;
# lg_latepatch2 goes first, then lg_latepatch, in stack order.
# timeout: 240
. ./lib.sh
load_core_and_target
insmod $MODDIR/lg_latepatch.ko
wait_transition_done lg_latepatch
insmod $MODDIR/lg_latepatch2.ko
wait_transition_done lg_latepatch2
expect_eq "$(cat $LG/lg_latepatch2/lg_late/patched)" 0 "lg_late not loaded: not patched"
expect_fail "disable of the lower patch while a newer one replaces a function of an unloaded module" \
	sh -c "echo 0 > $LG/lg_latepatch/enabled"
expect_dmesg "'lg_latepatch': cannot disable: a newer patch also replaces 'lg_late_value'; disable it first"
expect_eq "$(cat $LG/lg_latepatch/enabled) $(cat $LG/lg_latepatch/transition)" "1 0" "the refused disable changed nothing"
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "lg_target still runs lg_latepatch"
insmod $MODDIR/lg_late.ko
expect_eq "$(cat /proc/lg_late)" "init=3 now=3" "lg_late loaded: the newer patch's version, before its init"
disable_patch lg_latepatch2
expect_eq "$(cat /proc/lg_late)" "init=3 now=2" "lg_latepatch2 disabled: lg_latepatch's version"
disable_patch lg_latepatch
expect_eq "$(cat /proc/lg_late)" "init=3 now=1" "both disabled: the original"
rmmod lg_late
ok "stack order held for a function of a module that was not loaded"
