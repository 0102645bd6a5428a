# Malformed patch descriptions (lg_badpatch bad=N) are refused: insmod
# fails, dmesg has one clear line naming the problem, no sysfs directory is
# left, the target still runs its original code, and the core still works
# (the good variant loads and unloads afterwards).
# timeout: 180
. ./lib.sh
load_core_and_target
refused() {
	_n=$1; _msg=$2
	dmesg -c > /dev/null
	expect_fail "insmod lg_badpatch bad=$_n" insmod $MODDIR/lg_badpatch.ko bad=$_n
	expect_dmesg "livegraft: $_msg"
	# busybox insmod tries finit_module() then init_module(): each attempt
	# logs the refusal once; one distinct line is one line per attempt.
	[ "$(dmesg | grep 'livegraft:' | sed 's/^\[[^]]*\] //' | sort -u | wc -l)" -eq 1 ] \
		|| fail "bad=$_n: not one dmesg line: $(dmesg | grep livegraft:)"
	[ -z "$(ls $LG)" ] || fail "bad=$_n: sysfs left behind: $(ls $LG)"
	! grep -q '^lg_badpatch ' /proc/modules || fail "bad=$_n: refused patch module stayed loaded"
	echo unit > $T
	[ "$(stat syscall v2)" = 0 ] || fail "bad=$_n: new code ran"
}
refused 1 "'lg_badpatch': empty function name in object 'lg_target'"
refused 2 "'lg_badpatch': object 'lg_target' has no functions"
refused 3 "'lg_badpatch': the patch has no objects"
refused 4 "'lg_badpatch': function 'lg_target_a' listed twice"
refused 5 "'lg_badpatch': object 'lg_target' listed twice"
refused 6 "refusing patch: invalid name \(use 1-55 of \[A-Za-z0-9_-\]\)"
refused 7 "'lg_badpatch': function name of 1000 bytes in object 'lg_target' is too long \(at most 511\)"
refused 8 "'lg_badpatch': replacement for 'lg_target_a' is not code of the patch module \(_printk\+0x0/"
refused 9 "'lg_badpatch': replacement for 'lg_target_a' is not code of the patch module \(.*\[lg_badpatch\]\)"
refused 10 "'lg_badpatch': function 'lg_target_a' has no replacement"
expect_eq "$(stat syscall v1)" 10 "the target ran its original code throughout"
# The core still works: the control variant patches lg_target_a.
insmod $MODDIR/lg_badpatch.ko bad=0
wait_transition_done lg_badpatch
expect_eq "$(cat $LG/lg_badpatch/lg_target/patched)" 1 "good patch applied after the refused ones"
disable_patch lg_badpatch
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "lg_testpatch runs its new code"
disable_patch lg_testpatch
rmmod lg_target
rmmod livegraft
