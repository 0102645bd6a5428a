# A C patch module whose replacement calls a static function and reads a
# static variable of lg_target, declared with include/livegraft_symbols.h
# and resolved by livegraft_resolve_symbols() before the patch is enabled:
# lg_target_fix(x) = x + 1 becomes lg_target_scale(x) + lg_target_factor +
# 1000 (scale multiplies by the factor), so the new result also follows a
# change of the static variable. An unresolvable and an ambiguous
# declaration are each refused with their message (both at once: two
# messages), with nothing stored, nothing registered and the module not
# loaded. The patch then disables cleanly and unloads.
# timeout: 180
. ./lib.sh
load_core_and_target
fix() { echo "fix $1" > $T; sed -n 's/^fix //p' $T; }
expect_eq "$(fix 5)" 6 "original lg_target_fix(5)"

# since_marker: the kernel log from the last "lg_symbols: resolving" line.
since_marker() {
	dmesg | awk '/lg_symbols: resolving/ { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }'
}
# refused WHAT NLINES REGEX... : insmod lg_symbols with bad=WHAT fails with
# exactly NLINES livegraft lines, each REGEX among them; nothing registered.
refused() {
	_bad=$1; _n=$2; shift 2
	expect_fail "bad=$_bad" insmod $MODDIR/lg_symbols.ko bad=$_bad
	_lines=$(since_marker | grep 'livegraft:' || true)
	printf '%s\n' "$_lines"
	for _re in "$@"; do
		printf '%s\n' "$_lines" | grep -Eq -- "$_re" || fail "bad=$_bad: no livegraft line matching '$_re'"
	done
	expect_eq "$(printf '%s\n' "$_lines" | grep -c .)" "$_n" "bad=$_bad: livegraft messages"
	[ ! -e $LG/lg_symbols ] || fail "bad=$_bad: sysfs directory left behind"
	! grep -q '^lg_symbols ' /proc/modules || fail "bad=$_bad: refused patch module stayed loaded"
	expect_eq "$(fix 5)" 6 "bad=$_bad: lg_target_fix still original"
}
MISSING="livegraft: 'lg_symbols': symbol 'lg_target_nosuch' not found in symbol table of object 'lg_target'$"
AMBIG="livegraft: 'lg_symbols': unresolvable ambiguity for symbol 'modalias_show' in object 'vmlinux'"
refused missing 1 "$MISSING"
refused ambiguous 1 "$AMBIG"
refused both 2 "$MISSING" "$AMBIG"

insmod $MODDIR/lg_symbols.ko
wait_transition_done lg_symbols
expect_dmesg "livegraft: 'lg_symbols': patching complete"
expect_eq "$(fix 5)" 1042 "patched lg_target_fix(5) = scale(5) + factor + 1000 with factor 7"
echo "factor 3" > $T
expect_eq "$(fix 5)" 1018 "the replacement reads the live static variable (factor 3)"
echo "scale 4" > $T
expect_eq "$(sed -n 's/^fix //p' $T)" 12 "lg_target_scale itself is untouched"
disable_patch lg_symbols
expect_eq "$(fix 5)" 6 "original again after unpatching"
rmmod lg_target
rmmod livegraft
