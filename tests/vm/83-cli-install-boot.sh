# Boot persistence, over a real reboot: boot 1 `livegraft install`s the core
# and two stacked patches under /var/lib/livegraft/<release>/ (b, then a),
# loads them with `livegraft load-all` and saves /var/lib/livegraft (the
# harness puts it into boot 2's initramfs: the test kernel has no block
# device for a disk image). Boot 2 starts with nothing loaded and runs
# `livegraft load-all` (what livegraft.service runs at boot): the core and
# the patches load in install order (a is the newest: /proc/cmdline is a's,
# sorted by name it would be b's). Unloading in the wrong stack order is
# refused with the busy exit code.
# boots: 2
# timeout: 150
. ./lib.sh
orig=$(cat /proc/cmdline | sed 's/ lg\.boot=[0-9]*//')
rel=$(uname -r)
if [ "$LG_BOOT" = 1 ]; then
	[ ! -e /var/lib/livegraft ] || fail "/var/lib/livegraft exists on the first boot"
	livegraft install $MODDIR/livegraft.ko
	livegraft install $MODDIR/livegraft_stacked_b.ko
	livegraft install $MODDIR/livegraft_stacked_a.ko
	ls -l /var/lib/livegraft/$rel
	expect_eq "$(cat /var/lib/livegraft/$rel/order | tr '\n' ' ')" "livegraft_stacked_b.ko livegraft_stacked_a.ko " "install order"
	livegraft list | tee /tmp/list.out
	grep -q "installed, not loaded: livegraft_stacked_b" /tmp/list.out || fail "list: installed patch not shown"
	livegraft load-all --progress plain
	expect_eq "$(cat /proc/cmdline)" "stacked patch a" "boot 1: the newest installed patch runs"
	persist /var/lib/livegraft
	exit 0
fi

echo "--- boot $LG_BOOT: nothing livegraft is loaded; the installed files are back"
[ ! -e $LG ] || fail "core loaded at boot 2 before load-all"
! grep -q "^livegraft" /proc/modules || fail "livegraft modules at boot 2: $(cat /proc/modules)"
[ -f /var/lib/livegraft/$rel/livegraft_stacked_a.ko ] || fail "the installed patches did not survive the reboot"
livegraft load-all --progress plain | tee /tmp/boot.out
expect_eq "$(cat /proc/cmdline)" "stacked patch a" "after load-all: the newest installed patch runs"
expect_dmesg_sequence "livegraft: livegraft .* loaded" \
	"livegraft: enabling patch 'livegraft_stacked_b'" \
	"livegraft: 'livegraft_stacked_b': patching complete" \
	"livegraft: enabling patch 'livegraft_stacked_a'" \
	"livegraft: 'livegraft_stacked_a': patching complete"
livegraft load-all | tee /tmp/again.out
grep -q "already loaded" /tmp/again.out || fail "a second load-all does not skip loaded patches"
rc=0; livegraft unload livegraft_stacked_b >/tmp/o 2>&1 || rc=$?
cat /tmp/o
expect_eq "$rc" 6 "unloading the older stacked patch first: busy"
livegraft uninstall livegraft_stacked_a
[ ! -e /var/lib/livegraft/$rel/livegraft_stacked_a.ko ] || fail "uninstall left the file"
livegraft unload livegraft_stacked_a
livegraft unload livegraft_stacked_b
expect_eq "$(cat /proc/cmdline | sed 's/ lg\.boot=[0-9]*//')" "$orig" "original /proc/cmdline after unloading"
rmmod livegraft
