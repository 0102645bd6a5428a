# With no trampoline free (direct_slots=0), every function falls back to an
# IPMODIFY ftrace handler making the same per-task decision: units still
# never mix versions, stacking and unpatching work, nothing takes the fast
# path, and upstream livepatch is still refused on a patched function.
# timeout: 240
. ./lib.sh
insmod $MODDIR/livegraft.ko direct_slots=0
insmod $MODDIR/lg_target.ko
echo "kthread on" > $T
echo "work on" > $T
( while :; do echo unit > $T; done ) &
loop=$!
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
sleep 1
expect_eq "$(sed -n 's/^fast_path: //p' $LG/lg_testpatch/summary)" 0 "no fast path without trampolines"
grep -q "lg_target_unit.*lg_redirect_handler" /sys/kernel/tracing/enabled_functions \
	|| fail "lg_target_unit is not behind livegraft's ftrace handler: $(cat /sys/kernel/tracing/enabled_functions)"
ok "lg_target_unit behind the ftrace handler"
before=$(stat syscall v2); kb=$(stat kthread v2)
sleep 1
[ "$(stat syscall v2)" -gt "$before" ] || fail "syscall units do not run version 2"
[ "$(stat kthread v2)" -gt "$kb" ] || fail "kthread units do not run version 2"
echo wrap > $T
expect_eq "$(sed -n 's/^wrap //p' $T)" 241 "new_wrap's call of lg_target_wrap reached the original"
insmod $MODDIR/lg_testpatch2.ko
wait_transition_done lg_testpatch2
before=$(stat syscall v3)
sleep 1
[ "$(stat syscall v3)" -gt "$before" ] || fail "units do not run version 3 after stacking"
echo 0 > $LG/lg_testpatch2/enabled
wait_for 30 [ ! -e $LG/lg_testpatch2 ]
rmmod lg_testpatch2
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
rmmod lg_testpatch
before=$(stat syscall v1)
sleep 1
[ "$(stat syscall v1)" -gt "$before" ] || fail "units do not run version 1 after unpatching"
kill $loop
echo "kthread off" > $T
echo "work off" > $T
expect_no_mixed
insmod $MODDIR/livegraft_cmdline.ko
wait_transition_done livegraft_cmdline
expect_fail "upstream livepatch on a function behind livegraft's handler" insmod $MODDIR/livepatch-sample.ko
expect_eq "$(cat /proc/cmdline)" "this has been live patched by livegraft" "livegraft's patch still in charge"
echo 0 > $LG/livegraft_cmdline/enabled
wait_for 30 [ ! -e $LG/livegraft_cmdline ]
rmmod livegraft_cmdline
rmmod lg_target
rmmod livegraft
