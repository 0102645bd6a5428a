# Upstream's samples/livepatch/livepatch-callbacks-demo.c, unmodified,
# through the compat layer, with its two target modules loaded first
# (livepatch-callbacks-mod, and -busymod whose work item sleeps in
# busymod_work_func(), which the demo patches): the callbacks of the three
# objects (vmlinux, and two objects without functions or with one) run in
# upstream's order, see each module through obj->mod, and the transition
# waits for the busy work item. The kernel log is upstream's sequence.
# timeout: 240
. ./lib.sh
. ./compat-lib.sh
insmod $MODDIR/livegraft.ko
insmod $C/livepatch-callbacks-mod.ko
insmod $C/livepatch-callbacks-busymod.ko sleep_secs=4
wait_for 30 sh -c "dmesg | grep -q 'busymod_work_func, sleeping 4 seconds'"
klp_mark
insmod $C/livepatch-callbacks-demo.ko
not_upstream livepatch_callbacks_demo
expect_eq "$(cat $LG/livepatch_callbacks_demo/transition)" 1 "transition waits for the busy work item"
wait_transition_done livepatch_callbacks_demo 60
for o in vmlinux livepatch_callbacks_mod livepatch_callbacks_busymod; do
	expect_eq "$(cat $LG/livepatch_callbacks_demo/$o/patched)" 1 "$o/patched"
done
echo 0 > $LG/livepatch_callbacks_demo/enabled
wait_for 30 [ ! -e $LG/livepatch_callbacks_demo ]
rmmod livepatch_callbacks_demo
rmmod livepatch_callbacks_busymod
rmmod livepatch_callbacks_mod
expect_klp_log '^livepatch_callbacks_(demo|busymod|mod):' "livegraft: enabling patch 'livepatch_callbacks_demo'
livegraft: 'livepatch_callbacks_demo': initializing patching transition
livepatch_callbacks_demo: pre_patch_callback: vmlinux
livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_mod -> [MODULE_STATE_LIVE] Normal state
livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_busymod -> [MODULE_STATE_LIVE] Normal state
livegraft: 'livepatch_callbacks_demo': starting patching transition
livepatch_callbacks_busymod: busymod_work_func exit
livegraft: 'livepatch_callbacks_demo': completing patching transition
livepatch_callbacks_demo: post_patch_callback: vmlinux
livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_mod -> [MODULE_STATE_LIVE] Normal state
livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_busymod -> [MODULE_STATE_LIVE] Normal state
livegraft: 'livepatch_callbacks_demo': patching complete
livegraft: 'livepatch_callbacks_demo': initializing unpatching transition
livepatch_callbacks_demo: pre_unpatch_callback: vmlinux
livepatch_callbacks_demo: pre_unpatch_callback: livepatch_callbacks_mod -> [MODULE_STATE_LIVE] Normal state
livepatch_callbacks_demo: pre_unpatch_callback: livepatch_callbacks_busymod -> [MODULE_STATE_LIVE] Normal state
livegraft: 'livepatch_callbacks_demo': starting unpatching transition
livegraft: 'livepatch_callbacks_demo': completing unpatching transition
livepatch_callbacks_demo: post_unpatch_callback: vmlinux
livepatch_callbacks_demo: post_unpatch_callback: livepatch_callbacks_mod -> [MODULE_STATE_LIVE] Normal state
livepatch_callbacks_demo: post_unpatch_callback: livepatch_callbacks_busymod -> [MODULE_STATE_LIVE] Normal state
livegraft: 'livepatch_callbacks_demo': unpatching complete
livepatch_callbacks_busymod: livepatch_callbacks_mod_exit
livepatch_callbacks_mod: livepatch_callbacks_mod_exit"
rmmod livegraft
