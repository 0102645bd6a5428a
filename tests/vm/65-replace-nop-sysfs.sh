# sysfs of the nops of an atomic replace, as upstream shows them
# (kernel/livepatch/core.c: klp_add_nops() gives each nop a klp_func whose
# klp_init_func() adds <object>/<function,sympos>/, and an object only nops
# use is a dynamic klp_object with its own directory and `patched` file;
# klp_discard_nops() removes both when the replace completes).
# lg_testpatch (v2, six functions of lg_target) and the generated
# livegraft_cmdline (cmdline_proc_show in vmlinux) are enabled; lg_replace
# (v4, replace) replaces lg_target_a and lg_target_unit only. While a task
# asleep in v2's lg_target_block holds the replacing transition open, the
# cumulative patch shows a directory for each of its nops; once it
# completes, only its own functions are left.
# timeout: 240
. ./lib.sh
orig=$(cat /proc/cmdline)
patches_with_blocker lg_testpatch livegraft_cmdline
insmod $MODDIR/lg_replace.ko
sleep 2
expect_eq "$(cat $LG/lg_replace/transition)" 1 "the sleeper holds the replacing transition"
ls -R $LG/lg_replace
expect_eq "$(ls $LG/lg_replace/lg_target | grep , | sort | paste -sd' ')" \
	"lg_target_a,1 lg_target_b,1 lg_target_block,1 lg_target_hold,1 lg_target_unit,1 lg_target_wrap,1" \
	"function directories of lg_target during the replace (own functions and nops)"
[ -d "$LG/lg_replace/vmlinux/cmdline_proc_show,1" ] || fail "no vmlinux/cmdline_proc_show,1 for the nop during the replace"
ok "the nop of cmdline_proc_show has its directory in a vmlinux object directory"
expect_eq "$(cat $LG/lg_replace/vmlinux/patched)" 1 "vmlinux/patched of the nop-only object during the replace"
expect_eq "$(cat $LG/lg_replace/lg_target/patched)" 1 "lg_target/patched during the replace"
echo release > $T
wait_for 10 [ -e /tmp/blocker.rc ]
expect_eq "$(cat /tmp/blocker.rc)" "blocker rc=0" "blocked writer's result"
wait_transition_done lg_replace 60
expect_dmesg "livegraft: 'lg_replace': patching complete"
wait_for 10 [ ! -e $LG/lg_testpatch ]
wait_for 10 [ ! -e $LG/livegraft_cmdline ]
ls -R $LG/lg_replace
expect_eq "$(ls $LG/lg_replace/lg_target | grep , | sort | paste -sd' ')" \
	"lg_target_a,1 lg_target_unit,1" "function directories of lg_target after the replace (nops discarded)"
[ ! -e $LG/lg_replace/vmlinux ] || fail "the nop-only vmlinux object directory is left after the replace"
ok "the nop-only object's directory is gone after the replace"
expect_eq "$(cat /proc/cmdline)" "$orig" "cmdline_proc_show is the original again"
expect_eq "$(cat $LG/lg_replace/lg_target/patched)" 1 "lg_target/patched after the replace"
rmmod livegraft_cmdline
rmmod lg_testpatch
disable_patch lg_replace
rmmod lg_target
rmmod livegraft
