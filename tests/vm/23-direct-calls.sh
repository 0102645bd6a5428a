# Direct calls: every patched function is called through a livegraft
# trampoline, which takes the fast path once a transition completes (summary:
# fast_path) and still runs the right version; a replacement that calls the function it replaces
# reaches the original; stacking and unpatching go back through the per-task
# handler without mixing versions; upstream livepatch still cannot take a
# function livegraft patches, and ftrace cannot be turned off under them.
# timeout: 300
. ./lib.sh
NFUNCS=6
fast_path() { sed -n 's/^fast_path: //p' $LG/$1/summary; }
wrap() { echo wrap > $T; sed -n 's/^wrap //p' $T; }

load_core_and_target
expect_eq "$(wrap)" 41 "lg_target_wrap unpatched"
echo "kthread on" > $T
echo "work on" > $T
( while :; do echo unit > $T; done ) &
loop=$!

insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
wait_for 30 sh -c "[ \"\$(sed -n 's/^fast_path: //p' $LG/lg_testpatch/summary)\" = $NFUNCS ]" \
	|| fail "not every function on the fast path: $(cat $LG/lg_testpatch/summary)"
ok "all $NFUNCS functions on the fast path"
grep -A1 "^lg_target_unit " /sys/kernel/tracing/enabled_functions | grep -q "direct-->lg_dt_" \
	|| fail "lg_target_unit's call site does not call a livegraft trampoline: $(cat /sys/kernel/tracing/enabled_functions)"
ok "lg_target_unit's call site calls a livegraft trampoline"
# Direct ops cannot be PERMANENT; livegraft's anchor ops keeps ftrace on.
[ -e /proc/sys/kernel/ftrace_enabled ] || fail "no kernel.ftrace_enabled sysctl"
expect_fail "turning ftrace off under direct calls" sh -c 'echo 0 > /proc/sys/kernel/ftrace_enabled'
expect_eq "$(cat /proc/sys/kernel/ftrace_enabled)" 1 "ftrace still on"
before=$(stat syscall v2); kb=$(stat kthread v2); wb=$(stat work v2)
sleep 1
[ "$(stat syscall v2)" -gt "$before" ] || fail "syscall units do not run version 2 through the direct calls"
[ "$(stat kthread v2)" -gt "$kb" ] || fail "kthread units do not run version 2 through the direct calls"
[ "$(stat work v2)" -gt "$wb" ] || fail "work units do not run version 2 through the direct calls"
expect_eq "$(wrap)" 241 "new_wrap ran and its call of lg_target_wrap reached the original"

# Stack a second patch on the direct calls, then remove it again.
insmod $MODDIR/lg_testpatch2.ko
wait_transition_done lg_testpatch2
wait_for 30 sh -c "[ \"\$(sed -n 's/^fast_path: //p' $LG/lg_testpatch2/summary)\" = $NFUNCS ]" \
	|| fail "stacked patch not on the fast path: $(cat $LG/lg_testpatch2/summary)"
expect_eq "$(fast_path lg_testpatch)" 0 "the covered patch has no fast path of its own"
before=$(stat syscall v3)
sleep 1
[ "$(stat syscall v3)" -gt "$before" ] || fail "units do not run version 3 after stacking"
expect_eq "$(wrap)" 341 "version 3's new_wrap reaches the original, not version 2"
echo 0 > $LG/lg_testpatch2/enabled
wait_for 30 [ ! -e $LG/lg_testpatch2 ]
rmmod lg_testpatch2
wait_for 30 sh -c "[ \"\$(sed -n 's/^fast_path: //p' $LG/lg_testpatch/summary)\" = $NFUNCS ]" \
	|| fail "back to version 2 but not on the fast path: $(cat $LG/lg_testpatch/summary)"
before=$(stat syscall v2)
sleep 1
[ "$(stat syscall v2)" -gt "$before" ] || fail "units do not run version 2 after unstacking"
expect_eq "$(wrap)" 241 "version 2 again after unstacking"

echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
rmmod lg_testpatch
before=$(stat syscall v1)
sleep 1
[ "$(stat syscall v1)" -gt "$before" ] || fail "units do not run version 1 after unpatching"
expect_eq "$(wrap)" 41 "original again"
kill $loop
echo "kthread off" > $T
echo "work off" > $T
expect_no_mixed

# Upstream livepatch on a function livegraft routes through a direct call.
insmod $MODDIR/livegraft_cmdline.ko
wait_transition_done livegraft_cmdline
wait_for 30 sh -c "[ \"\$(sed -n 's/^fast_path: //p' $LG/livegraft_cmdline/summary)\" = 1 ]" \
	|| fail "cmdline sample not on the fast path"
expect_fail "upstream livepatch on a function livegraft routes through a direct call" insmod $MODDIR/livepatch-sample.ko
expect_eq "$(cat /proc/cmdline)" "this has been live patched by livegraft" "livegraft's patch still in charge"
echo 0 > $LG/livegraft_cmdline/enabled
wait_for 30 [ ! -e $LG/livegraft_cmdline ]
rmmod livegraft_cmdline
# Once the disable is seen complete the function is free again, at once.
insmod $MODDIR/livepatch-sample.ko
wait_for 30 file_is /sys/kernel/livepatch/livepatch_sample/transition 0
expect_eq "$(cat /proc/cmdline)" "this has been live patched" "upstream livepatch right after livegraft's disable"
echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled
wait_for 30 [ ! -e /sys/kernel/livepatch/livepatch_sample ]
rmmod livepatch_sample
rmmod lg_target
rmmod livegraft
