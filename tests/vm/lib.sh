# Helpers for VM scenarios; sourced by each tests/vm/NN-*.sh inside the guest.
# A scenario runs under `sh -e`: any failing command fails it.

MODDIR=/lib/livegraft

fail() {
	echo "FAIL: $*"
	echo "--- dmesg (last 40 lines) ---"
	dmesg | tail -n 40
	exit 1
}

ok() { echo "ok: $*"; }

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"
	ok "$3 = '$2'"
}

# expect_dmesg REGEX: the kernel log has a line matching REGEX (grep -E).
expect_dmesg() {
	dmesg | grep -Eq -- "$1" || fail "dmesg has no line matching '$1'"
	ok "dmesg: $1"
}

# expect_no_dmesg REGEX
expect_no_dmesg() {
	! dmesg | grep -Eq -- "$1" || fail "dmesg unexpectedly matches '$1'"
	ok "dmesg has no '$1'"
}

# expect_dmesg_sequence REGEX...: the lines appear in this order.
expect_dmesg_sequence() {
	_log=$(dmesg)
	for _re in "$@"; do
		_n=$(printf '%s\n' "$_log" | grep -En -m1 -- "$_re" | cut -d: -f1)
		[ -n "$_n" ] || fail "dmesg sequence: no '$_re' after the previous line"
		_log=$(printf '%s\n' "$_log" | tail -n +"$((_n + 1))")
	done
	ok "dmesg sequence of $# lines"
}

# expect_fail WHAT CMD...: CMD must fail.
expect_fail() {
	_what=$1; shift
	if "$@" 2>/tmp/expect_fail.err; then
		fail "$_what: '$*' succeeded but must fail"
	fi
	ok "$_what: failed as expected ($(head -c 120 /tmp/expect_fail.err))"
}

# wait_for SECONDS CMD...: poll CMD every 50 ms until it succeeds.
wait_for() {
	_deadline=$(( $(date +%s) + $1 )); shift
	until "$@"; do
		[ "$(date +%s)" -lt "$_deadline" ] || fail "timed out waiting for: $*"
		usleep 50000
	done
}

file_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }

# have_upstream_livepatch: true on a kernel with CONFIG_LIVEPATCH (the base
# flavour, where its absence fails the scenario); false, with a "skip:" line,
# on the debug flavour, which is built without it.
# The flavour is read once, when a scenario starts: later /proc/cmdline may
# be what a test patch of cmdline_proc_show() makes of it.
LG_FLAVOUR=$(sed -n 's/.*lg\.flavour=\([^ ]*\).*/\1/p' /proc/cmdline)
have_upstream_livepatch() {
	[ -d /sys/kernel/livepatch ] && return 0
	[ "$LG_FLAVOUR" = debug ] || fail "no /sys/kernel/livepatch on a kernel that must have it"
	echo "skip: upstream livepatch part (this flavour has no CONFIG_LIVEPATCH)"
	return 1
}

# --- livegraft engine helpers ---
LG=/sys/kernel/livegraft
T=/proc/lg_target

# stat KIND FIELD: a counter of /proc/lg_target
stat() { sed -n "s/^$1 .*$2=\([0-9]*\).*/\1/p" $T; }

# expect_no_mixed: no unit of any kind mixed versions.
expect_no_mixed() {
	_m=$(sed -n 's/.* mixed=\([0-9]*\).*/\1/p' $T | paste -sd+ | bc)
	[ "$_m" = 0 ] || { cat $T; fail "$_m units mixed old and new code"; }
	ok "no unit mixed versions ($(grep -c units= $T) kinds checked)"
}

# wait_transition_done PATCH [SECONDS]
wait_transition_done() {
	wait_for "${2:-30}" file_is $LG/$1/transition 0
}

# start_units: the target's kthread and work item run units, and a shell
# loop runs syscall units (its pid in UNITS_LOOP); stop_units stops them all
# and checks that no unit mixed versions.
start_units() {
	echo "kthread on" > $T
	echo "work on" > $T
	( while :; do echo unit > $T; done ) &
	UNITS_LOOP=$!
}
stop_units() {
	kill $UNITS_LOOP
	echo "kthread off" > $T
	echo "work off" > $T
	expect_no_mixed
}

# held_fork_storm: the target's kthread runs units, a kthread holds
# lg_testpatch's transition open inside an old function, and 3 x 150
# short-lived processes each run one syscall unit; the transition is still
# held and only the holder pending.
held_fork_storm() {
	echo "kthread on" > $T
	echo hold > $T
	insmod $MODDIR/lg_testpatch.ko
	for _j in 1 2 3; do
		( _i=0; while [ $_i -lt 150 ]; do ( echo unit > $T ) ; _i=$((_i + 1)); done ) &
	done
	wait
	expect_eq "$(cat $LG/lg_testpatch/transition)" 1 "transition held open through the storm"
	cat $LG/lg_testpatch/summary
	grep -q "^pending: 1$" $LG/lg_testpatch/summary || fail "pending is not exactly the holder"
	ok "only the holder is pending after 450 forks and exits"
}

# release_storm_and_unload: after held_fork_storm, release the holder: the
# transition completes, every forked unit ran, none mixed versions; then
# unpatch and unload everything.
release_storm_and_unload() {
	echo unhold > $T
	wait_transition_done lg_testpatch 30
	expect_dmesg "livegraft: 'lg_testpatch': patching complete"
	[ "$(stat syscall units)" -ge 450 ] || fail "fewer units than forks: $(stat syscall units)"
	expect_no_mixed
	disable_patch lg_testpatch
	echo "kthread off" > $T
	rmmod lg_target
	rmmod livegraft
}

# disable_patch NAME: write 0, wait until the patch is gone, unload its module.
disable_patch() {
	echo 0 > $LG/$1/enabled
	wait_for 30 [ ! -e $LG/$1 ]
	rmmod $1
}

# units_advance KIND VERSION: units of KIND run VERSION (its counter grows within a second).
units_advance() {
	_b=$(stat $1 v$2)
	sleep 1
	[ "$(stat $1 v$2)" -gt "$_b" ] || fail "$1 units do not run version $2"
	ok "$1 units run version $2"
}

# fast_path_is PATCH N: wait until N of PATCH's functions are on the fast path.
fast_path_is() {
	wait_for 30 sh -c "[ \"\$(sed -n 's/^fast_path: //p' $LG/$1/summary)\" = $2 ]"
	ok "$1: $2 functions on the fast path"
}

load_core_and_target() {
	insmod $MODDIR/livegraft.ko
	insmod $MODDIR/lg_target.ko
}

# unit_loop N: run N syscall units (busybox has no loop-in-one-process tool).
unit_loop() {
	_i=0
	while [ $_i -lt "$1" ]; do echo unit > $T; _i=$((_i + 1)); done
}

# Reboot scenarios ("# boots: N", tools/vm.sh): LG_BOOT is this boot's number
# (1 in every other scenario); `persist DIR...` saves directories (absolute
# paths) for the next boot, whose initramfs holds them again.
LG_BOOT=$(sed -n 's/.*lg\.boot=\([0-9]*\).*/\1/p' /proc/cmdline)
LG_BOOT=${LG_BOOT:-1}
persist() {
	dmesg -n 1    # no kernel lines inside the block
	echo LIVEGRAFT-PERSIST-BEGIN
	( cd / && for _d in "$@"; do echo "${_d#/}"; done | xargs tar -cf - | gzip | base64 )
	echo LIVEGRAFT-PERSIST-END
}

# expect_no_kmemleak: a kmemleak scan (two, as an object must be seen
# unreferenced twice) finds no unreferenced object whose allocation
# backtrace names livegraft, its Rust code or its test modules. Run it while
# livegraft is loaded, so that its frames have names. Needs debugfs; a
# kernel without kmemleak has nothing to check.
expect_no_kmemleak() {
	[ -e /sys/kernel/debug/kmemleak ] || return 0
	echo scan > /sys/kernel/debug/kmemleak
	echo scan > /sys/kernel/debug/kmemleak
	if grep -q 'livegraft\|lg_testpatch\|lg_target\|_RNv' /sys/kernel/debug/kmemleak; then
		cat /sys/kernel/debug/kmemleak
		fail "kmemleak reports an object allocated by livegraft or its tests"
	fi
	ok "kmemleak: nothing of livegraft's ($(grep -c '^unreferenced object' /sys/kernel/debug/kmemleak) unreferenced objects elsewhere)"
}

# patches_with_blocker PATCH...: livegraft (no nudges) and lg_target loaded,
# the PATCHes enabled in this order (each transition complete), and a
# writer asleep in lg_target_block of the version on top (its result goes
# to /tmp/blocker.rc once released), which holds open any transition that
# replaces that version.
patches_with_blocker() {
	# No nudge: the blocked writer must stay asleep until released.
	insmod $MODDIR/livegraft.ko nudge_after_ms=600000
	insmod $MODDIR/lg_target.ko
	for _p in "$@"; do
		insmod $MODDIR/$_p.ko
		wait_transition_done $_p
	done
	( echo block > $T; echo "blocker rc=$?" > /tmp/blocker.rc ) &
	wait_for 10 grep -q "^blocked 1" $T
	ok "a task sleeps in lg_target_block under $*"
}
# wrap: what lg_target_wrap returns now.
wrap() { echo wrap > $T; sed -n 's/^wrap //p' $T; }
