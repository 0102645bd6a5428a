# Blocked tasks: one sleeps inside a patched function (lg_target_block), one
# in read() on a pipe, one in nanosleep. The pipe reader and the sleeper
# switch by stack check; the task sleeping on the patched function is nudged
# (fake signal): its syscall restarts transparently in the new version and
# must not fail. The transition completes; no unit mixes versions.
# timeout: 180
. ./lib.sh
load_core_and_target
( echo block > $T; echo "blocker rc=$?" > /tmp/blocker.rc ) &
sleep 100 &
sleeper=$!
mkfifo /tmp/pipe
( cat /tmp/pipe > /tmp/pipe.out; echo "reader rc=$?" > /tmp/reader.rc ) &
exec 3>/tmp/pipe          # the only writer: the reader blocks until we close it
wait_for 10 grep -q "^blocked 1" $T
ok "a task blocks inside lg_target_block"

insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch 30
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
expect_dmesg "livegraft-stats: signaling remaining tasks"
cat $LG/lg_testpatch/summary
[ ! -e /tmp/blocker.rc ] || fail "the blocked writer returned early: $(cat /tmp/blocker.rc)"
ok "the nudged writer is still blocked (its syscall restarted)"

echo release > $T
wait_for 10 [ -e /tmp/blocker.rc ]
expect_eq "$(cat /tmp/blocker.rc)" "blocker rc=0" "blocked writer's result"
expect_eq "$(stat blocking v2)" 1 "blocking unit ran the new version"
echo hello >&3
exec 3>&-
wait_for 10 [ -e /tmp/reader.rc ]
expect_eq "$(cat /tmp/reader.rc)" "reader rc=0" "pipe reader's result"
expect_eq "$(cat /tmp/pipe.out)" hello "pipe reader's data"
kill $sleeper
expect_no_mixed
echo 0 > $LG/lg_testpatch/enabled
wait_for 30 [ ! -e $LG/lg_testpatch ]
rmmod lg_testpatch
rmmod lg_target
rmmod livegraft
