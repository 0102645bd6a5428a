# The livegraft command, statically linked in the initramfs: with no core
# loaded, `livegraft load --wait` of the generated cmdline sample loads the
# core first, waits for "patching complete"; list, status --json, info and
# log describe it; `livegraft unload` disables it, waits and removes the
# module. The effect (/proc/cmdline) is checked at each step.
# timeout: 150
. ./lib.sh
orig=$(cat /proc/cmdline)
[ ! -e $LG ] || fail "core loaded before the test"
livegraft info $MODDIR/livegraft_cmdline.ko | tee /tmp/info.out
grep -q "^patch: *livegraft_cmdline" /tmp/info.out || fail "info: no patch name"
grep -q "vmlinux: cmdline_proc_show,0" /tmp/info.out || fail "info: no function"
grep -q "^loadable: *yes" /tmp/info.out || fail "info: not loadable"

livegraft load --wait --timeout 60 --progress plain --core $MODDIR/livegraft.ko \
	$MODDIR/livegraft_cmdline.ko >/tmp/load.out 2>&1 || { cat /tmp/load.out; fail "load --wait failed"; }
cat /tmp/load.out
grep -q "loading the livegraft core" /tmp/load.out || fail "the core was not loaded by the command"
grep -q "livegraft_cmdline: patching complete in [0-9]* ms" /tmp/load.out || fail "no completion line"
expect_eq "$(cat $LG/livegraft_cmdline/transition)" 0 "transition done when load --wait returns"
expect_eq "$(cat /proc/cmdline)" "this has been live patched by livegraft" "patched /proc/cmdline"

livegraft list | tee /tmp/list.out
abi=$(cat /sys/module/livegraft/parameters/abi_version)
grep -q "core: livegraft 0.1.0 (patch ABI $abi)" /tmp/list.out || fail "list: no core line with ABI $abi"
grep -Eq "^livegraft_cmdline +enabled .*vmlinux +1 " /tmp/list.out || fail "list: no enabled livegraft_cmdline with 1 function"
livegraft status livegraft_cmdline --json >/tmp/status.json
grep -q '"enabled": true' /tmp/status.json || fail "status --json: not enabled"
grep -q '"name": "cmdline_proc_show"' /tmp/status.json || fail "status --json: no function"
livegraft log livegraft_cmdline | tee /tmp/log.out
grep -q "livegraft_cmdline: patching -> patching complete in [0-9]* ms" /tmp/log.out || fail "log: no transition"

livegraft unload livegraft_cmdline --progress plain | tee /tmp/unload.out
grep -q "livegraft_cmdline: module livegraft_cmdline removed" /tmp/unload.out || fail "unload: no removal line"
[ ! -e $LG/livegraft_cmdline ] || fail "patch directory left"
! grep -q "^livegraft_cmdline " /proc/modules || fail "module still loaded"
expect_eq "$(cat /proc/cmdline)" "$orig" "restored /proc/cmdline"
expect_dmesg_sequence "livegraft: enabling patch 'livegraft_cmdline'" \
	"livegraft: 'livegraft_cmdline': patching complete" \
	"livegraft: 'livegraft_cmdline': unpatching complete"
expect_fail "unload of a patch that is gone" livegraft unload livegraft_cmdline
rmmod livegraft
