# The sysfs files reject bad input with -EINVAL and change nothing; writing
# the current value is -EINVAL; force outside a transition is -EINVAL;
# permissions are as documented.
# timeout: 120
. ./lib.sh
load_core_and_target
insmod $MODDIR/lg_testpatch.ko
P=$LG/lg_testpatch
wait_transition_done lg_testpatch
expect_eq "$(ls -l $P/enabled | cut -c1-10)" "-rw-r--r--" "enabled permissions"
expect_eq "$(ls -l $P/transition | cut -c1-10)" "-r--r--r--" "transition permissions"
expect_eq "$(ls -l $P/force | cut -c1-10)" "--w-------" "force permissions"
expect_eq "$(ls -l $P/pending_tasks | cut -c1-10)" "-r--r--r--" "pending_tasks permissions"
expect_eq "$(ls -l $P/summary | cut -c1-10)" "-r--r--r--" "summary permissions"
expect_eq "$(cat $P/lg_target/patched)" 1 "<object>/patched"
expect_eq "$(ls -l $P/lg_target/patched | cut -c1-10)" "-r--r--r--" "patched permissions"
for f in lg_target_a lg_target_b lg_target_unit lg_target_block lg_target_hold; do
	[ -d "$P/lg_target/$f,1" ] || fail "no function directory $P/lg_target/$f,1"
done
ok "per-object and per-function directories as upstream"
expect_fail "write to patched" sh -c "echo 0 > $P/lg_target/patched"
long=$(printf '1%.0s' $(seq 1 300))
for bad in "\n" "2" "-1" "01" " 1" "1 " "1\n\n" "yes" "on" "true" "0x1" "$long" "1 0"; do
	expect_fail "enabled <- '$bad'" sh -c "printf '$bad' > $P/enabled"
	expect_eq "$(cat $P/enabled)" 1 "enabled unchanged after '$bad'"
	expect_eq "$(cat $P/transition)" 0 "no transition after '$bad'"
done
for bad in "\n" "2" "0" "x"; do
	expect_fail "force <- '$bad'" sh -c "printf '$bad' > $P/force"
done
expect_fail "enabled <- current value 1" sh -c "echo 1 > $P/enabled"
expect_fail "force outside a transition" sh -c "echo 1 > $P/force"
expect_fail "write to transition" sh -c "echo 0 > $P/transition"
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "still patched after all the bad writes"
echo 0 > $P/enabled
wait_for 30 [ ! -e $P ]
rmmod lg_testpatch
rmmod lg_target
rmmod livegraft
