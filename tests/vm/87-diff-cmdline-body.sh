# From a source fix to a live patch: tests/corpus/01-cmdline-body.patch (a
# diff of fs/proc/cmdline.c that makes cmdline_proc_show() print "fixed: "
# first) turned into a module by `livegraft-gen diff --build`
# (tools/gen-samples.sh). The changed function reads saved_command_line,
# which vmlinux does not export: the module declares it and livegraft
# resolves it at load. /proc/cmdline shows the fix, then the original after
# a clean disable and unload.
# timeout: 120
. ./lib.sh
P=livegraft_01_cmdline_body
insmod $MODDIR/livegraft.ko
orig=$(cat /proc/cmdline)
case $orig in fixed:*) fail "/proc/cmdline already patched: $orig" ;; esac
insmod $MODDIR/$P.ko
wait_transition_done $P
expect_dmesg "livegraft: '$P': patching complete"
expect_eq "$(cat /proc/cmdline)" "fixed: $orig" "/proc/cmdline with the diff applied"
[ -d $LG/$P/vmlinux/cmdline_proc_show,1 ] || fail "no sysfs directory for cmdline_proc_show"
disable_patch $P
expect_eq "$(cat /proc/cmdline)" "$orig" "/proc/cmdline original after unpatching"
rmmod livegraft
