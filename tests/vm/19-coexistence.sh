# livegraft and upstream livepatch side by side on different functions, in
# the same kernel: both patches work at once, and a loaded patch module pins
# the core (rmmod livegraft refused until the patch module is gone).
# timeout: 120
# requires: CONFIG_LIVEPATCH
. ./lib.sh
orig=$(cat /proc/cmdline)
load_core_and_target
insmod $MODDIR/livepatch-sample.ko
wait_for 30 file_is /sys/kernel/livepatch/livepatch_sample/transition 0
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
expect_eq "$(cat /proc/cmdline)" "this has been live patched" "upstream's patch works"
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "livegraft's patch works at the same time"
expect_fail "rmmod of the core while a patch module is loaded" rmmod livegraft
grep -q '^livegraft ' /proc/modules || fail "core unloaded under a patch module"
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
expect_fail "rmmod of the core while the disabled patch module is still loaded" rmmod livegraft
rmmod lg_testpatch
echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled
wait_for 30 [ ! -e /sys/kernel/livepatch/livepatch_sample ]
rmmod livepatch_sample
expect_eq "$(cat /proc/cmdline)" "$orig" "cmdline restored"
rmmod lg_target
rmmod livegraft
ok "core unloads once no patch module is left"
