#!/usr/bin/env bash
# Print the conformance table of Documentation/conformance.rst (reStructuredText)
# from the console logs of the last runs of scenarios 90 and 91 on both
# flavours (out/vm/9[01]-conformance-*[.debug].log; run tools/vm.sh --keep-logs).
# Columns: upstream livepatch on the base kernel, livegraft on the base kernel,
# livegraft on the debug kernel (no CONFIG_LIVEPATCH: upstream cannot run).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
out=$LIVEGRAFT_ROOT/out
verdict() { # LOG COLUMN ID
	if [ ! -f "$1" ]; then echo "(no run)"; return; fi
	if tr -d '\r' <"$1" | grep -xF "LIVEGRAFT-CASE PASS $2 $3" >/dev/null; then echo PASS; else echo FAIL; fi
}
table() { # SCENARIO CASEFILE
	local s=$1 w=64
	printf '%s\n' "$(printf '=%.0s' $(seq $w)) ========= ========= ========="
	printf "%-${w}s %-9s %-9s %-9s\n" "case" upstream livegraft livegraft
	printf "%-${w}s %-9s %-9s %-9s\n" "" base base debug
	printf '%s\n' "$(printf '=%.0s' $(seq $w)) ========= ========= ========="
	while IFS= read -r id; do
		printf "%-${w}s %-9s %-9s %-9s\n" "$id" \
			"$(verdict "$out/vm/$s.log" upstream "$id")" \
			"$(verdict "$out/vm/$s.log" livegraft "$id")" \
			"$(verdict "$out/vm/$s.debug.log" livegraft "$id")"
	done <"$2"
	printf '%s\n' "$(printf '=%.0s' $(seq $w)) ========= ========= ========="
}
sed 's/^\([^ ]*\) /\1: /' "$out/conformance/cases.txt" >"$out/conformance/cases-ids.txt"
table 90-conformance-selftests "$out/conformance/cases-ids.txt"
echo
table 91-conformance-samples "$out/conformance/sample-cases.txt"
