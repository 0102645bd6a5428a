# Helpers for the symbol-position scenarios (45, 46); sourced after lib.sh.
# lg_sympos (tests/modules/lg_dup) patches one function named by object,
# name and sympos, all module parameters.

# kallsyms_addrs NAME [MODULE]: the addresses of every symbol NAME of
# vmlinux (no MODULE) or of MODULE, in kallsyms order, one per line.
kallsyms_addrs() {
	if [ -n "$2" ]; then
		grep -E "^[0-9a-f]+ . $1[[:space:]]+\[$2\]\$" /proc/kallsyms | cut -d' ' -f1
	else
		grep -E "^[0-9a-f]+ . $1\$" /proc/kallsyms | cut -d' ' -f1
	fi
}

# dmesg_since_marker: the kernel log from the last "lg_sympos: patching" line.
dmesg_since_marker() {
	dmesg | awk '/lg_sympos: patching/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }'
}

# refused WHAT MESSAGE INSMOD-ARGS...: insmod lg_sympos with ARGS fails; the
# kernel log has exactly one livegraft line since, matching MESSAGE;
# nothing was registered (no sysfs directory) and the module is not loaded.
refused() {
	_what=$1; _msg=$2; shift 2
	expect_fail "$_what" insmod $MODDIR/lg_sympos.ko "$@"
	_lines=$(dmesg_since_marker | grep 'livegraft:' || true)
	printf '%s\n' "$_lines"
	printf '%s\n' "$_lines" | grep -Eq -- "$_msg" || fail "$_what: no livegraft line matching '$_msg'"
	[ "$(printf '%s\n' "$_lines" | grep -c .)" = 1 ] || fail "$_what: not exactly one livegraft message"
	ok "$_what: one message: $_msg"
	[ ! -e $LG/lg_sympos ] || fail "$_what: sysfs directory left behind"
	! grep -q '^lg_sympos ' /proc/modules || fail "$_what: refused patch module stayed loaded"
	ok "$_what: nothing registered"
}
