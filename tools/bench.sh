#!/usr/bin/env bash
# livegraft benchmarks, side by side with upstream livepatch in the same VM
# boot: per-call overhead (in-kernel loop), getpid cost, reading a patched
# /proc/cmdline, transition latency with 10/100/1000 mixed tasks, memory.
# Prints one table and writes results/bench-<UTC time>.json (not committed).
# Not part of the test suite; see Documentation/benchmarks.rst.
#   tools/bench.sh [vm.sh options]   run and report
#   tools/bench.sh --report          re-render the last run (out/vm/bench.log)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LIVEGRAFT_ROOT"
# --report: only re-render the table from the last run's log.
if [ "${1:-}" != --report ]; then
	"$LIVEGRAFT_ROOT/tools/vm.sh" --keep-logs --timeout 3000 --mem 1G bench "$@" >&2 || true
fi
log=out/vm/bench.log
grep -q '^BENCH ' "$log" || die "the benchmark run produced nothing; see $log"
complete=yes
grep -q '^BENCH done 1' "$log" || complete=no
mkdir -p results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
json=results/bench-$stamp.json
tr -d '\r' <"$log" | awk -v json="$json" -v stamp="$stamp" -v complete="$complete" '
function median(key,   n, i, j, t, a) {
	n = split(vals[key], a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	lo[key] = a[1]; hi[key] = a[n]; cnt[key] = n
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function row(label, key, unit, scale,   m) {
	if (!(key in vals)) { printf "  %-44s %12s\n", label, "n/a"; return }
	m = median(key)
	printf "  %-44s %12.2f %-3s  [%.2f .. %.2f, n=%d]\n", label, m / scale, unit, lo[key] / scale, hi[key] / scale, cnt[key]
	med[key] = m / scale
	jsonl = jsonl sprintf("%s\"%s\": {\"median\": %.3f, \"min\": %.3f, \"max\": %.3f, \"n\": %d, \"unit\": \"%s\"}", (jsonl == "" ? "" : ",\n  "), key, m / scale, lo[key] / scale, hi[key] / scale, cnt[key], unit)
}
function verdict(name, ok, detail) { printf "  %-60s %s  (%s)\n", name, ok ? "MET" : "MISSED", detail }
/^BENCH / { vals[$2] = vals[$2] (vals[$2] == "" ? "" : " ") $3 }
END {
	print "livegraft vs upstream livepatch, one TCG VM boot (2 vCPUs), " stamp
	print "clocksource: " vals["clocksource"]
	if (complete != "yes") print "WARNING: the run did not finish; rows marked n/a are missing (see out/vm/bench.log)"
	print ""
	print "Per-call cost of the patched function (in-kernel loop; ns per call)"
	row("unpatched", "percall.unpatched", "ns", 1)
	row("upstream livepatch, after completion", "percall.klp_done", "ns", 1)
	row("livegraft, after completion (fast path)", "percall.lg_done", "ns", 1)
	row("livegraft, after completion, fast_path=0", "percall.lg_handler", "ns", 1)
	row("upstream livepatch, during a transition", "percall.klp_transition", "ns", 1)
	row("livegraft, during a transition", "percall.lg_transition", "ns", 1)
	print ""
	print "getpid() cost (ns per call)"
	row("no patch", "getpid.unpatched", "ns", 1)
	row("upstream, after completion", "getpid.klp_done", "ns", 1)
	row("livegraft, after completion", "getpid.lg_done", "ns", 1)
	row("upstream, during a transition", "getpid.klp_transition", "ns", 1)
	row("livegraft, during a transition", "getpid.lg_transition", "ns", 1)
	print ""
	print "open+read+close /proc/cmdline (ns), each system'"'"'s sample patch"
	row("unpatched", "readcmdline.unpatched", "ns", 1)
	row("upstream livepatch-sample", "readcmdline.klp_done", "ns", 1)
	row("livegraft samples/cmdline", "readcmdline.lg_done", "ns", 1)
	print ""
	print "Transition latency (ms): load -> complete, write 0 -> unpatched"
	split("10 100 1000", sizes, " ")
	for (i = 1; i <= 3; i++) {
		s = sizes[i]
		row("module load alone (floor), " s " tasks", "latency.nop.load." s, "ms", 1e6)
		row("upstream enable, " s " tasks", "latency.klp.enable." s, "ms", 1e6)
		row("livegraft enable, " s " tasks", "latency.lg.enable." s, "ms", 1e6)
		row("upstream disable, " s " tasks", "latency.klp.disable." s, "ms", 1e6)
		row("livegraft disable, " s " tasks", "latency.lg.disable." s, "ms", 1e6)
		row("livegraft sweep=1 enable, " s " tasks", "latency.lgsweep.enable." s, "ms", 1e6)
		row("livegraft sweep=1 disable, " s " tasks", "latency.lgsweep.disable." s, "ms", 1e6)
	}
	print ""
	print "Memory"
	row("livegraft task table during a transition", "memory.lg_table_bytes", "B", 1)
	row("tasks tracked", "memory.lg_tracked_tasks", "", 1)
	print "  (the table has 4 slots of 16 B per task with a floor of 4096 slots: 64 KiB up to"
	print "   1024 tasks, 64 B per task above; nothing after completion)"
	print ""
	print "Targets"
	verdict("after completion: per-call <= upstream", med["percall.lg_done"] <= med["percall.klp_done"], sprintf("%.2f vs %.2f ns", med["percall.lg_done"], med["percall.klp_done"]))
	verdict("fast path (direct calls): overhead <= 0.3 x upstream'"'"'s", med["percall.lg_done"] - med["percall.unpatched"] <= 0.3 * (med["percall.klp_done"] - med["percall.unpatched"]), sprintf("overhead %.2f vs %.2f ns", med["percall.lg_done"] - med["percall.unpatched"], med["percall.klp_done"] - med["percall.unpatched"]))
	verdict("during a transition: per-call <= 1.5 x upstream", med["percall.lg_transition"] <= 1.5 * med["percall.klp_transition"], sprintf("%.2f vs %.2f ns", med["percall.lg_transition"], med["percall.klp_transition"]))
	for (i = 1; i <= 3; i++) {
		s = sizes[i]
		if (("latency.lg.enable." s) in med)
			verdict("enable latency below upstream at " s " tasks", med["latency.lg.enable." s] < med["latency.klp.enable." s], sprintf("%.1f vs %.1f ms", med["latency.lg.enable." s], med["latency.klp.enable." s]))
		if (("latency.lg.disable." s) in med)
			verdict("disable latency below upstream at " s " tasks", med["latency.lg.disable." s] < med["latency.klp.disable." s], sprintf("%.1f vs %.1f ms", med["latency.lg.disable." s], med["latency.klp.disable." s]))
	}
	if ("latency.lg.enable.1000" in med)
		verdict("enable latency at 1000 tasks <= 0.25 x upstream", med["latency.lg.enable.1000"] <= 0.25 * med["latency.klp.enable.1000"], sprintf("ratio %.2f", med["latency.lg.enable.1000"] / med["latency.klp.enable.1000"]))
	if ("latency.lgsweep.enable.1000" in med)
		verdict("with sweep=1: enable latency at 1000 tasks <= 0.25 x upstream", med["latency.lgsweep.enable.1000"] <= 0.25 * med["latency.klp.enable.1000"], sprintf("ratio %.2f", med["latency.lgsweep.enable.1000"] / med["latency.klp.enable.1000"]))
	verdict("after retirement: getpid within 10% of no patch", med["getpid.lg_done"] <= 1.1 * med["getpid.unpatched"], sprintf("%.1f vs %.1f ns", med["getpid.lg_done"], med["getpid.unpatched"]))
	printf "{\n  \"date\": \"%s\",\n  \"machine\": \"QEMU TCG, 2 vCPUs\",\n  %s\n}\n", stamp, jsonl > json
	print ""
	print "machine-readable: " json
}'
