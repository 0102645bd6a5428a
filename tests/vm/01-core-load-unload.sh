# The core module loads, creates /sys/kernel/livegraft/, prints its version,
# and unloads cleanly, removing the directory.
. ./lib.sh

[ ! -e /sys/kernel/livegraft ] || fail "/sys/kernel/livegraft exists before load"
insmod $MODDIR/livegraft.ko
[ -d /sys/kernel/livegraft ] || fail "/sys/kernel/livegraft missing after load"
ok "sysfs root present"
grep -q '^livegraft ' /proc/modules || fail "livegraft not in /proc/modules"
expect_dmesg '^\[ *[0-9.]+\] livegraft: livegraft [0-9]+\.[0-9]+\.[0-9]+ loaded'
rmmod livegraft
[ ! -e /sys/kernel/livegraft ] || fail "/sys/kernel/livegraft still there after rmmod"
! grep -q '^livegraft ' /proc/modules || fail "livegraft still in /proc/modules"
expect_dmesg 'livegraft: livegraft unloaded'
ok "unloaded cleanly"
