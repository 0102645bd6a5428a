# Two generated patches on the same function (samples/stacked_a, stacked_b):
# the newest wins, the older cannot be disabled first, and disabling in
# stack order walks back to the original.
# timeout: 120
. ./lib.sh
orig=$(cat /proc/cmdline)
insmod $MODDIR/livegraft.ko
insmod $MODDIR/livegraft_stacked_a.ko
wait_transition_done livegraft_stacked_a
expect_eq "$(cat /proc/cmdline)" "stacked patch a" "first patch runs"
insmod $MODDIR/livegraft_stacked_b.ko
wait_transition_done livegraft_stacked_b
expect_eq "$(cat /proc/cmdline)" "stacked patch b" "newest patch runs"
expect_fail "disabling the older patch first" sh -c "echo 0 > $LG/livegraft_stacked_a/enabled"
expect_eq "$(cat /proc/cmdline)" "stacked patch b" "still the newest"
echo 0 > $LG/livegraft_stacked_b/enabled
wait_for 30 [ ! -e $LG/livegraft_stacked_b ]
expect_eq "$(cat /proc/cmdline)" "stacked patch a" "back to the first patch"
rmmod livegraft_stacked_b
echo 0 > $LG/livegraft_stacked_a/enabled
wait_for 30 [ ! -e $LG/livegraft_stacked_a ]
expect_eq "$(cat /proc/cmdline)" "$orig" "original again"
rmmod livegraft_stacked_a
rmmod livegraft
