#!/usr/bin/env bash
# check-tailcall.sh OBJECT FUNCTION TARGET...
#
# Passes if FUNCTION in OBJECT (a .o or .ko) leaves by a jump (jmp or a
# conditional jump) to one of the TARGET symbols: a tail call, where the
# callee is entered with FUNCTION's caller as its return address. Scenarios
# whose point is a tail call run it on the host (header "# host-check:"), so
# that they cannot pass because the compiler happened to emit a call.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 OBJECT FUNCTION TARGET..." >&2; exit 2; }
obj=$1 func=$2
shift 2
[ -f "$obj" ] || { echo "check-tailcall: no $obj" >&2; exit 1; }
dis=$(objdump -dr --no-show-raw-insn --disassemble="$func" "$obj")
grep -q "<$func>:" <<<"$dis" || { echo "check-tailcall: no function $func in $obj" >&2; exit 1; }
# A relocation line follows the instruction it patches: pair them up.
jumps=$(awk '
	/^ *[0-9a-f]+:\t/ { insn = $0; next }
	/R_X86_64_(PLT32|PC32)/ {
		split(insn, f, "\t"); split(f[2], m, " ")
		if (m[1] ~ /^j/) { sub(/[-+]0x[0-9a-f]+$/, "", $3); print m[1], $3 }
	}' <<<"$dis")
for t in "$@"; do
	if grep -qx "j[a-z]* $t" <<<"$jumps"; then
		echo "check-tailcall: $func in $(basename "$obj") tail-calls $t ($(grep -x "j[a-z]* $t" <<<"$jumps" | head -n1 | cut -d' ' -f1))"
		exit 0
	fi
done
echo "check-tailcall: FAIL: $func in $obj has no jump to any of: $*" >&2
echo "$dis" >&2
exit 1
