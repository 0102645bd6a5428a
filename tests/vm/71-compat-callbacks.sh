# Callbacks of a module written against upstream's <linux/livepatch.h>
# (tests/modules/lg_testcompat/lg_compat_cb.c: callbacks on vmlinux, which it
# patches, and on the lg_target module, an object without functions):
# upstream's order and kernel log, line for line (Documentation/livepatch/
# callbacks.rst and the selftests' test-callbacks.sh): a failing vmlinux
# pre-patch callback and a failing module one abort the enable with nothing
# registered (and the post-unpatch callback of the object whose pre-patch
# succeeded runs); enable and disable; a reversed transition gets no
# pre-unpatch callback; a setup that fails after the pre-patch callbacks
# (base flavour) is cancelled with the post-unpatch callbacks.
# timeout: 240
. ./lib.sh
. ./compat-lib.sh
orig=$(cat /proc/cmdline)
insmod $MODDIR/livegraft.ko
insmod $MODDIR/lg_target.ko

nothing_registered() {
	! grep -q '^lg_compat_cb ' /proc/modules || fail "$1: the module stayed loaded"
	[ -z "$(ls $LG)" ] || fail "$1: sysfs left behind: $(ls $LG)"
	expect_eq "$(cat /proc/cmdline)" "$orig" "$1: /proc/cmdline"
	! grep -q cmdline_proc_show /sys/kernel/tracing/enabled_functions \
		|| fail "$1: cmdline_proc_show still hooked: $(cat /sys/kernel/tracing/enabled_functions)"
	ok "$1: nothing registered"
}

# refused WHAT ERROR LOG PARAMS...: insmod lg_compat_cb PARAMS fails with
# ERROR, nothing is left registered, and the kernel log is LOG (twice:
# busybox's insmod runs a failing init twice).
refused() {
	klp_mark
	expect_fail "$1" insmod $MODDIR/lg_compat_cb.ko $4 $5
	grep -q "$2" /tmp/expect_fail.err || fail "insmod error: $(cat /tmp/expect_fail.err)"
	nothing_registered "$1"
	expect_klp_log lg_compat_cb "$(twice "$3")"
}

refused "vmlinux pre-patch -ENODEV" "No such device" "livegraft: enabling patch 'lg_compat_cb'
livegraft: 'lg_compat_cb': initializing patching transition
lg_compat_cb: pre_patch: vmlinux patched=0
lg_compat_cb: pre_patch: state version 1, previous none
livegraft: pre-patch callback failed for object 'vmlinux'
livegraft: failed to enable patch 'lg_compat_cb'
livegraft: 'lg_compat_cb': canceling patching transition, going to unpatch
livegraft: 'lg_compat_cb': completing unpatching transition
livegraft: 'lg_compat_cb': unpatching complete" pre_patch_ret=-19

refused "lg_target pre-patch -EINVAL" "Invalid argument" "livegraft: enabling patch 'lg_compat_cb'
livegraft: 'lg_compat_cb': initializing patching transition
lg_compat_cb: pre_patch: vmlinux patched=0
lg_compat_cb: pre_patch: state version 1, previous none
lg_compat_cb: pre_patch: lg_target patched=0
lg_compat_cb: pre_patch: state version 1, previous none
livegraft: pre-patch callback failed for object 'lg_target'
livegraft: failed to enable patch 'lg_compat_cb'
livegraft: 'lg_compat_cb': canceling patching transition, going to unpatch
livegraft: 'lg_compat_cb': completing unpatching transition
lg_compat_cb: post_unpatch: vmlinux patched=0
livegraft: 'lg_compat_cb': unpatching complete" pre_patch_ret=-22 fail_obj=1

klp_mark
insmod $MODDIR/lg_compat_cb.ko
wait_transition_done lg_compat_cb
not_upstream lg_compat_cb
expect_eq "$(cat /proc/cmdline)" "lg_compat_cb: this has been live patched" "patched /proc/cmdline"
expect_eq "$(cat $LG/lg_compat_cb/lg_target/patched)" 1 "lg_target/patched (an object without functions)"
echo 0 > $LG/lg_compat_cb/enabled
wait_for 30 [ ! -e $LG/lg_compat_cb ]
expect_eq "$(cat /proc/cmdline)" "$orig" "restored /proc/cmdline"
rmmod lg_compat_cb
expect_klp_log lg_compat_cb "livegraft: enabling patch 'lg_compat_cb'
livegraft: 'lg_compat_cb': initializing patching transition
lg_compat_cb: pre_patch: vmlinux patched=0
lg_compat_cb: pre_patch: state version 1, previous none
lg_compat_cb: pre_patch: lg_target patched=0
lg_compat_cb: pre_patch: state version 1, previous none
livegraft: 'lg_compat_cb': starting patching transition
livegraft: 'lg_compat_cb': completing patching transition
lg_compat_cb: post_patch: vmlinux patched=1
lg_compat_cb: post_patch: lg_target patched=1
livegraft: 'lg_compat_cb': patching complete
livegraft: 'lg_compat_cb': initializing unpatching transition
lg_compat_cb: pre_unpatch: vmlinux patched=1
lg_compat_cb: pre_unpatch: lg_target patched=1
livegraft: 'lg_compat_cb': starting unpatching transition
livegraft: 'lg_compat_cb': completing unpatching transition
lg_compat_cb: post_unpatch: vmlinux patched=0
lg_compat_cb: post_unpatch: lg_target patched=0
livegraft: 'lg_compat_cb': unpatching complete"

# Reversal: lg_target's holder sleeps in lg_target_hold(), which hold=1
# patches too: the patching transition waits, and is reversed.
echo hold > $T
klp_mark
insmod $MODDIR/lg_compat_cb.ko hold=1
sleep 2
expect_eq "$(cat $LG/lg_compat_cb/transition)" 1 "transition held open by the holder"
echo 0 > $LG/lg_compat_cb/enabled
wait_for 30 [ ! -e $LG/lg_compat_cb ]
rmmod lg_compat_cb
echo unhold > $T
expect_klp_log lg_compat_cb "livegraft: enabling patch 'lg_compat_cb'
livegraft: 'lg_compat_cb': initializing patching transition
lg_compat_cb: pre_patch: vmlinux patched=0
lg_compat_cb: pre_patch: state version 1, previous none
lg_compat_cb: pre_patch: lg_target patched=0
lg_compat_cb: pre_patch: state version 1, previous none
livegraft: 'lg_compat_cb': starting patching transition
livegraft: 'lg_compat_cb': reversing transition from patching to unpatching
livegraft: 'lg_compat_cb': starting unpatching transition
livegraft: 'lg_compat_cb': completing unpatching transition
lg_compat_cb: post_unpatch: vmlinux patched=0
lg_compat_cb: post_unpatch: lg_target patched=0
livegraft: 'lg_compat_cb': unpatching complete"
# A setup that fails after the pre-patch callbacks succeeded (base flavour:
# upstream's own sample owns cmdline_proc_show, so livegraft's ftrace
# registration gets -EBUSY): the enable is cancelled as upstream cancels a
# failed klp_patch_object(), with the post-unpatch callbacks of both objects.
if have_upstream_livepatch; then
	insmod $MODDIR/livepatch-sample.ko
	wait_for 30 file_is /sys/kernel/livepatch/livepatch_sample/transition 0
	klp_mark
	expect_fail "setup -EBUSY" insmod $MODDIR/lg_compat_cb.ko
	grep -q "busy" /tmp/expect_fail.err || fail "insmod error: $(cat /tmp/expect_fail.err)"
	[ -z "$(ls $LG)" ] || fail "sysfs left behind: $(ls $LG)"
	! grep -q '^lg_compat_cb ' /proc/modules || fail "the module stayed loaded"
	expect_klp_log lg_compat_cb "$(twice "livegraft: enabling patch 'lg_compat_cb'
livegraft: 'lg_compat_cb': initializing patching transition
lg_compat_cb: pre_patch: vmlinux patched=0
lg_compat_cb: pre_patch: state version 1, previous none
lg_compat_cb: pre_patch: lg_target patched=0
lg_compat_cb: pre_patch: state version 1, previous none
livegraft: failed to register ftrace handler for function 'cmdline_proc_show' (-16)
livegraft: failed to patch object 'vmlinux'
livegraft: failed to enable patch 'lg_compat_cb'
livegraft: 'lg_compat_cb': canceling patching transition, going to unpatch
livegraft: 'lg_compat_cb': completing unpatching transition
lg_compat_cb: post_unpatch: vmlinux patched=0
lg_compat_cb: post_unpatch: lg_target patched=0
livegraft: 'lg_compat_cb': unpatching complete")"
	echo 0 > /sys/kernel/livepatch/livepatch_sample/enabled
	wait_for 30 [ ! -e /sys/kernel/livepatch/livepatch_sample ]
	rmmod livepatch_sample
fi
rmmod lg_target
rmmod livegraft
