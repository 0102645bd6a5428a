#!/usr/bin/env bash
# Soak: livegraft's stress set for a given time in one VM, then its figures.
#
#   tools/soak.sh [--minutes N] [--no-build]
#
# Boots the debug flavour (LIVEGRAFT_FLAVOUR=base to use the other; it has
# no failslab, so no faults are injected there) and runs tests/vm/soak.sh
# for N minutes (default 30): enable/disable cycles, disables at random
# moments (half of them reversing a held transition), stacked patches and
# loads with a random allocation failing, all under load on every vCPU with
# tasks forking and exiting; no unit of work may mix versions. Prints the
# figures as a table. Not part of the test command (Documentation/stress.rst
# has the figures of the last runs).
# Exit status: tools/vm.sh's (0 only if the run passed: no mixed unit, no
# kernel report, no leak).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
minutes=30
build=()
while [ $# -gt 0 ]; do
	case "$1" in
	--minutes) minutes=$2; shift 2 ;;
	--no-build) build=(--no-build); shift ;;
	-h|--help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "soak.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[[ $minutes =~ ^[1-9][0-9]*$ ]] || { echo "soak.sh: --minutes wants a positive number" >&2; exit 2; }
export LIVEGRAFT_FLAVOUR=${LIVEGRAFT_FLAVOUR:-debug}
suffix=
[ "$LIVEGRAFT_FLAVOUR" = base ] || suffix=.$LIVEGRAFT_FLAVOUR
rc=0
mkdir -p "$root/out"
# The scenario's timeout: its minutes plus the final checks (tools/vm.sh
# doubles it on the debug flavour).
LIVEGRAFT_VM_CMDLINE="lg.soak=$minutes${LIVEGRAFT_VM_CMDLINE:+ $LIVEGRAFT_VM_CMDLINE}" \
	"$root/tools/vm.sh" "${build[@]}" --keep-logs --timeout $((minutes * 60 + 900)) soak \
	| tee "$root/out/soak.vm.txt" || rc=$?
log=$root/out/vm/soak$suffix.log
line=$(grep -a '^SOAK ' "$log" | tail -n1 | tr -d '\r' || true)
if [ -z "$line" ]; then
	echo "soak: no figures (the run ended early: see $log)"
	exit $(( rc ? rc : 1 ))
fi
echo
echo "soak figures ($log):"
for kv in ${line#SOAK }; do
	printf '  %-16s %s\n' "${kv%%=*}" "${kv#*=}"
done
# The checkers: units that mixed versions (the guest's count), and the
# harness's verdict (a kernel report, a leak, a timeout fail the run).
verdict=$(grep -a '^\(PASS\|FAIL\) soak' "$root/out/soak.vm.txt" | tail -n1)
printf '  %-16s %s\n' verdict "${verdict:-none}"
exit "$rc"
