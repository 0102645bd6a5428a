# A user_return request (a task_work, which no module can cancel) outlives
# its transition: a task that got one while it ran in the kernel and then
# sleeps there keeps it queued after both transitions completed. The request
# holds a reference on livegraft.ko, so the module cannot be unloaded under
# it (rmmod fails, refcnt 1); when the task finally returns to user mode
# the request runs with no transition armed, changes nothing, and drops the
# reference as its last action; then livegraft.ko unloads cleanly.
# timeout: 180
# The task spins inside the patched lg_target_spin() (lg_tailpatch replaces
# it): a pass that finds it on its CPU queues the request, one that finds it
# runnable stack-checks it and finds the old function. The passes run on
# livegraft's workers: on a CPU of its own the spinner is on its CPU whenever
# a pass looks (sharing one with them, a preemptible kernel has it preempted
# by the SCHED_FIFO worker at every pass, and it is only stack-checked). So
# the workers go to cpu0 and the spinner to cpu1.
. ./lib.sh
load_core_and_target
for comm in /proc/[0-9]*/comm; do
	case "$(cat $comm 2>/dev/null)" in
	livegraft|livegraft-setup)
		pid=${comm#/proc/}; pid=${pid%/comm}
		taskset -p -c 0 $pid > /dev/null ;;
	esac
done
kbusy_is() { grep -q "^kbusy $1$" $T; }
( taskset -c 1 sh -c "echo kbusy > $T"; echo "kbusy rc=$?" > /tmp/kbusy.rc ) &
wait_for 10 kbusy_is 1
ok "a task spins in the kernel"
insmod $MODDIR/lg_tailpatch.ko
wait_for 10 kbusy_is 2
ok "the task sleeps in the kernel without having returned to user mode"
wait_transition_done lg_tailpatch 30
expect_dmesg "livegraft: 'lg_tailpatch': patching complete"
disable_patch lg_tailpatch
expect_dmesg "livegraft: 'lg_tailpatch': unpatching complete"
expect_eq "$(cat /sys/module/livegraft/refcnt)" 1 "livegraft references: the sleeping task's request"
expect_fail "rmmod livegraft while a request is queued" rmmod livegraft
[ ! -e /tmp/kbusy.rc ] || fail "the task returned early: $(cat /tmp/kbusy.rc)"
echo kwake > $T
wait_for 10 [ -e /tmp/kbusy.rc ]
expect_eq "$(cat /tmp/kbusy.rc)" "kbusy rc=0" "the sleeping task's write"
wait_for 10 file_is /sys/module/livegraft/refcnt 0
ok "the request ran on the way back to user mode and dropped its reference"
rmmod lg_target
rmmod livegraft
expect_no_dmesg "MIXED"
