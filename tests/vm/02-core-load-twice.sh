# Loading the core twice fails cleanly and leaves the loaded instance intact.
. ./lib.sh

insmod $MODDIR/livegraft.ko
expect_fail "second insmod" insmod $MODDIR/livegraft.ko
[ -d /sys/kernel/livegraft ] || fail "sysfs root lost after the failed second load"
expect_eq "$(dmesg | grep -c 'livegraft: livegraft .* loaded')" 1 "load lines"
rmmod livegraft
[ ! -e /sys/kernel/livegraft ] || fail "sysfs root left behind"
# And it loads again after unload.
insmod $MODDIR/livegraft.ko
[ -d /sys/kernel/livegraft ] || fail "sysfs root missing on reload"
rmmod livegraft
ok "reload works"
