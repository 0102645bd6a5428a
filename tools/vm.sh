#!/usr/bin/env bash
# livegraft VM harness: boot the test kernel in QEMU once per scenario and
# report pass/fail.
#
#   tools/vm.sh [options] [SCENARIO...]   (default: every tests/vm/*.sh)
#     --accel A      QEMU accelerator (default tcg; KVM hangs on these hosts)
#                    (TCG runs single-threaded by default: multi-threaded TCG
#                    raced with cross-modifying code and produced spurious
#                    int3 oopses while ftrace patched hot functions; set
#                    LIVEGRAFT_ACCEL_OPTS= to use MTTCG anyway)
#     --smp N        vCPUs (default 2)
#     --mem SIZE     guest memory (default 512M)
#     --timeout S    per-scenario timeout in seconds (default 180, or the
#                    scenario's own "# timeout: S" header)
#     --keep-logs    keep the console log of passing scenarios too
#     --no-build     reuse the modules already built
#
# LIVEGRAFT_FLAVOUR=debug runs the scenarios on the debug kernel flavour
# (preemptible, KASAN, lockdep, no CONFIG_LIVEPATCH; tools/kernel-debug.config)
# instead of the base one; timeouts double there and logs are named
# <scenario>.debug.log. A scenario whose "# requires: CONFIG_X" header names
# an option the flavour lacks is skipped and listed as SKIP (not counted).
# The guest sees the flavour as lg.flavour= on its command line.
#
# A scenario is a shell script run by /init inside the guest. It fails on a
# non-zero exit, a timeout, or an Oops/BUG/WARNING/panic/lockdep/KASAN report
# anywhere in the console log. Console logs go to out/vm/<scenario>.log.
# Each "# host-check: CMD" line of a scenario is run on the host first, from
# the repository root, after the build (checks of the built objects, e.g.
# that a replacement really ends in a tail call); a failing one fails the
# scenario without booting (output in out/vm/<scenario>.host.log).
# Prints one "PASS name" / "FAIL name (why)" line per scenario, then
# "vm: N passed, N failed".
#
# Scenario headers (comment lines anywhere in the scenario, first one wins):
#   # timeout: S       this scenario's timeout in seconds
#   # cmdline: ARGS    appended to this scenario's kernel command line
#                      (and LIVEGRAFT_VM_CMDLINE to every scenario's)
#                      (e.g. "highres=off" to run without hrtimer_interrupt)
#   # conformance: yes the scenario needs the conformance tree
#                      (tools/gen-conformance.sh: upstream's selftests and
#                      samples built for both columns, bash, kmod, ...),
#                      added to its initramfs as a second archive
#   # cases: FILE      the scenario reports cases ("LIVEGRAFT-CASE PASS|FAIL
#                      ID [(why)]" lines); FILE (relative to the repository,
#                      "{flavour}" replaced) lists the IDs, one a line. Each
#                      ID counts as one test: PASS only with its PASS line,
#                      so a case the guest never reported fails
#   # long: yes        a scenario with a short and a long profile (fault
#                      injection over every allocation, stress): it sees
#                      lg.long=0 on its command line and runs a sample that
#                      fits the test command into CI's 90 minutes on 2
#                      cores, or, with LIVEGRAFT_LONG=1, lg.long=1 and runs
#                      everything (tens of minutes)
#   # injected-faults: yes  the scenario injects faults (failslab): the
#                      stack dumps the kernel prints for them are not
#                      kernel reports (each is skipped up to its </TASK>)
#   # boots: N         boot the scenario N times (a reboot test): boot k sees
#                      lg.boot=k on its command line, and what boot k saved
#                      with lib.sh's `persist DIR...` is in boot k+1's
#                      initramfs (an extra cpio archive); every boot must
#                      end with rc=0; the console logs are concatenated
set -euo pipefail
. "$(dirname "$0")/lib.sh"

accel=${LIVEGRAFT_ACCEL:-tcg}
accel_opts=${LIVEGRAFT_ACCEL_OPTS-,thread=single}
smp=2
mem=512M
timeout_scale=1
if [ "$LIVEGRAFT_FLAVOUR" = debug ]; then
	# KASAN's shadow memory and the slower instrumented code.
	mem=1G
	timeout_scale=2
fi
timeout_default=180
keep_logs=0
build=1
scenarios=()
while [ $# -gt 0 ]; do
	case "$1" in
	--accel) accel=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--mem) mem=$2; shift 2 ;;
	--timeout) timeout_default=$2; shift 2 ;;
	--keep-logs) keep_logs=1; shift ;;
	--no-build) build=0; shift ;;
	-h|--help) sed -n '2,32p' "$0"; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) scenarios+=("$(basename "${1%.sh}")"); shift ;;
	esac
done
tests=$LIVEGRAFT_ROOT/tests/vm
if [ ${#scenarios[@]} -eq 0 ]; then
	for f in "$tests"/[0-9]*.sh; do scenarios+=("$(basename "${f%.sh}")"); done
fi
for s in "${scenarios[@]}"; do
	[ -f "$tests/$s.sh" ] || die "no scenario $s (looked for $tests/$s.sh)"
done

"$LIVEGRAFT_ROOT/tools/setup.sh"
conformance=0
for s in "${scenarios[@]}"; do
	! grep -q '^# conformance: *yes' "$tests/$s.sh" || conformance=1
done
if [ "$build" = 1 ]; then
	kdir=$("$LIVEGRAFT_ROOT/tools/build-module.sh" "$LIVEGRAFT_ROOT"/tests/modules/*/)
	"$LIVEGRAFT_ROOT/tools/gen-samples.sh"
	"$LIVEGRAFT_ROOT/tools/build-compat-samples.sh"
	[ "$conformance" = 0 ] || "$LIVEGRAFT_ROOT/tools/gen-conformance.sh"
else
	kdir=$(kernel_dir)
fi
out=$LIVEGRAFT_ROOT/out/vm
mkdir -p "$out"

# --- initramfs -------------------------------------------------------------
initrd=$out/initramfs.cpio.gz
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,proc,sys,dev,tmp,lib/livegraft,tests}
cp /bin/busybox "$stage/bin/busybox"
cp "$tests"/*.sh "$stage/tests/"
find "$LIVEGRAFT_ROOT" -maxdepth 1 -name '*.ko' -exec cp {} "$stage/lib/livegraft/" \;
find "$LIVEGRAFT_ROOT/tests/modules" "$LIVEGRAFT_ROOT/out/patches" -name '*.ko' \
	-exec cp {} "$stage/lib/livegraft/" \; 2>/dev/null || true
find "$kdir/samples/livepatch" "$kdir/samples/ftrace" -name '*.ko' \
	-exec cp {} "$stage/lib/livegraft/" \; 2>/dev/null || true
# upstream's samples built as livegraft patches (tools/build-compat-samples.sh)
mkdir -p "$stage/lib/livegraft/compat"
find "$LIVEGRAFT_ROOT/out/compat" -maxdepth 1 -name '*.ko' -exec cp {} "$stage/lib/livegraft/compat/" \; 2>/dev/null || true
# The livegraft command, statically linked (the initramfs has no libc):
# built in release mode, then incrementally (also with --no-build: cargo does
# nothing when it is up to date).
cli=$LIVEGRAFT_ROOT/target/x86_64-unknown-linux-gnu/release/livegraft
(cd "$LIVEGRAFT_ROOT" && RUSTFLAGS="-C target-feature=+crt-static" \
	cargo build --quiet --release --target x86_64-unknown-linux-gnu -p livegraft) \
	|| die "building the livegraft command failed"
cp "$cli" "$stage/bin/livegraft"
# Copies of lg_testpatch that the command must refuse from the file alone
# (scenario 84): another patch ABI, and another kernel release (same-length
# edits of .modinfo; the kernel itself would accept the first one).
tp=$stage/lib/livegraft/lg_testpatch.ko
if [ -f "$tp" ]; then
	perl -pe 's/livegraft_abi=\d\0/livegraft_abi=1\0/' "$tp" >"$stage/lib/livegraft/lg_badabi.ko"
	perl -pe 's/vermagic=6\.12\./vermagic=9.99./' "$tp" >"$stage/lib/livegraft/lg_badkver.ko"
	cmp -s "$tp" "$stage/lib/livegraft/lg_badabi.ko" && die "lg_badabi.ko: no livegraft_abi tag to change"
	cmp -s "$tp" "$stage/lib/livegraft/lg_badkver.ko" && die "lg_badkver.ko: no 6.12 vermagic to change"
fi
for prog in "$tests"/progs/*.c; do
	[ -e "$prog" ] || continue
	gcc -static -O2 -Wall -Werror -o "$stage/bin/$(basename "${prog%.c}")" "$prog" -lpthread \
		|| die "building $prog failed"
done
cat >"$stage/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
export PATH=/bin
scenario=$(sed -n 's/.*lg\.scenario=\([^ ]*\).*/\1/p' /proc/cmdline)
echo "LIVEGRAFT-BEGIN $scenario"
cd /tests
sh -e "/tests/$scenario.sh"
echo "LIVEGRAFT-RESULT $scenario rc=$?"
sync
poweroff -f
INIT
chmod +x "$stage/init"
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd"
# The conformance tree as a second archive after the first (the kernel
# unpacks concatenated archives in order), only for the scenarios that ask.
initrd_conf=$out/initramfs-conformance.cpio.gz
if [ "$conformance" = 1 ]; then
	guest=$LIVEGRAFT_ROOT/out/conformance/guest
	[ -d "$guest/conform" ] || die "no $guest: run without --no-build once (tools/gen-conformance.sh)"
	{ cat "$initrd"; (cd "$guest" && find . | cpio -o -H newc --quiet | gzip -1); } >"$initrd_conf"
fi

# --- run ---------------------------------------------------------------------
# persist_into LOG INITRD: the base initramfs plus one more cpio archive with
# the files the guest printed (tar.gz, base64) between the last
# LIVEGRAFT-PERSIST-BEGIN/END lines of LOG (lib.sh's persist).
persist_into() {
	local d rc=0
	d=$(mktemp -d)
	tac "$1" | tr -d '\r' | sed -n '/^LIVEGRAFT-PERSIST-END$/,/^LIVEGRAFT-PERSIST-BEGIN$/p' \
		| sed '1d;$d' | tac | base64 -d | tar -xz -C "$d" || rc=1
	if [ "$rc" = 0 ]; then
		{ cat "$initrd"; (cd "$d" && find . -mindepth 1 | cpio -o -H newc --quiet | gzip -1); } >"$2" || rc=1
	fi
	rm -rf "$d"
	return "$rc"
}
bad_patterns='Oops|BUG:|WARNING:|Kernel panic|general protection fault|possible recursive locking|possible circular locking|inconsistent lock state|suspicious RCU usage|KASAN|UBSAN|Call Trace:|hung_task|soft lockup|hard LOCKUP|stack-protector|list_add corruption|list_del corruption'
passed=0
failed=0
skipped=0
suffix=
[ "$LIVEGRAFT_FLAVOUR" = base ] || suffix=.$LIVEGRAFT_FLAVOUR
for s in "${scenarios[@]}"; do
	log=$out/$s$suffix.log
	missing=
	for opt in $(sed -n 's/^# requires: *//p' "$tests/$s.sh"); do
		grep -q "^$opt=[ym]" "$kdir/.config" || missing="$missing $opt"
	done
	if [ -n "$missing" ]; then
		echo "SKIP $s [$LIVEGRAFT_FLAVOUR]: the kernel lacks$missing"
		skipped=$((skipped + 1))
		continue
	fi
	t=$(sed -n 's/^# timeout: *\([0-9]*\).*/\1/p' "$tests/$s.sh" | head -n1)
	t=$(( ${t:-$timeout_default} * timeout_scale ))
	cmdline=$(sed -n 's/^# cmdline: *//p' "$tests/$s.sh" | head -n1)
	! grep -q '^# long: *yes' "$tests/$s.sh" || cmdline="$cmdline lg.long=${LIVEGRAFT_LONG:-0}"
	# LIVEGRAFT_VM_CMDLINE: appended to every scenario's (e.g. lg.stress=full).
	cmdline="$cmdline${LIVEGRAFT_VM_CMDLINE:+ $LIVEGRAFT_VM_CMDLINE}"
	s_initrd=$initrd
	! grep -q '^# conformance: *yes' "$tests/$s.sh" || s_initrd=$initrd_conf
	start=$(date +%s)
	why=
	: >"$out/$s.host.log"
	while IFS= read -r check; do
		if ! (cd "$LIVEGRAFT_ROOT" && eval "$check") >>"$out/$s.host.log" 2>&1; then
			why="host check failed: $check (see $out/$s.host.log)"
			break
		fi
	done < <(sed -n 's/^# host-check: *//p' "$tests/$s.sh")
	if [ -n "$why" ]; then
		echo "FAIL $s [$LIVEGRAFT_FLAVOUR]: $why"
		tail -n 5 "$out/$s.host.log" | sed 's/^/    /'
		failed=$((failed + 1))
		continue
	fi
	boots=$(sed -n 's/^# boots: *\([0-9]*\).*/\1/p' "$tests/$s.sh" | head -n1)
	boots=${boots:-1}
	boot_initrd=$s_initrd
	set +e
	for ((b = 1; b <= boots; b++)); do
		blog=$log
		bootarg=
		if [ "$boots" != 1 ]; then
			blog=$out/$s$suffix.boot$b.log
			bootarg=" lg.boot=$b"
		fi
		timeout --foreground -k 5 "$t" qemu-system-x86_64 -accel "$accel$accel_opts" -cpu max -smp "$smp" -m "$mem" \
			-display none -monitor none -serial "file:$blog" -no-reboot \
			-kernel "$kdir/arch/x86/boot/bzImage" -initrd "$boot_initrd" \
			-append "console=ttyS0 panic=-1 lg.scenario=$s lg.flavour=$LIVEGRAFT_FLAVOUR$bootarg${cmdline:+ $cmdline}" </dev/null >/dev/null 2>"$out/$s$suffix.qemu.err"
		qrc=$?
		[ "$boots" != 1 ] || break
		[ "$b" = 1 ] && : >"$log"
		cat "$blog" >>"$log"
		rm -f "$blog"
		[ "$qrc" = 0 ] && [ "$b" -lt "$boots" ] && [ "$(grep -c "LIVEGRAFT-RESULT $s rc=0" "$log")" -ge "$b" ] || break
		# What the guest saved goes into the next boot's initramfs.
		boot_initrd=$out/$s$suffix.initrd$((b + 1))
		persist_into "$log" "$boot_initrd" || { qrc=persist; break; }
	done
	set -e
	secs=$(( $(date +%s) - start ))
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		why="timeout after ${t}s"
	elif [ "$qrc" = persist ]; then
		why="boot $b saved nothing readable between LIVEGRAFT-PERSIST-BEGIN/END"
	elif ! grep -q "LIVEGRAFT-RESULT $s rc=" "$log"; then
		why="no result line (qemu exit $qrc, see $out/$s$suffix.qemu.err)"
	elif grep -q "LIVEGRAFT-RESULT $s rc=[1-9]" "$log"; then
		why="scenario $(grep -o "LIVEGRAFT-RESULT $s rc=[0-9]*" "$log" | grep -v 'rc=0$' | tail -n1 | cut -d' ' -f3)"
	elif [ "$(grep -c "LIVEGRAFT-RESULT $s rc=0" "$log")" -lt "$boots" ]; then
		why="only $(grep -c "LIVEGRAFT-RESULT $s rc=0" "$log") of $boots boots ended (qemu exit $qrc)"
	fi
	# A scenario that injects faults expects the kernel's stack dumps of
	# them (failslab's verbose report, warn_alloc() of the failed caller):
	# each is skipped up to its </TASK>, and only that.
	scan=$log
	if grep -q '^# injected-faults: *yes' "$tests/$s.sh"; then
		scan=$out/$s$suffix.scan
		awk '/FAULT_INJECTION: forcing a failure|vmalloc error: |page allocation failure: /{skip=1}
			!skip {print}
			/<\/TASK>/ {skip=0}' "$log" >"$scan"
	fi
	if [ -z "$why" ] && hit=$(grep -E -m1 "$bad_patterns" "$scan"); then
		why="kernel report: $hit"
	fi
	# The scenario's cases, each one count (see "# cases:" above).
	cases=$(sed -n 's/^# cases: *//p' "$tests/$s.sh" | head -n1)
	cf=0
	if [ -n "$cases" ]; then
		cases=$LIVEGRAFT_ROOT/${cases//\{flavour\}/$LIVEGRAFT_FLAVOUR}
		[ -f "$cases" ] || die "$s: no case list $cases"
		cp=0; cf=0
		clog=$out/$s$suffix.cases
		grep -a '^LIVEGRAFT-CASE ' "$log" | tr -d '\r' >"$clog" || true
		while IFS= read -r id; do
			if grep -qxF "LIVEGRAFT-CASE PASS $id" "$clog"; then
				echo "PASS $s: $id [$LIVEGRAFT_FLAVOUR]"
				cp=$((cp + 1))
			else
				line=$(grep -F "LIVEGRAFT-CASE FAIL $id (" "$clog" | head -n1 || true)
				cwhy=${line#"LIVEGRAFT-CASE FAIL $id "}
				echo "FAIL $s: $id [$LIVEGRAFT_FLAVOUR]: ${cwhy:-(not reported: the scenario stopped before it)}"
				cf=$((cf + 1))
			fi
		done <"$cases"
		rm -f "$clog"
		echo "cases of $s [$LIVEGRAFT_FLAVOUR]: $cp passed, $cf failed"
		passed=$((passed + cp)); failed=$((failed + cf))
	fi
	if [ -z "$why" ]; then
		echo "PASS $s [$LIVEGRAFT_FLAVOUR] (${secs}s)"
		passed=$((passed + 1))
		# (A failed case keeps the log: its diff is there.)
		[ "$keep_logs" = 1 ] || [ "$cf" != 0 ] || rm -f "$log" "$out/$s$suffix.qemu.err" "$out/$s.host.log"
	else
		echo "FAIL $s [$LIVEGRAFT_FLAVOUR]: $why; console log: $log"
		# (|| true: a boot that died before /init has no such line, and
		# set -e with pipefail must not end the whole run there.)
		grep -E "^(FAIL|not ok)|LIVEGRAFT-" "$log" | head -n 20 | sed 's/^/    /' || true
		failed=$((failed + 1))
	fi
done
[ "$skipped" = 0 ] || echo "vm: $skipped skipped on the $LIVEGRAFT_FLAVOUR flavour (see SKIP lines)"
echo "vm: $passed passed, $failed failed"
[ "$failed" = 0 ]
