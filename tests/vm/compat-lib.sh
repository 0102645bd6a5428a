# Helpers for the compat scenarios (70-74): upstream livepatch modules built
# through include/compat (tools/build-compat-samples.sh, tests/modules/lg_testcompat).
# Sourced after lib.sh.

C=$MODDIR/compat

# klp_mark: a unique line in the kernel log, as the selftests' canary.
klp_mark() {
	KLP_MARK="lgcompat-mark $$.$(date +%s).$RANDOM"
	echo "$KLP_MARK" > /dev/kmsg
}

# klp_log REGEX: the kernel log since the last mark, timestamps stripped,
# only the lines with 'livegraft:' or matching REGEX (grep -E; upstream's
# selftests keep 'livepatch:' and the test modules' names).
klp_log() {
	dmesg | awk -v m="$KLP_MARK" 'p; index($0, m) { p = 1 }' | sed 's/^\[[ 0-9.]*\] //' \
		| grep -E -e 'livegraft:' -e "$1"
}

# expect_klp_log PATTERN EXPECTED: exactly these lines (upstream's sequence,
# with livegraft: for livepatch:), in this order.
expect_klp_log() {
	_got=$(klp_log "$1")
	if [ "$_got" != "$2" ]; then
		echo "--- expected:"; echo "$2"; echo "--- got:"; echo "$_got"
		fail "kernel log differs from upstream's sequence"
	fi
	ok "kernel log: upstream's sequence of $(echo "$2" | wc -l) lines"
}

# twice TEXT: TEXT, a newline, TEXT. busybox's insmod retries a failed
# finit_module() with init_module(), so the init of a module that fails
# runs twice and logs its sequence twice.
twice() {
	printf '%s\n%s' "$1" "$1"
}

# not_upstream MODULE: the module is livegraft's, not upstream livepatch's
# (no /sys/kernel/livepatch entry, no livepatch taint 'K').
not_upstream() {
	[ ! -e "/sys/kernel/livepatch/$1" ] || fail "$1 is driven by upstream livepatch"
	case "$(cat /sys/module/$1/taint 2>/dev/null)" in *K*) fail "$1 taints the kernel as a livepatch (K)" ;; esac
	ok "$1 is a livegraft patch"
}
