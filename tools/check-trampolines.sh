#!/usr/bin/env bash
# check-trampolines.sh: livegraft's hand-written assembly is built for the
# kernel's mitigations, the way arch/x86/kernel/ftrace_64.S builds ftrace's
# trampolines. That is the direct-call trampolines of livegraft.ko
# (src/trampolines.S) and the LIVEGRAFT_ORIGINAL() stubs of patch modules
# (include/livegraft.h; checked in tests/modules/lg_testpatch/lg_tailpatch):
#
#  * CONFIG_MITIGATION_RETHUNK: no bare `ret`, every return goes through
#    __x86_return_thunk (the RET macro);
#  * CONFIG_X86_KERNEL_IBT: every trampoline whose address is taken (the
#    table register_ftrace_direct() gets its addresses from), and every
#    stub, starts with ENDBR, so objtool's IBT validation finds no
#    relocation to !ENDBR.
#
# It checks the built objects against the kernel's .config. Since the test
# kernel has neither option (CONFIG_CPU_MITIGATIONS is off), it also rebuilds
# each object with both defined (kbuild's own command line from its .cmd
# file, plus -DCONFIG_MITIGATION_RETHUNK=1 -DCONFIG_X86_KERNEL_IBT=1, and
# -fcf-protection=branch for C), checks that, and runs the kernel's objtool
# on it (--orc --retpoline --rethunk, and --ibt --link): so the check runs
# on every build. Usage: tools/check-trampolines.sh (after the build).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kdir=$(kernel_dir)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# check OBJECT RETHUNK IBT REGEX: checks the functions whose names match
# REGEX; prints what it finds, returns 1 on a violation.
check() {
	local obj=$1 rethunk=$2 ibt=$3 re=$4 bad=0 funcs f dis
	funcs=$(nm "$obj" | awk -v re="$re" '$3 ~ re { print $3 }')
	[ -n "$funcs" ] || { echo "  nothing matching $re in $obj"; return 1; }
	for f in $funcs; do
		dis=$(objdump -dr --no-show-raw-insn --disassemble="$f" "$obj" | sed -n "/<$f>:/,\$p")
		if [ "$rethunk" = y ] && grep -Eq $'\t'"ret[lq]?( |$)" <<<"$dis"; then
			echo "  $f: bare ret under MITIGATION_RETHUNK:"
			grep -E $'\t'"ret[lq]?( |$)" <<<"$dis" | head -n 3 | sed 's/^/    /'
			bad=1
		fi
		# Whatever may be entered through its address: the table's
		# trampolines and the stubs (lg_direct_decide_tramp is only jumped to).
		if [ "$ibt" = y ] && [ "$f" != lg_direct_decide_tramp ] &&
			! sed -n '2p' <<<"$dis" | grep -q endbr64; then
			echo "  $f: no ENDBR under X86_KERNEL_IBT: $(sed -n '2p' <<<"$dis")"
			bad=1
		fi
	done
	if [ "$rethunk" = y ] && [ "$bad" = 0 ]; then
		echo "  $(grep -c . <<<"$funcs") functions, no bare ret; $(objdump -dr "$obj" | grep -c 'R_X86_64_PLT32.*__x86_return_thunk') returns through __x86_return_thunk in the object"
	fi
	return $bad
}

# check_slot_reads OBJECT: the slot publication protocol (issue 13, item 8),
# checked on the code: lg_direct_slot_target() changes one aligned word per
# slot while its trampoline is attached, so each trampoline lg_dt_H_L (slot
# n = 16H+L) must read that word, target at 16n, first and once, branch on
# it, and read nothing else of lg_direct_slots but its own site at 16n+8,
# which is written only while it is detached. A trampoline that read a
# second changing field (the start/len of the first design) could combine
# two publications. Prints each violation; returns 1 if any.
check_slot_reads() {
	local obj=$1
	objdump -dr --no-show-raw-insn "$obj" | awk '
	function hexval(h,   i, v) {
		v = 0
		for (i = 1; i <= length(h); i++)
			v = v * 16 + index("0123456789abcdef", substr(h, i, 1)) - 1
		return v
	}
	function flush() {
		if (fn == "") return
		n = 16 * hi + lo
		want = sprintf("%d %d", 16 * n, 16 * n + 8)
		if (reads != want || !branched) {
			printf "  %s: slot reads at offsets [%s] (want [%s], the target first and a branch on it)\n", fn, reads, want
			bad = 1
		}
		checked++
		fn = ""
	}
	/^[0-9a-f]+ <[^>]+>:$/ {
		flush()
		name = $2; gsub(/[<>:]/, "", name)
		if (name ~ /^lg_dt_[0-9]+_[0-9]+$/) {
			split(name, part, "_"); hi = part[3]; lo = part[4]
			fn = name; reads = ""; branched = 0; loads = 0
		}
		next
	}
	fn != "" && /R_X86_64_PC32[ \t]+lg_direct_slots/ {
		off = $NF; sub(/^lg_direct_slots/, "", off)
		v = 0
		if (off != "") { sign = substr(off, 1, 1); hex = substr(off, 4); v = hexval(hex); if (sign == "-") v = -v }
		# PC-relative: the addend is the field offset minus 4.
		reads = reads (reads == "" ? "" : " ") (v + 4)
		loads++
		next
	}
	fn != "" && loads == 1 && /\tj(e|z) / { branched = 1 }
	END {
		flush()
		if (checked == 0) { print "  no lg_dt_* trampoline found"; exit 1 }
		if (!bad) printf "  %d trampolines read only their target word before branching, then their site\n", checked
		exit bad
	}'
}

# mock OBJECT REGEX: rebuilds OBJECT (a kbuild object with its .cmd file)
# with RETHUNK and IBT defined, checks it and runs objtool on it.
mock() {
	local obj=$1 re=$2 rel cmdfile cmd opts
	rel=${obj#"$LIVEGRAFT_ROOT"/}
	cmdfile=$(dirname "$obj")/.$(basename "$obj").cmd
	[ -f "$cmdfile" ] || die "no $cmdfile: build first"
	# savedcmd_<obj> := <compile>[; <objtool ...>]: keep the compile,
	# redirect its output and dependency file.
	cmd=$(sed -n 's/^savedcmd_[^ ]* := //p' "$cmdfile" | sed 's/; .*objtool.*$//')
	cmd=$(sed -e "s# -o [^ ]*$(basename "$obj")# -o $tmp/mock.o#" -e "s#-Wp,-MMD,[^ ]*#-Wp,-MMD,$tmp/mock.d#" <<<"$cmd")
	cmd="$cmd -DCONFIG_MITIGATION_RETHUNK=1 -DCONFIG_X86_KERNEL_IBT=1"
	# What arch/x86/Makefile adds to C code for those options.
	case $(sed -n 's/^source_[^ ]* := //p' "$cmdfile") in
	*.c)
		cmd="$cmd -fcf-protection=branch"
		# Only compilers that have it can build a RETHUNK kernel (clang >= 15).
		if clang -mfunction-return=thunk-extern -x c -c -o /dev/null /dev/null 2>/dev/null; then
			cmd="$cmd -mfunction-return=thunk-extern"
		fi
		;;
	esac
	echo "$rel rebuilt with MITIGATION_RETHUNK and X86_KERNEL_IBT defined:"
	if ! (cd "$kdir" && eval "$cmd") >"$tmp/build.log" 2>&1; then
		cat "$tmp/build.log"
		die "mock build of $rel failed"
	fi
	check "$tmp/mock.o" y y "$re" || status=1
	local objtool=$kdir/tools/objtool/objtool
	[ -x "$objtool" ] || return 0
	# The kernel runs --orc/--retpoline/--rethunk per object and --ibt on
	# the linked module; the mock is one object, checked both ways.
	for opts in "--orc --retpoline --rethunk --module" "--ibt --link --module"; do
		"$objtool" $opts --dry-run "$tmp/mock.o" >"$tmp/objtool.log" 2>&1 || true
		# About our assembly (compiled C code around it is the
		# compiler's business, and the flags of this mock are approximate).
		if grep -E "warning:|error:" "$tmp/objtool.log" | grep -Eq "$re|error:"; then
			echo "  objtool $opts:"
			grep -E "warning:|error:" "$tmp/objtool.log" | grep -E "$re|error:" | head -n 10 | sed 's/^/    /'
			status=1
		else
			echo "  objtool $opts: nothing about them"
		fi
	done
}

cfg() { grep -q "^$1=y" "$kdir/.config" && echo y || echo n; }
rethunk=$(cfg CONFIG_MITIGATION_RETHUNK)
ibt=$(cfg CONFIG_X86_KERNEL_IBT)
tramps='^lg_dt_[0-9]+_[0-9]+$|^lg_direct_decide_tramp$'
stub='^orig_wrap$'
ko=$LIVEGRAFT_ROOT/livegraft.ko
tail=$LIVEGRAFT_ROOT/tests/modules/lg_testpatch/lg_tailpatch
for f in "$ko" "$tail.ko"; do [ -f "$f" ] || die "no $f: build it first"; done
echo "kernel: MITIGATION_RETHUNK=$rethunk X86_KERNEL_IBT=$ibt"
echo "livegraft.ko:"
check "$ko" "$rethunk" "$ibt" "$tramps" || status=1
echo "livegraft.ko, slot reads:"
check_slot_reads "$ko" || status=1
echo "lg_tailpatch.ko:"
check "$tail.ko" "$rethunk" "$ibt" "$stub" || status=1

# The object that holds the trampolines (src/trampolines.o; src/glue.o
# before they moved there).
obj=
for o in "$LIVEGRAFT_ROOT"/src/*.o; do
	if nm "$o" 2>/dev/null | grep ' lg_dt_0_0$' >/dev/null; then obj=$o; break; fi
done
[ -n "$obj" ] || die "no object in src/ defines lg_dt_0_0"
mock "$obj" "$tramps"
mock "$tail.o" "$stub"
[ "$status" = 0 ] && echo "check-trampolines: ok" || echo "check-trampolines: FAIL"
exit "$status"
