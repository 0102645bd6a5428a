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
