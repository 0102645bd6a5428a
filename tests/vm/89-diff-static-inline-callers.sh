# From a source fix to a live patch: tests/corpus/03-static-inline-two-callers.patch
# changes the static inline get_task_state() of fs/proc/array.c (the reading
# task is "r (running, fixed)"). `livegraft-gen diff --build` finds its two
# callers changed by the object comparison, proc_pid_status() and
# do_task_stat(), and replaces both: /proc/self/status (State:) and
# /proc/self/stat (field 3) both show the fix, another task's state does not
# change, and both are back after a clean disable and unload.
# timeout: 120
. ./lib.sh
P=livegraft_03_static_inline_two_callers
insmod $MODDIR/livegraft.ko
state() { sed -n 's/^State:	//p' /proc/self/status; }
statf() { cut -d' ' -f3 /proc/self/stat; }
expect_eq "$(state)" "R (running)" "State: of /proc/self/status before"
expect_eq "$(statf)" "R" "field 3 of /proc/self/stat before"
init_state=$(sed -n 's/^State:	//p' /proc/1/status)
insmod $MODDIR/$P.ko
wait_transition_done $P
expect_dmesg "livegraft: '$P': patching complete"
[ -d $LG/$P/vmlinux/proc_pid_status,1 ] || fail "no sysfs directory for proc_pid_status"
[ -d $LG/$P/vmlinux/do_task_stat,1 ] || fail "no sysfs directory for do_task_stat"
expect_eq "$(state)" "r (running, fixed)" "State: of /proc/self/status (caller 1, proc_pid_status)"
expect_eq "$(statf)" "r" "field 3 of /proc/self/stat (caller 2, do_task_stat)"
expect_eq "$(sed -n 's/^State:	//p' /proc/1/status)" "$init_state" "State: of init (not the reading task): the kernel's table"
disable_patch $P
expect_eq "$(state)" "R (running)" "State: of /proc/self/status after unpatching"
expect_eq "$(statf)" "R" "field 3 of /proc/self/stat after unpatching"
rmmod livegraft
