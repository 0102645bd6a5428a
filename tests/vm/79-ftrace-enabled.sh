# kernel.ftrace_enabled, as upstream's test-ftrace.sh expects: with
# ftrace_enabled=0 a patch cannot be enabled (EBUSY, upstream's message
# sequence); with a patch enabled, setting ftrace_enabled=0 fails with
# EBUSY and the patch keeps working; with no patch left it can be set again.
# timeout: 180
. ./lib.sh
F=/proc/sys/kernel/ftrace_enabled
load_core_and_target
echo 0 > $F
expect_eq "$(cat $F)" 0 "ftrace_enabled can be turned off with no patch"
expect_fail "enabling a patch with ftrace_enabled=0" insmod $MODDIR/lg_testpatch.ko
grep -q "busy" /tmp/expect_fail.err || fail "insmod error is not EBUSY: $(cat /tmp/expect_fail.err)"
expect_dmesg_sequence "livegraft: enabling patch 'lg_testpatch'" \
	"livegraft: 'lg_testpatch': initializing patching transition" \
	"livegraft: failed to register ftrace handler for function '[a-z_]*' \(-16\)" \
	"livegraft: failed to patch object 'lg_target'" \
	"livegraft: failed to enable patch 'lg_testpatch'" \
	"livegraft: 'lg_testpatch': canceling patching transition, going to unpatch" \
	"livegraft: 'lg_testpatch': completing unpatching transition" \
	"livegraft: 'lg_testpatch': unpatching complete"
[ ! -e $LG/lg_testpatch ] || fail "the refused patch left a directory"
echo unit > $T
expect_eq "$(stat syscall v1)" 1 "nothing patched"
echo 1 > $F
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "patched with ftrace_enabled=1"
expect_fail "turning ftrace_enabled off with a patch enabled" sh -c "echo 0 > $F"
grep -qi "busy" /tmp/expect_fail.err || fail "sysctl error is not EBUSY: $(cat /tmp/expect_fail.err)"
expect_eq "$(cat $F)" 1 "ftrace_enabled still 1"
echo unit > $T
expect_eq "$(stat syscall v2)" 2 "the patch still works"
disable_patch lg_testpatch
echo 0 > $F
expect_eq "$(cat $F)" 0 "ftrace_enabled can be turned off once the patch is gone"
echo 1 > $F
rmmod lg_target
rmmod livegraft
