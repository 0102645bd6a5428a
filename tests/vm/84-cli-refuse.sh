# Modules built for another patch ABI or another kernel are refused by
# `livegraft load` from the file alone, naming what mismatches, before
# anything is loaded: the kernel never sees them (no "enabling patch", no
# "version magic" line), and with no core loaded the core is not loaded
# either. A patch the kernel refuses as busy (a function upstream
# livepatch owns) exits 6 with the kernel's reason. lg_badabi.ko / lg_badkver.ko are lg_testpatch.ko with its
# livegraft_abi or vermagic edited (tools/vm.sh); the kernel would accept
# the first one.
# timeout: 120
. ./lib.sh
rel=$(uname -r)
rc=0; livegraft load --core $MODDIR/livegraft.ko $MODDIR/lg_badabi.ko >/tmp/o 2>&1 || rc=$?
cat /tmp/o
expect_eq "$rc" 5 "ABI mismatch with no core loaded: exit status"
grep -q "built for livegraft patch ABI 1, but the livegraft core implements ABI [0-9]" /tmp/o \
	|| fail "ABI mismatch with the core file not named"
[ ! -e $LG ] || fail "the core was loaded for a patch that cannot load"
load_core_and_target
abi=$(cat /sys/module/livegraft/parameters/abi_version)
rc=0; livegraft load $MODDIR/lg_badabi.ko >/tmp/o 2>&1 || rc=$?
cat /tmp/o
expect_eq "$rc" 5 "ABI mismatch: exit status"
grep -q "built for livegraft patch ABI 1, but the livegraft core implements ABI $abi" /tmp/o || fail "ABI mismatch not named"
grep -q "nothing was loaded" /tmp/o || fail "does not say nothing was loaded"
rc=0; livegraft load $MODDIR/lg_badkver.ko >/tmp/o 2>&1 || rc=$?
cat /tmp/o
expect_eq "$rc" 5 "wrong kernel: exit status"
bad=$(echo "$rel" | sed 's/^6\.12\./9.99./')
grep -q "built for kernel $bad, but the running kernel is $rel" /tmp/o || fail "kernel mismatch not named"
livegraft info $MODDIR/lg_badabi.ko | tee /tmp/o
grep -q "^loadable: *no" /tmp/o || fail "info: the bad module looks loadable"
! grep -q "^lg_testpatch " /proc/modules || fail "a refused module was loaded"
expect_no_dmesg "enabling patch|refusing patch|version magic"
# The good module loads (the refusals were the checks, not a broken command).
livegraft load --wait --timeout 60 --progress none $MODDIR/lg_testpatch.ko
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "the good module patched"
livegraft unload lg_testpatch
# A function another ftrace IPMODIFY user owns (upstream livepatch's
# sample): the kernel refuses the patch; the command says busy, exit 6.
if have_upstream_livepatch; then
	insmod $MODDIR/livepatch-sample.ko
	wait_for 30 file_is /sys/kernel/livepatch/livepatch_sample/transition 0
	rc=0; livegraft load --wait $MODDIR/livegraft_cmdline.ko >/tmp/o 2>&1 || rc=$?
	cat /tmp/o
	expect_eq "$rc" 6 "a function upstream livepatch owns: exit status"
	grep -q "busy: .*another ftrace user" /tmp/o || fail "the busy cause is not named"
	grep -q "failed to register ftrace handler for function 'cmdline_proc_show'" /tmp/o \
		|| fail "the kernel's reason is not shown"
	[ ! -e $LG/livegraft_cmdline ] || fail "sysfs directory left behind"
	echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled
	wait_for 30 [ ! -e /sys/kernel/livepatch/livepatch_sample ]
	rmmod livepatch_sample
fi
rmmod lg_target
rmmod livegraft
