# Reading pending_tasks is cheap and has no side effect: it reports what the
# transition work found at its last pass, and runs no pass of its own (no
# stack walk, switch, IPI or nudge, no effect on the work's backoff), so any
# user who can read the 0444 file can neither drive nor perturb a
# transition. A kthread asleep in an old function holds the transition
# open; 50 reads in a row must not add passes beyond the work's own (at most
# one per 250 ms once its backoff reached the cap), and still name the
# holder.
# timeout: 120
. ./lib.sh
load_core_and_target
P=$LG/lg_testpatch
field() { sed -n "s/^$1: //p" $P/summary; }
echo hold > $T
insmod $MODDIR/lg_testpatch.ko
sleep 3
expect_eq "$(cat $P/transition)" 1 "the holder keeps the transition open"
grep -q "lg_target_hold sleeping-on lg_target_hold+0x" $P/pending_tasks \
	|| fail "pending_tasks does not name the holder: $(cat $P/pending_tasks)"
ok "pending_tasks names the holder"
p0=$(field passes)
e0=$(field elapsed_ms)
[ -n "$p0" ] && [ -n "$e0" ] || fail "summary lacks passes or elapsed_ms: $(cat $P/summary)"
i=0
while [ $i -lt 50 ]; do
	read -r line < $P/pending_tasks || true
	i=$((i + 1))
done
p1=$(field passes)
e1=$(field elapsed_ms)
allowed=$(( (e1 - e0) / 250 + 2 ))
echo "50 reads in $((e1 - e0)) ms: passes $p0 -> $p1 (the work's own: at most $allowed)"
[ $((p1 - p0)) -le $allowed ] || fail "reading pending_tasks ran passes: $p0 -> $p1 in $((e1 - e0)) ms"
ok "reads of pending_tasks ran no pass"
echo unhold > $T
wait_transition_done lg_testpatch 30
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
disable_patch lg_testpatch
rmmod lg_target
rmmod livegraft
