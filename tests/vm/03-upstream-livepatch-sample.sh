# Baseline: upstream livepatch's own sample patches cmdline_proc_show and its
# transition completes. Proves the harness sees a real livepatch transition
# (and that CONFIG_LIVEPATCH works for the side-by-side benchmarks).
# requires: CONFIG_LIVEPATCH
. ./lib.sh

P=/sys/kernel/livepatch/livepatch_sample
orig=$(cat /proc/cmdline)
case "$orig" in *lg.scenario=*) ;; *) fail "unexpected /proc/cmdline: $orig" ;; esac
insmod $MODDIR/livepatch-sample.ko
wait_for 30 file_is $P/transition 0
expect_eq "$(cat $P/enabled)" 1 "enabled"
expect_eq "$(cat /proc/cmdline)" "this has been live patched" "patched /proc/cmdline"
expect_dmesg_sequence "livepatch: enabling patch 'livepatch_sample'" \
	"livepatch: 'livepatch_sample': starting patching transition" \
	"livepatch: 'livepatch_sample': patching complete"
echo 0 > $P/enabled
wait_for 30 [ ! -e $P ]
expect_eq "$(cat /proc/cmdline)" "$orig" "restored /proc/cmdline"
expect_dmesg "livepatch: 'livepatch_sample': unpatching complete"
rmmod livepatch_sample
ok "upstream sample patched and unpatched"
