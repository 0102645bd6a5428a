# Bad patch modules are refused with a clear message and change nothing:
# an ABI version mismatch, and a patch naming a function that does not
# exist. Nothing is left half-applied: no sysfs directory, the target still
# runs its original code, and a good patch loads afterwards.
# timeout: 120
. ./lib.sh
load_core_and_target
expect_fail "insmod of a patch built for ABI 99" insmod $MODDIR/lg_testpatch.ko abi_version=99
expect_dmesg "livegraft: refusing patch: built for livegraft ABI 99, this core implements ABI 3"
[ ! -e $LG/lg_testpatch ] || fail "sysfs directory left behind"
expect_fail "insmod of a patch naming a missing function" insmod $MODDIR/lg_testpatch.ko bogus=1
expect_dmesg "livegraft: 'lg_testpatch': symbol 'lg_target_does_not_exist' not found in symbol table of object 'lg_target'"
[ ! -e $LG/lg_testpatch ] || fail "sysfs directory left behind"
! grep -q '^lg_testpatch ' /proc/modules || fail "refused patch module stayed loaded"
echo unit > $T
expect_eq "$(stat syscall v1)" 1 "target runs its original code"
expect_eq "$(stat syscall v2)" 0 "no new code ran"
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "a good patch loads after the refused ones"
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
rmmod lg_testpatch
rmmod lg_target
rmmod livegraft
