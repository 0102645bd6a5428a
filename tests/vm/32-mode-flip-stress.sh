# Mode flips while CPUs call the patched functions: a second patch is
# stacked on the first and removed again, 8 times, while the target's
# kthread, its work item, a shell loop of syscall units and a loop calling
# lg_target_wrap run. Every stacking and unstacking flips each function's
# trampoline slot from the fast path to the per-task decision and back, so
# the callers keep reading slots that change under them. No unit may mix
# versions, every wrap result must be one whole version's (lg_testpatch's
# new_wrap is orig(x) + 100 * version: 241 or 341; a trampoline that combined
# two publications could send the call of the original back into a
# replacement, e.g. 541 or 641), and no oops.
# timeout: 420
. ./lib.sh
load_core_and_target
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
fast_path_is lg_testpatch 6
start_units
( while :; do
	echo wrap > $T
	r=$(sed -n 's/^wrap //p' $T)
	case $r in
	241|341) ;;
	*) echo "BAD wrap result $r" > /tmp/wrap.bad ;;
	esac
done ) &
WRAPS=$!
i=0
while [ $i -lt 8 ]; do
	insmod $MODDIR/lg_testpatch2.ko
	wait_transition_done lg_testpatch2 60
	fast_path_is lg_testpatch2 6
	units_advance syscall 3
	disable_patch lg_testpatch2
	fast_path_is lg_testpatch 6
	units_advance syscall 2
	[ ! -e /tmp/wrap.bad ] || fail "$(cat /tmp/wrap.bad)"
	i=$((i + 1))
	ok "stacking round $i"
done
kill $WRAPS
stop_units
[ ! -e /tmp/wrap.bad ] || fail "$(cat /tmp/wrap.bad)"
ok "every wrap result was one version's"
disable_patch lg_testpatch
rmmod lg_target
rmmod livegraft
