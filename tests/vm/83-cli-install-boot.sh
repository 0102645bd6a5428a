# Boot persistence: `livegraft install` keeps the core and two stacked
# patches under /var/lib/livegraft/<release>/ (installed b, then a); a
# simulated reboot removes everything livegraft loaded (the module state of
# a fresh boot; /var/lib survives, as a disk would), then `livegraft
# load-all` (what livegraft.service runs at boot) loads the core and the
# patches in install order: a is the newest, so /proc/cmdline is a's.
# Unloading in the wrong stack order is refused with the busy exit code.
# timeout: 180
. ./lib.sh
orig=$(cat /proc/cmdline)
rel=$(uname -r)
livegraft install $MODDIR/livegraft.ko
livegraft install $MODDIR/livegraft_stacked_b.ko
livegraft install $MODDIR/livegraft_stacked_a.ko
ls -l /var/lib/livegraft/$rel
expect_eq "$(cat /var/lib/livegraft/$rel/order | tr '\n' ' ')" "livegraft_stacked_b.ko livegraft_stacked_a.ko " "install order"
livegraft list | tee /tmp/list.out
grep -q "installed, not loaded: livegraft_stacked_b" /tmp/list.out || fail "list: installed patch not shown"
# First boot: load them now, as an administrator would.
livegraft load-all --progress plain
expect_eq "$(cat /proc/cmdline)" "stacked patch a" "first boot: the newest installed patch runs"

echo "--- simulated reboot: unload everything livegraft loaded"
rc=0; livegraft unload livegraft_stacked_b >/tmp/o 2>&1 || rc=$?
cat /tmp/o
expect_eq "$rc" 6 "unloading the older stacked patch first: busy"
livegraft unload livegraft_stacked_a
livegraft unload livegraft_stacked_b
rmmod livegraft
[ ! -e $LG ] || fail "core still loaded"
! grep -q "^livegraft" /proc/modules || fail "livegraft modules left: $(cat /proc/modules)"
expect_eq "$(cat /proc/cmdline)" "$orig" "original /proc/cmdline after the teardown"
dmesg -c >/dev/null

echo "--- second boot: livegraft load-all"
livegraft load-all --progress plain | tee /tmp/boot.out
expect_eq "$(cat /proc/cmdline)" "stacked patch a" "after load-all: the newest installed patch runs"
expect_dmesg_sequence "livegraft: livegraft .* loaded" \
	"livegraft: enabling patch 'livegraft_stacked_b'" \
	"livegraft: 'livegraft_stacked_b': patching complete" \
	"livegraft: enabling patch 'livegraft_stacked_a'" \
	"livegraft: 'livegraft_stacked_a': patching complete"
livegraft load-all | tee /tmp/again.out
grep -q "already loaded" /tmp/again.out || fail "a second load-all does not skip loaded patches"
livegraft uninstall livegraft_stacked_a
[ ! -e /var/lib/livegraft/$rel/livegraft_stacked_a.ko ] || fail "uninstall left the file"
livegraft unload livegraft_stacked_a
livegraft unload livegraft_stacked_b
rmmod livegraft
