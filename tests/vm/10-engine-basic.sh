# Enable and disable a patch while user tasks, a kthread and a work item run
# units of work through the patched functions: every unit ran all-old or
# all-new code, new code runs after enabling, old code after disabling, and
# dmesg shows upstream's message sequence.
# timeout: 240
. ./lib.sh
load_core_and_target
echo "kthread on" > $T
echo "fkthread on" > $T
echo "work on" > $T
( while :; do echo unit > $T; done ) &
loop1=$!
( while :; do echo unit > $T; done ) &
loop2=$!
sleep 1
expect_eq "$(stat syscall v2)" 0 "units of version 2 before the patch"

insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
expect_eq "$(cat $LG/lg_testpatch/enabled)" 1 "enabled"
expect_dmesg_sequence "livegraft: enabling patch 'lg_testpatch'" \
	"livegraft: 'lg_testpatch': initializing patching transition" \
	"livegraft: 'lg_testpatch': starting patching transition" \
	"livegraft: 'lg_testpatch': completing patching transition" \
	"livegraft: 'lg_testpatch': patching complete"
before=$(stat syscall v2); kb=$(stat kthread v2); wb=$(stat work v2)
sleep 1
[ "$(stat syscall v2)" -gt "$before" ] || fail "syscall units do not run version 2 after patching"
[ "$(stat kthread v2)" -gt "$kb" ] || fail "kthread units do not run version 2"
[ "$(stat work v2)" -gt "$wb" ] || fail "work units do not run version 2"
ok "all kinds run the new code"
expect_no_mixed
expect_fail "rmmod while enabled" rmmod lg_testpatch

echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
expect_dmesg_sequence "livegraft: 'lg_testpatch': initializing unpatching transition" \
	"livegraft: 'lg_testpatch': starting unpatching transition" \
	"livegraft: 'lg_testpatch': completing unpatching transition" \
	"livegraft: 'lg_testpatch': unpatching complete"
before=$(stat syscall v1); kb=$(stat kthread v1)
sleep 1
[ "$(stat syscall v1)" -gt "$before" ] || fail "syscall units do not run version 1 after unpatching"
[ "$(stat kthread v1)" -gt "$kb" ] || fail "kthread units do not run version 1 after unpatching"
ok "old code runs again"
rmmod lg_testpatch
kill $loop1 $loop2
echo "kthread off" > $T
echo "fkthread off" > $T
echo "work off" > $T
expect_no_mixed
cat $T
rmmod lg_target
rmmod livegraft
