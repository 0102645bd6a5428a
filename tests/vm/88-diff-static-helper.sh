# From a source fix to a live patch: tests/corpus/02-static-helper-and-variable.patch
# (a diff of fs/filesystems.c whose filesystems_proc_show() first calls the
# static find_filesystem() under the static file_systems_lock) turned into a
# module by `livegraft-gen diff --build` (tools/gen-samples.sh). The patch
# uses the running kernel's static helper, lock and list (file_systems):
# [[symbol]]s resolved at load through kallsyms. /proc/filesystems shows the
# new first line and then the kernel's own list (a copy of the static list
# would be empty), then the original after a clean disable and unload.
# timeout: 120
. ./lib.sh
P=livegraft_02_static_helper_and_variable
insmod $MODDIR/livegraft.ko
orig=$(cat /proc/filesystems)
case $orig in fixed*) fail "/proc/filesystems already patched" ;; esac
printf '%s\n' "$orig" | grep -q "	proc$" || fail "no proc in /proc/filesystems: $orig"
insmod $MODDIR/$P.ko
wait_transition_done $P
expect_dmesg "livegraft: '$P': patching complete"
expect_eq "$(head -n1 /proc/filesystems)" "fixed	proc is registered" "first line of /proc/filesystems with the diff applied"
expect_eq "$(tail -n +2 /proc/filesystems)" "$orig" "the rest: the kernel's static list, walked under its static lock"
[ -d $LG/$P/vmlinux/filesystems_proc_show,1 ] || fail "no sysfs directory for filesystems_proc_show"
disable_patch $P
expect_eq "$(cat /proc/filesystems)" "$orig" "/proc/filesystems original after unpatching"
rmmod livegraft
