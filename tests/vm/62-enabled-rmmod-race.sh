# Two shell loops write 0 and 1 to enabled while a third loop tries
# `rmmod lg_testpatch` (and loads it again once it is gone), with units
# running, for 10 s. rmmod must fail while the patch is registered and
# succeed once it is disabled and its unpatching is done. The end state is
# consistent: either the module is loaded with its patch fully applied, or
# the module is gone; no unit mixed versions (the harness checks the
# console for oops/WARN/lockdep).
# timeout: 240
. ./lib.sh
load_core_and_target
P=$LG/lg_testpatch
start_units
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
: > /tmp/rm_ok; : > /tmp/rm_fail; : > /tmp/ins_ok; : > /tmp/wr_ok
end=$(( $(date +%s) + 10 ))
writer() {
	while [ "$(date +%s)" -lt $end ]; do
		echo 0 > $P/enabled 2>/dev/null && printf . >> /tmp/wr_ok
		echo 1 > $P/enabled 2>/dev/null && printf . >> /tmp/wr_ok
	done
}
writer & w1=$!
writer & w2=$!
(
	while [ "$(date +%s)" -lt $end ]; do
		if rmmod lg_testpatch 2>/dev/null; then
			printf . >> /tmp/rm_ok
			# Unloaded: nothing of the patch may be left.
			[ ! -e $P ] || echo "FAIL: $P left after rmmod" >> /tmp/race_fail
			insmod $MODDIR/lg_testpatch.ko 2>/dev/null && printf . >> /tmp/ins_ok
		else
			printf . >> /tmp/rm_fail
		fi
	done
) & r=$!
wait $w1 $w2 $r
[ ! -s /tmp/race_fail ] || fail "$(cat /tmp/race_fail)"
echo "writes accepted: $(wc -c < /tmp/wr_ok); rmmod ok: $(wc -c < /tmp/rm_ok), refused: $(wc -c < /tmp/rm_fail); insmod ok: $(wc -c < /tmp/ins_ok)"
[ "$(wc -c < /tmp/rm_ok)" -ge 1 ] || fail "rmmod never succeeded: the race was not exercised"
[ "$(wc -c < /tmp/rm_fail)" -ge 1 ] || fail "rmmod never refused"
ok "rmmod refused while registered, succeeded once unpatched"
# End state: settle whatever transition is in flight, then it is either
# loaded and fully patched, or loaded with its patch gone, or unloaded.
if grep -q '^lg_testpatch ' /proc/modules; then
	if [ -e $P ]; then
		wait_transition_done lg_testpatch
		if [ "$(cat $P/enabled)" = 1 ]; then
			expect_eq "$(cat $P/lg_target/patched)" 1 "end state: patched"
			units_advance syscall 2
			disable_patch lg_testpatch
		else
			wait_for 30 [ ! -e $P ]
			rmmod lg_testpatch
		fi
	else
		rmmod lg_testpatch
	fi
fi
[ ! -e $P ] || fail "sysfs left after the final rmmod"
units_advance syscall 1
stop_units
ok "end state consistent"
rmmod lg_target
rmmod livegraft
