# With no trampoline free (direct_slots=0), every function falls back to an
# IPMODIFY ftrace handler making the same per-task decision: units still
# never mix versions, stacking and unpatching work, nothing takes the fast
# path, and upstream livepatch is still refused on a patched function; a
# replacement's tail call of the original returns.
# timeout: 240
. ./lib.sh
insmod $MODDIR/livegraft.ko direct_slots=0
insmod $MODDIR/lg_target.ko
start_units
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
sleep 1
expect_eq "$(sed -n 's/^fast_path: //p' $LG/lg_testpatch/summary)" 0 "no fast path without trampolines"
grep -q "lg_target_unit.*lg_redirect_handler" /sys/kernel/tracing/enabled_functions \
	|| fail "lg_target_unit is not behind livegraft's ftrace handler: $(cat /sys/kernel/tracing/enabled_functions)"
ok "lg_target_unit behind the ftrace handler"
units_advance syscall 2
units_advance kthread 2
echo wrap > $T
expect_eq "$(sed -n 's/^wrap //p' $T)" 241 "new_wrap's call of orig_wrap reached the original"
insmod $MODDIR/lg_testpatch2.ko
wait_transition_done lg_testpatch2
units_advance syscall 3
disable_patch lg_testpatch2
units_advance syscall 2
disable_patch lg_testpatch
units_advance syscall 1
stop_units
# A replacement that tail-calls the original (lg_tailpatch, scenario 30)
# behind the handler: the stub's call never reaches it.
insmod $MODDIR/lg_tailpatch.ko
wait_transition_done lg_tailpatch
for x in -5 40 1040; do echo "wrap $x" > $T; sed -n 's/^wrap //p' $T; done > /tmp/wraps
expect_eq "$(paste -sd' ' /tmp/wraps)" "200 41 201" "lg_tailpatch behind the handler: replacement, tail call of the original, recursion"
disable_patch lg_tailpatch
insmod $MODDIR/livegraft_cmdline.ko
wait_transition_done livegraft_cmdline
if have_upstream_livepatch; then
	expect_fail "upstream livepatch on a function behind livegraft's handler" insmod $MODDIR/livepatch-sample.ko
fi
expect_eq "$(cat /proc/cmdline)" "this has been live patched by livegraft" "livegraft's patch still in charge"
disable_patch livegraft_cmdline
rmmod lg_target
rmmod livegraft
