# Upstream's samples/livepatch/livepatch-sample.c, unmodified, built through
# livegraft's <linux/livepatch.h> (tools/build-compat-samples.sh): it loads
# on both flavours (the debug kernel has no CONFIG_LIVEPATCH and refuses
# modules marked livepatch=Y), is driven by livegraft (not by upstream's
# livepatch on the base kernel), named after its module, patches
# /proc/cmdline, and its kernel log is upstream's sequence line for line.
# host-check: ! modinfo -F livepatch out/compat/livepatch-sample.ko | grep -q .
# host-check: modinfo -F livegraft out/compat/livepatch-sample.ko | grep -qx Y
# timeout: 120
. ./lib.sh
. ./compat-lib.sh
orig=$(cat /proc/cmdline)
insmod $MODDIR/livegraft.ko
klp_mark
insmod $C/livepatch-sample.ko
wait_transition_done livepatch_sample
not_upstream livepatch_sample
expect_eq "$(cat /proc/cmdline)" "this has been live patched" "patched /proc/cmdline"
expect_eq "$(cat $LG/livepatch_sample/enabled)" 1 "enabled"
expect_eq "$(cat $LG/livepatch_sample/vmlinux/patched)" 1 "vmlinux/patched"
[ -d "$LG/livepatch_sample/vmlinux/cmdline_proc_show,1" ] || fail "no vmlinux/cmdline_proc_show,1"
expect_fail "rmmod while enabled" rmmod livepatch_sample
echo 0 > $LG/livepatch_sample/enabled
wait_for 30 [ ! -e $LG/livepatch_sample ]
expect_eq "$(cat /proc/cmdline)" "$orig" "restored /proc/cmdline"
rmmod livepatch_sample
expect_klp_log livepatch_sample "livegraft: enabling patch 'livepatch_sample'
livegraft: 'livepatch_sample': initializing patching transition
livegraft: 'livepatch_sample': starting patching transition
livegraft: 'livepatch_sample': completing patching transition
livegraft: 'livepatch_sample': patching complete
livegraft: 'livepatch_sample': initializing unpatching transition
livegraft: 'livepatch_sample': starting unpatching transition
livegraft: 'livepatch_sample': completing unpatching transition
livegraft: 'livepatch_sample': unpatching complete"
rmmod livegraft
