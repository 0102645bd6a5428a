# The conformance runner inside the guest (Documentation/conformance.rst);
# sourced by tests/vm/90-*.sh and 91-*.sh after lib.sh.
# /conform comes from out/conformance/guest (tools/gen-conformance.sh):
#   /conform/<column>/{functions.sh,test-*.sh,test_modules/,samples/,bin/}
#   /conform/bin: bash's helpers the upstream scripts need (kmod, date, ...)
# Each upstream case ends in exactly one line
#   LIVEGRAFT-CASE PASS|FAIL <column> <id> [(why)]
# which tools/vm.sh counts against the case list of the scenario's
# "# cases:" header: a case without its line counts as failed.

# Kernel messages stay off the console while scripts print their results
# (pr_info lines would interleave with the case lines); warnings, BUG,
# lockdep, KASAN and RCU reports (level <= 4) still reach it.
conform_setup() {
	[ -d /conform ] || fail "no /conform in the initramfs (tools/gen-conformance.sh)"
	# functions.sh calls /bin/stat --format, which busybox's stat lacks.
	ln -sf /conform/bin/stat /bin/stat
	# bash's <(...) in check_result's diff needs /dev/fd.
	[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
	# kmod wants the module directory of the running kernel.
	mkdir -p "/lib/modules/$(uname -r)"
	/conform/bin/depmod 2>/dev/null || true
	echo 5 >/proc/sys/kernel/printk
	CONFORM_SCALE=1
	[ "$LG_FLAVOUR" != debug ] || CONFORM_SCALE=2
}

conform_root() {
	if [ "$1" = upstream ]; then echo /sys/kernel/livepatch; else echo /sys/kernel/livegraft; fi
}

conform_case() { # PASS|FAIL COLUMN ID [WHY]
	if [ -n "${4:-}" ]; then
		echo "LIVEGRAFT-CASE $1 $2 $3 ($4)"
	else
		echo "LIVEGRAFT-CASE $1 $2 $3"
	fi
}

# conform_clean COLUMN: a clean state for what runs next, whatever the last
# script left behind: every patch disabled and every test module unloaded.
conform_clean() {
	_root=$(conform_root "$1")
	for _p in $(pidof test_klp-call_getpid); do kill "$_p" 2>/dev/null || true; done
	for _e in "$_root"/*/enabled; do
		[ -e "$_e" ] || continue
		[ "$(cat "$_e")" = 0 ] || echo 0 >"$_e" 2>/dev/null || true
	done
	_i=0
	while ls "$_root"/*/enabled >/dev/null 2>&1 && [ $_i -lt 300 ]; do
		usleep 100000
		_i=$((_i + 1))
	done
	ls "$_root"/*/enabled >/dev/null 2>&1 && echo "conform: $1: patches still present: $(ls "$_root")"
	for _pass in 1 2 3; do
		for _m in $(grep -oE '^(test_klp|livepatch_)[a-z_0-9]*' /proc/modules); do
			rmmod "$_m" 2>/dev/null || true
		done
	done
	_left=$(grep -oE '^(test_klp|livepatch_)[a-z_0-9]*' /proc/modules | tr '\n' ' ')
	[ -z "$_left" ] || echo "conform: $1: modules left loaded: $_left"
}

# conform_build_failed COLUMN CASEFILE PREFIX: the column did not build;
# every case fails with the build error.
conform_build_failed() {
	_why="build failed: $(sed -n 2p "/conform/$1/BUILD-FAILED")"
	cat "/conform/$1/BUILD-FAILED"
	while IFS= read -r _c; do
		conform_case FAIL "$1" "$3$_c" "$_why"
	done <"$2"
}

# conform_selftests COLUMN: the 7 upstream scripts, each in bash from the
# column's directory (they load test_modules/<mod>.ko relative to it).
conform_selftests() {
	_col=$1 _dir=/conform/$1
	if [ -f "$_dir/BUILD-FAILED" ]; then
		sed 's/^\([^ ]*\) /\1: /' "$_dir/cases.txt" >/tmp/conform.cases
		conform_build_failed "$_col" /tmp/conform.cases ""
		return 0
	fi
	[ ! -f "$_dir/BUILD-ERRORS" ] || cat "$_dir/BUILD-ERRORS"
	for _s in $(cut -d' ' -f1 "$_dir/cases.txt" | uniq); do
		echo "=== conformance [$_col] $_s.sh"
		_t0=$(date +%s)
		set +e
		# KDIR: has_kdir only checks that it exists (the modules are
		# built on the host, tools/gen-conformance.sh).
		(cd "$_dir" && PATH=$_dir/bin:/conform/bin:/bin KDIR=$_dir \
			timeout $((240 * CONFORM_SCALE)) bash "./$_s.sh") >/tmp/conform.out 2>&1
		_rc=$?
		set -e
		cat /tmp/conform.out
		echo "=== [$_col] $_s.sh: rc=$_rc in $(( $(date +%s) - _t0 ))s"
		_last=$(grep -v '^$' /tmp/conform.out | tail -n1 | cut -c1-120)
		grep "^$_s " "$_dir/cases.txt" | cut -d' ' -f2- | while IFS= read -r _n; do
			if grep -qxF "TEST: $_n ... ok" /tmp/conform.out; then
				conform_case PASS "$_col" "$_s: $_n"
			elif _l=$(grep -F "TEST: $_n ... " /tmp/conform.out | head -n1) && [ -n "$_l" ]; then
				_w=${_l#"TEST: $_n ... "}
				[ "$_w" != "not ok" ] || _w="not ok: dmesg differs from the expected output, diff above"
				conform_case FAIL "$_col" "$_s: $_n" "$_w"
			else
				conform_case FAIL "$_col" "$_s: $_n" "not reached: $_s.sh ended with rc=$_rc before it: $_last"
			fi
		done
		conform_clean "$_col"
	done
}

# --- samples ---------------------------------------------------------------------

# conform_mark: a canary in the kernel log; conform_since prints the log
# after the last canary (with the column's dmesg, i.e. mapped for livegraft).
conform_mark() {
	CONFORM_MARK="conformance mark $(date +%s)-$$-${CONFORM_N:=0}"
	CONFORM_N=$((CONFORM_N + 1))
	echo "$CONFORM_MARK" >/dev/kmsg
}
conform_since() {
	# By path: busybox's sh runs its own dmesg applet whatever PATH says.
	if [ -x "$CONFORM_DIR/bin/dmesg" ]; then
		"$CONFORM_DIR/bin/dmesg"
	else
		dmesg
	fi | sed -n "/$CONFORM_MARK/,\$p"
}
# conform_wait_log SECONDS REGEX: the log since the mark gets a matching line.
conform_wait_log() {
	_d=$(( $(date +%s) + $1 * CONFORM_SCALE ))
	until conform_since | grep -Eq -- "$2"; do
		[ "$(date +%s)" -lt "$_d" ] || { CONFORM_WHY="no log line '$2' after $1 s"; return 1; }
		sleep 1
	done
}
# conform_log_order REGEX...: these lines appear in this order since the mark.
conform_log_order() {
	_log=$(conform_since)
	for _re in "$@"; do
		_n=$(printf '%s\n' "$_log" | grep -En -m1 -- "$_re" | cut -d: -f1)
		[ -n "$_n" ] || { CONFORM_WHY="log: no '$_re' (in this order)"; return 1; }
		_log=$(printf '%s\n' "$_log" | tail -n +"$((_n + 1))")
	done
}
conform_wait_file() { # SECONDS FILE VALUE
	_d=$(( $(date +%s) + $1 * CONFORM_SCALE ))
	until [ "$(cat "$2" 2>/dev/null)" = "$3" ]; do
		[ "$(date +%s)" -lt "$_d" ] || { CONFORM_WHY="$2 is not '$3' after $1 s"; return 1; }
		usleep 100000
	done
}
conform_wait_gone() { # SECONDS PATH
	_d=$(( $(date +%s) + $1 * CONFORM_SCALE ))
	while [ -e "$2" ]; do
		[ "$(date +%s)" -lt "$_d" ] || { CONFORM_WHY="$2 still there after $1 s"; return 1; }
		usleep 100000
	done
}
conform_insmod() { # MODULE [ARGS]: kmod's insmod, its error as the reason
	_m=$1; shift
	CONFORM_WHY=$(/conform/bin/insmod "$CONFORM_DIR/samples/$_m.ko" "$@" 2>&1) && return 0
	CONFORM_WHY="insmod $_m: $CONFORM_WHY"
	return 1
}
conform_rmmod() {
	CONFORM_WHY=$(/conform/bin/rmmod "$1" 2>&1) && return 0
	CONFORM_WHY="rmmod $1: $CONFORM_WHY"
	return 1
}
conform_disable() { # PATCH: echo 0 > enabled, wait until it is gone
	echo 0 >"$CONFORM_ROOT/$1/enabled" 2>/tmp/conform.err ||
		{ CONFORM_WHY="echo 0 > $1/enabled: $(cat /tmp/conform.err)"; return 1; }
	conform_wait_gone 60 "$CONFORM_ROOT/$1"
}
conform_result() { # COLUMN CASE STATUS
	if [ "$3" = 0 ]; then
		conform_case PASS "$1" "$2"
	else
		conform_case FAIL "$1" "$2" "$CONFORM_WHY"
	fi
}

# The sample cases, as upstream's samples document their use
# (samples/livepatch/*.c, Documentation/livepatch/{livepatch,shadow-vars,callbacks}.rst).
sample_livepatch_sample() {
	_orig=$(cat /proc/cmdline)
	conform_mark
	conform_insmod livepatch-sample || return 1
	conform_wait_file 60 "$CONFORM_ROOT/livepatch_sample/transition" 0 || return 1
	[ "$(cat /proc/cmdline)" = "this has been live patched" ] ||
		{ CONFORM_WHY="/proc/cmdline is '$(cat /proc/cmdline)' while patched"; return 1; }
	conform_disable livepatch_sample || return 1
	[ "$(cat /proc/cmdline)" = "$_orig" ] || { CONFORM_WHY="/proc/cmdline not restored"; return 1; }
	conform_rmmod livepatch_sample || return 1
	conform_log_order "livepatch: enabling patch 'livepatch_sample'" \
		"livepatch: 'livepatch_sample': patching complete" \
		"livepatch: 'livepatch_sample': unpatching complete"
}

# The buggy module leaks an int per dummy; fix1 keeps each leak in a shadow
# variable that its dummy_free releases.
sample_shadow_fix1() {
	conform_mark
	conform_insmod livepatch-shadow-mod || return 1
	conform_wait_log 20 "] dummy_alloc: dummy @" || return 1
	conform_insmod livepatch-shadow-fix1 || return 1
	conform_wait_file 60 "$CONFORM_ROOT/livepatch_shadow_fix1/transition" 0 || return 1
	# A dummy allocated by fix1 expires after 12 s and is freed by fix1's
	# dummy_free, whose shadow-variable destructor frees the leak.
	conform_wait_log 60 "livepatch_shadow_fix1: livepatch_fix1_dummy_alloc: dummy @" || return 1
	conform_wait_log 60 "livepatch_shadow_fix1: livepatch_fix1_dummy_leak_dtor: dummy @ .*, prevented leak @"
}

# fix2 (stacked on fix1) replaces dummy_free again and adds a shadow counter:
# leaks recorded by fix1's shadow variables are released by fix2's code.
sample_shadow_fix2() {
	conform_mark
	conform_insmod livepatch-shadow-fix2 || return 1
	conform_wait_file 60 "$CONFORM_ROOT/livepatch_shadow_fix2/transition" 0 || return 1
	conform_wait_log 60 "livepatch_shadow_fix2: livepatch_fix2_dummy_leak_dtor: dummy @ .*, prevented leak @" || return 1
	conform_wait_log 30 "livepatch_shadow_fix2: livepatch_fix2_dummy_free: dummy @ .*, check counter = " || return 1
	# fix1's dummy_free is no longer called.
	_after=$(conform_since | sed -n '/livepatch_fix2_dummy_leak_dtor/,$p')
	! printf '%s\n' "$_after" | grep -q "livepatch_fix1_dummy_leak_dtor" ||
		{ CONFORM_WHY="fix1's dummy_free still runs after fix2's"; return 1; }
}

# Unwind as samples/livepatch/livepatch-shadow-mod.c says: disable fix2, then
# fix1, remove both and the buggy module.
sample_shadow_mod() {
	conform_mark
	conform_disable livepatch_shadow_fix2 || return 1
	conform_disable livepatch_shadow_fix1 || return 1
	conform_rmmod livepatch_shadow_fix2 || return 1
	conform_rmmod livepatch_shadow_fix1 || return 1
	conform_rmmod livepatch_shadow_mod || return 1
	! grep -q '^livepatch_shadow' /proc/modules || { CONFORM_WHY="modules left: $(grep '^livepatch_shadow' /proc/modules)"; return 1; }
	conform_log_order "livepatch: 'livepatch_shadow_fix2': unpatching complete" \
		"livepatch: 'livepatch_shadow_fix1': unpatching complete"
}

# busymod parks its work item in busymod_work_func, which the demo patches:
# the transition waits for it; the demo's callbacks run in upstream's order.
sample_callbacks_busymod() {
	conform_mark
	conform_insmod livepatch-callbacks-busymod sleep_secs=$((12 * CONFORM_SCALE)) || return 1
	conform_wait_log 20 "busymod_work_func, sleeping" || return 1
	conform_insmod livepatch-callbacks-demo || return 1
	_p=$CONFORM_ROOT/livepatch_callbacks_demo
	conform_wait_file 10 "$_p/enabled" 1 || return 1
	[ "$(cat "$_p/transition")" = 1 ] ||
		{ CONFORM_WHY="the transition did not wait for the sleeping busymod_work_func"; return 1; }
	# livepatch-callbacks-mod, loaded and removed while the transition waits.
	CONFORM_MOD_STATUS=0
	CONFORM_MOD_WHY=
	if conform_insmod livepatch-callbacks-mod && conform_rmmod livepatch_callbacks_mod &&
		conform_log_order "livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_mod -> \[MODULE_STATE_COMING\]" \
			"livepatch_callbacks_mod: livepatch_callbacks_mod_init" \
			"livepatch_callbacks_demo: post_unpatch_callback: livepatch_callbacks_mod -> \[MODULE_STATE_GOING\]"; then
		:
	else
		CONFORM_MOD_STATUS=1
		CONFORM_MOD_WHY=$CONFORM_WHY
	fi
	conform_wait_file 60 "$_p/transition" 0 || return 1
	conform_log_order "livepatch_callbacks_demo: pre_patch_callback: vmlinux" \
		"livepatch_callbacks_demo: pre_patch_callback: livepatch_callbacks_busymod -> \[MODULE_STATE_LIVE\]" \
		"busymod_work_func exit" \
		"livepatch_callbacks_demo: post_patch_callback: vmlinux" \
		"livepatch_callbacks_demo: post_patch_callback: livepatch_callbacks_busymod -> \[MODULE_STATE_LIVE\]" \
		"livepatch: 'livepatch_callbacks_demo': patching complete" || return 1
	conform_mark
	conform_disable livepatch_callbacks_demo || return 1
	conform_rmmod livepatch_callbacks_demo || return 1
	conform_rmmod livepatch_callbacks_busymod || return 1
	conform_log_order "livepatch_callbacks_demo: pre_unpatch_callback: vmlinux" \
		"livepatch_callbacks_demo: pre_unpatch_callback: livepatch_callbacks_busymod -> \[MODULE_STATE_LIVE\]" \
		"livepatch_callbacks_demo: post_unpatch_callback: vmlinux" \
		"livepatch_callbacks_demo: post_unpatch_callback: livepatch_callbacks_busymod -> \[MODULE_STATE_LIVE\]" \
		"livepatch: 'livepatch_callbacks_demo': unpatching complete"
}

conform_samples() {
	_col=$1
	CONFORM_DIR=/conform/$_col
	CONFORM_ROOT=$(conform_root "$_col")
	if [ -f "$CONFORM_DIR/BUILD-FAILED" ]; then
		conform_build_failed "$_col" "$CONFORM_DIR/sample-cases.txt" ""
		return 0
	fi
	echo "=== conformance [$_col] samples"
	[ ! -f "$CONFORM_DIR/BUILD-ERRORS" ] || cat "$CONFORM_DIR/BUILD-ERRORS"
	CONFORM_WHY=
	_st=0; sample_livepatch_sample || _st=1
	conform_result "$_col" livepatch-sample $_st
	CONFORM_WHY=
	_st=0; sample_shadow_fix1 || _st=1
	conform_result "$_col" livepatch-shadow-fix1 $_st
	if [ $_st = 0 ]; then
		CONFORM_WHY=
		_st=0; sample_shadow_fix2 || _st=1
	else
		CONFORM_WHY="not run: fix1 failed"
	fi
	conform_result "$_col" livepatch-shadow-fix2 $_st
	CONFORM_WHY=
	_st=0; sample_shadow_mod || _st=1
	[ $_st = 0 ] || [ -n "$CONFORM_WHY" ] || CONFORM_WHY="unload failed"
	conform_result "$_col" livepatch-shadow-mod $_st
	conform_clean "$_col"
	CONFORM_WHY=
	CONFORM_MOD_STATUS=1
	CONFORM_MOD_WHY="not reached"
	_st=0; sample_callbacks_busymod || _st=1
	conform_result "$_col" livepatch-callbacks-busymod $_st
	CONFORM_WHY=$CONFORM_MOD_WHY
	conform_result "$_col" livepatch-callbacks-mod $CONFORM_MOD_STATUS
	conform_clean "$_col"
}
