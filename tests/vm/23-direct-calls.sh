# Direct calls: every patched function is called through a livegraft
# trampoline, which takes the fast path once a transition completes (summary:
# fast_path) and still runs the right version; a replacement's call of the
# original (its LIVEGRAFT_ORIGINAL stub) reaches the original, with one patch
# or two stacked; stacking and unpatching go back
# through the per-task decision without mixing versions; upstream livepatch
# still cannot take a function livegraft patches (and can right after
# livegraft lets it go), and ftrace cannot be turned off under the patches.
# The trampolines are built for the kernel's mitigations (host check).
# host-check: tools/check-trampolines.sh
# timeout: 300
. ./lib.sh
NFUNCS=6

load_core_and_target
expect_eq "$(wrap)" 41 "lg_target_wrap unpatched"
start_units

insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
fast_path_is lg_testpatch $NFUNCS
grep -A1 "^lg_target_unit " /sys/kernel/tracing/enabled_functions | grep -q "direct-->lg_dt_" \
	|| fail "lg_target_unit's call site does not call a livegraft trampoline: $(cat /sys/kernel/tracing/enabled_functions)"
ok "lg_target_unit's call site calls a livegraft trampoline"
# Direct ops cannot be PERMANENT; livegraft's anchor ops keeps ftrace on.
[ -e /proc/sys/kernel/ftrace_enabled ] || fail "no kernel.ftrace_enabled sysctl"
expect_fail "turning ftrace off under direct calls" sh -c 'echo 0 > /proc/sys/kernel/ftrace_enabled'
expect_eq "$(cat /proc/sys/kernel/ftrace_enabled)" 1 "ftrace still on"
units_advance syscall 2
units_advance kthread 2
units_advance work 2
expect_eq "$(wrap)" 241 "new_wrap ran and its call of orig_wrap reached the original"

# Stack a second patch on the fast paths, then remove it again.
insmod $MODDIR/lg_testpatch2.ko
wait_transition_done lg_testpatch2
fast_path_is lg_testpatch2 $NFUNCS
fast_path_is lg_testpatch 0
units_advance syscall 3
expect_eq "$(wrap)" 341 "version 3's new_wrap reaches the original, not version 2"
disable_patch lg_testpatch2
fast_path_is lg_testpatch $NFUNCS
units_advance syscall 2
expect_eq "$(wrap)" 241 "version 2 again after unstacking"

disable_patch lg_testpatch
units_advance syscall 1
expect_eq "$(wrap)" 41 "original again"
stop_units

# Upstream livepatch on a function livegraft routes through a direct call.
insmod $MODDIR/livegraft_cmdline.ko
wait_transition_done livegraft_cmdline
fast_path_is livegraft_cmdline 1
if have_upstream_livepatch; then
	expect_fail "upstream livepatch on a function livegraft routes through a direct call" insmod $MODDIR/livepatch-sample.ko
	expect_eq "$(cat /proc/cmdline)" "this has been live patched by livegraft" "livegraft's patch still in charge"
	disable_patch livegraft_cmdline
	# Once the disable is seen complete the function is free again, at once.
	insmod $MODDIR/livepatch-sample.ko
	wait_for 30 file_is /sys/kernel/livepatch/livepatch_sample/transition 0
	expect_eq "$(cat /proc/cmdline)" "this has been live patched" "upstream livepatch right after livegraft's disable"
	echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled
	wait_for 30 [ ! -e /sys/kernel/livepatch/livepatch_sample ]
	rmmod livepatch_sample
else
	disable_patch livegraft_cmdline
fi
rmmod lg_target
rmmod livegraft
