# Objects loaded later: lg_latepatch patches lg_target (loaded) and lg_late,
# a module that is not loaded when the patch is enabled. The patch is
# accepted; when lg_late loads it is patched before its init runs (the init
# sees version 2), with upstream's dmesg line, and <object>/patched follows;
# when it unloads the patch is reverted on it ("reverting patch ..."), and
# a second load patches it again. Disabling the patch reverts lg_late too.
# A patch that names a function lg_late does not have refuses its load, with
# upstream's messages, and leaves nothing behind.
# timeout: 240
. ./lib.sh
load_core_and_target
insmod $MODDIR/lg_latepatch.ko
wait_transition_done lg_latepatch
ok "a patch whose object is not loaded is accepted"
expect_eq "$(cat $LG/lg_latepatch/lg_target/patched)" 1 "loaded object patched"
expect_eq "$(cat $LG/lg_latepatch/lg_late/patched)" 0 "object not loaded yet: not patched"
[ -d "$LG/lg_latepatch/lg_late/lg_late_value,1" ] || fail "no function directory for the later object"
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "loaded object runs the patch"
for round in 1 2; do
	insmod $MODDIR/lg_late.ko
	expect_eq "$(cat /proc/lg_late)" "init=2 now=2" "round $round: lg_late patched before its init ran"
	expect_eq "$(cat $LG/lg_latepatch/lg_late/patched)" 1 "round $round: lg_late/patched"
	[ "$(dmesg | grep -c "livegraft: applying patch 'lg_latepatch' to loading module 'lg_late'")" = $round ] \
		|| fail "round $round: no (or too many) 'applying patch' lines: $(dmesg | grep applying)"
	ok "round $round: dmesg: applying patch 'lg_latepatch' to loading module 'lg_late'"
	rmmod lg_late
	expect_eq "$(cat $LG/lg_latepatch/lg_late/patched)" 0 "round $round: lg_late/patched after unload"
	[ "$(dmesg | grep -c "livegraft: reverting patch 'lg_latepatch' on unloading module 'lg_late'")" = $round ] \
		|| fail "round $round: no (or too many) 'reverting patch' lines"
	ok "round $round: dmesg: reverting patch 'lg_latepatch' on unloading module 'lg_late'"
done
# Loaded again, then the patch is disabled while lg_late stays loaded.
insmod $MODDIR/lg_late.ko
expect_eq "$(cat /proc/lg_late)" "init=2 now=2" "third load patched"
echo 0 > $LG/lg_latepatch/enabled
wait_for 30 [ ! -e $LG/lg_latepatch ]
expect_eq "$(cat /proc/lg_late)" "init=2 now=1" "lg_late reverted with the patch"
rmmod lg_latepatch
echo unit > $T
expect_eq "$(stat syscall v1)" 1 "lg_target original again"
rmmod lg_late
insmod $MODDIR/lg_late.ko
expect_eq "$(cat /proc/lg_late)" "init=1 now=1" "no patch: lg_late loads unpatched"
rmmod lg_late
insmod $MODDIR/lg_latepatch.ko bogus=1
wait_transition_done lg_latepatch
expect_fail "loading a module the patch cannot be applied to" insmod $MODDIR/lg_late.ko
expect_dmesg_sequence "livegraft: 'lg_latepatch': symbol 'lg_late_missing' not found in symbol table of object 'lg_late'" \
	"livegraft: failed to initialize patch 'lg_latepatch' for module 'lg_late' \(-2\)" \
	"livegraft: patch 'lg_latepatch' failed for module 'lg_late', refusing to load module 'lg_late'"
[ ! -e /proc/lg_late ] || fail "the refused module's init ran"
! grep -q "^lg_late " /proc/modules || fail "the refused module is loaded"
expect_eq "$(cat $LG/lg_latepatch/lg_late/patched)" 0 "refused object not patched"
disable_patch lg_latepatch
insmod $MODDIR/lg_late.ko
expect_eq "$(cat /proc/lg_late)" "init=1 now=1" "loads unpatched once the patch is gone"
rmmod lg_late
rmmod lg_target
rmmod livegraft
