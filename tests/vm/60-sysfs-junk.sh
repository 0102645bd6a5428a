# Junk of every class written to every writable file of a patch's sysfs
# directory (enabled, force), in one write(2) each, both with the patch
# applied and with its transition held open: each write fails with EINVAL
# and changes nothing (enabled, transition, no transition message in
# dmesg). Writes to the read-only files fail with EACCES at open; reading
# the write-only force file too.
# timeout: 240
. ./lib.sh
load_core_and_target
P=$LG/lg_testpatch
moves='reversing|initializing|forcing|enabling patch|complete'
# junk FILE PRINTF-FORMAT: one write of the bytes, which must fail with EINVAL.
junk() {
	printf "$2" > /tmp/junk
	if dd if=/tmp/junk of=$1 bs=8192 2>/tmp/junk.err; then
		fail "$(basename $1) <- '$2': accepted"
	fi
	grep -q "Invalid argument" /tmp/junk.err || fail "$(basename $1) <- '$2': not EINVAL: $(cat /tmp/junk.err)"
}
# bytes N CHAR: N copies of CHAR
bytes() { head -c "$1" /dev/zero | tr '\0' "$2"; }
bytes 4096 0 > /tmp/zeros4096
bytes 4096 1 > /tmp/ones4096
{ printf '0\n'; bytes 4094 ' '; } > /tmp/zero_pad4096
# unchanged STATE TRANSITION WHAT (quiet when it holds)
unchanged() {
	[ "$(cat $P/enabled)" = "$1" ] || fail "enabled changed after $3: $(cat $P/enabled)"
	[ "$(cat $P/transition)" = "$2" ] || fail "transition changed after $3: $(cat $P/transition)"
}
# all_junk STATE TRANSITION: every junk to enabled and force, checking that
# enabled stays STATE and transition stays TRANSITION.
all_junk() {
	dmesg -c > /dev/null
	for f in enabled force; do
		for bad in '\n' ' ' '   \n' '\t' '2' '-1' '00' '01' '10' '0x1' '0x0' '+1' '+0' \
			' 0' '0 ' '0\n\n' '1\n\n' 'yes' 'no' 'y' 'n' 'on' 'off' 'true' 'false' \
			'0\0001' '1\0000' '\0000' '0\000' '\303\251' '1\377' '0\303\251' '\3771' \
			'1abc' '0abc' '0x' '1 0' '0 1' '0\r\n' '1\r'; do
			junk $P/$f "$bad"
			unchanged "$1" "$2" "$f <- '$bad'"
		done
		for big in /tmp/zeros4096 /tmp/ones4096 /tmp/zero_pad4096; do
			dd if=$big of=$P/$f bs=8192 2>/tmp/junk.err && fail "$f <- 4096 bytes of $big: accepted"
			grep -q "Invalid argument" /tmp/junk.err || fail "$f <- $big: not EINVAL: $(cat /tmp/junk.err)"
			unchanged "$1" "$2" "$f <- $big"
		done
		ok "$f: every junk write failed with EINVAL, enabled=$1 transition=$2 unchanged"
	done
	# An empty write(2) reaches no store method (sysfs returns 0): it too changes nothing.
	: > $P/enabled
	expect_eq "$(cat $P/enabled)" "$1" "enabled after an empty write"
	expect_eq "$(cat $P/transition)" "$2" "transition after an empty write"
	expect_no_dmesg "livegraft: .*($moves)"
}

# 1. Applied, no transition.
insmod $MODDIR/lg_testpatch.ko
wait_transition_done lg_testpatch
all_junk 1 0
echo unit > $T
expect_eq "$(stat syscall v2)" 1 "still patched after the junk"

# 2. Read-only files: open for writing fails with EACCES, even for root;
# the write-only force cannot be read.
for f in transition pending_tasks summary lg_target/patched; do
	if sh -c "echo 0 > $P/$f" 2>/tmp/ro.err; then fail "write to $f accepted"; fi
	grep -q "Permission denied" /tmp/ro.err || fail "write to $f: not EACCES: $(cat /tmp/ro.err)"
done
ok "writes to transition, pending_tasks, summary, patched: EACCES"
if cat $P/force 2>/tmp/ro.err; then fail "read of force accepted"; fi
grep -q "Permission denied" /tmp/ro.err || fail "read of force: not EACCES: $(cat /tmp/ro.err)"
ok "read of force: EACCES"

# 3. The patching transition held open by a kthread sleeping in the old
# lg_target_hold(): junk must neither reverse nor force it.
disable_patch lg_testpatch
echo hold > $T
insmod $MODDIR/lg_testpatch.ko
sleep 1
expect_eq "$(cat $P/transition)" 1 "transition held open"
all_junk 1 1
expect_no_dmesg "reversing transition"
echo unhold > $T
wait_transition_done lg_testpatch
expect_dmesg "livegraft: 'lg_testpatch': patching complete"
disable_patch lg_testpatch
rmmod lg_target
rmmod livegraft
