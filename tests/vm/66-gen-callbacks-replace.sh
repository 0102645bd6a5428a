# Generated Rust patches with the manifest's callbacks, states, shadow
# variables and replace = true (samples/gen_callbacks, samples/gen_replace).
# livegraft_gen_callbacks (v3 of lg_target_unit, _a, _b, _block and
# cmdline_proc_show) runs its lg_target callbacks (state 7 version 1) and
# attaches a shadow counter of units to lg_target; the cumulative
# livegraft_gen_replace (v4 of lg_target_unit and _a, state 7 version 2)
# replaces it in one transition, held open by a task asleep in v3's
# lg_target_block: meanwhile its sysfs shows its functions and the nops
# (lg_target_b, _block; cmdline_proc_show in a vmlinux directory). Once it
# completes, the nops and the replaced patch are gone, the replaced patch's
# unpatch callbacks did not run, its module unloads, and the new patch's
# post_patch took over the shadow counter. Disabling it runs its unpatch
# callbacks, whose free_all() drops the counter (its Rust Drop prints it).
# No unit mixes versions.
# timeout: 300
. ./lib.sh
orig=$(cat /proc/cmdline)
A=livegraft_gen_callbacks
B=livegraft_gen_replace
insmod $MODDIR/livegraft.ko nudge_after_ms=600000
insmod $MODDIR/lg_target.ko
insmod $MODDIR/$A.ko
wait_transition_done $A
expect_dmesg_sequence "$A: pre_patch lg_target: state 7 version 1, previous version -1, patched 0" \
	"livegraft: '$A': starting patching transition" \
	"livegraft: '$A': completing patching transition" \
	"$A: post_patch lg_target: patched 1, shadow units allocated" \
	"livegraft: '$A': patching complete"
expect_eq "$(cat /proc/cmdline)" "generated patch with callbacks" "v3 of /proc/cmdline"
expect_eq "$(cat $LG/$A/replace)" 0 "replace of the first patch"
start_units
units_advance kthread 3
units_advance syscall 3
( echo block > $T; echo "blocker rc=$?" > /tmp/blocker.rc ) &
wait_for 10 grep -q "^blocked 1" $T
ok "a task sleeps in v3 of lg_target_block"
insmod $MODDIR/$B.ko
expect_eq "$(cat $LG/$B/replace)" 1 "replace of the cumulative patch"
sleep 2
expect_eq "$(cat $LG/$B/transition)" 1 "the sleeper in v3's lg_target_block holds the transition"
expect_dmesg "$B: pre_patch lg_target: state 7 version 2, previous version 1, patched 0"
ls -R $LG/$B
expect_eq "$(ls $LG/$B/lg_target | grep , | sort | paste -sd' ')" \
	"lg_target_a,1 lg_target_b,1 lg_target_block,1 lg_target_unit,1" \
	"lg_target's function directories during the replace: its own and the nops"
[ -d "$LG/$B/vmlinux/cmdline_proc_show,1" ] || fail "no vmlinux/cmdline_proc_show,1 for the nop"
ok "the nop of cmdline_proc_show has its directory"
expect_eq "$(cat $LG/$A/enabled)" 1 "the replaced patch is enabled during the transition"
units_advance kthread 4
echo release > $T
wait_for 10 [ -e /tmp/blocker.rc ]
expect_eq "$(cat /tmp/blocker.rc)" "blocker rc=0" "blocked writer's result"
expect_eq "$(stat blocking v3)" 1 "the blocked unit finished in v3 (the unpatched universe)"
wait_transition_done $B 60
expect_dmesg_sequence "livegraft: '$B': starting patching transition" \
	"livegraft: '$B': completing patching transition" \
	"$B: post_patch lg_target: took over shadow units: [0-9]+ counted, allocated by version 3" \
	"livegraft: '$B': patching complete"
taken=$(dmesg | sed -n "s/.*$B: post_patch lg_target: took over shadow units: \([0-9]*\) counted.*/\1/p")
[ "$taken" -gt 0 ] || fail "the shadow counter counted no v3 unit: $taken"
ok "the shadow counter of v3 had counted $taken units"
wait_for 10 [ ! -e $LG/$A ]
ok "the replaced patch's directory is gone"
expect_no_dmesg "$A: pre_unpatch"
expect_no_dmesg "$A: post_unpatch"
expect_no_dmesg "shadow units dropped"
expect_eq "$(ls $LG/$B/lg_target | grep , | sort | paste -sd' ')" "lg_target_a,1 lg_target_unit,1" \
	"lg_target's function directories after the replace (nops discarded)"
[ ! -e $LG/$B/vmlinux ] || fail "the nop-only vmlinux directory is left after the replace"
ok "the nop-only vmlinux directory is gone"
expect_eq "$(cat /proc/cmdline)" "$orig" "cmdline_proc_show, which only the replaced patch touched, is the original again"
rmmod $A
ok "the replaced patch's module unloads"
units_advance syscall 4
units_advance kthread 4
stop_units
echo 0 > $LG/$B/enabled
wait_for 30 [ ! -e $LG/$B ]
expect_dmesg_sequence "$B: pre_unpatch lg_target: patched 1" \
	"livegraft: '$B': starting unpatching transition" \
	"$B: shadow units dropped: [0-9]+ units \(allocated by version 3\)" \
	"$B: post_unpatch lg_target: patched 0, shadow units freed" \
	"livegraft: '$B': unpatching complete"
dropped=$(dmesg | sed -n "s/.*$B: shadow units dropped: \([0-9]*\) units.*/\1/p")
[ "$dropped" -gt "$taken" ] || fail "v4 units were not counted: $dropped dropped, $taken taken over"
ok "the counter went on in v4: $dropped units when dropped"
rmmod $B
before=$(stat syscall v1)
echo unit > $T
expect_eq "$(stat syscall v1)" $((before + 1)) "original unit after disabling the cumulative patch"
rmmod lg_target
rmmod livegraft
