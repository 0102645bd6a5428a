#!/usr/bin/env bash
# The checkers' own tests: every seeded bug must be caught.
#
#  1. the model test's seeded bugs (crates/livegraft-logic/tests/model.rs, `Bug`): each
#     `model_catches_*` test injects one bug into the simulated kernel and asserts that the
#     model reports it (they also run in every `cargo test`): the transition's steps and
#     safe-point rules, atomic replace (`model_catches_replace_*`) and objects loaded later
#     (`model_catches_late_*`, `model_catches_unload_*`);
#  2. the loom test of the task table (tests/loom.rs, built with --cfg loom) must pass;
#  3. the same loom test with each seeded ordering bug compiled into src/logic/task_table.rs
#     must FAIL: --cfg lg_seed_relaxed (every Release/Acquire of the table turned Relaxed,
#     src/logic/sync.rs) and --cfg lg_seed_target_first (switch_task loads the target before
#     `accepting`).
#
# The last line is "N passed, N failed"; exit status 0 only if nothing failed.
#   tools/seeded-bugs.sh            everything
#   tools/seeded-bugs.sh --loom     only 2 and 3
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
passed=0
failed=0
ok() { echo "PASS: $*"; passed=$((passed + 1)); }
ko() { echo "FAIL: $*"; failed=$((failed + 1)); }

if [ "${1:-}" != --loom ]; then
	log=$(mktemp)
	if cargo test -p livegraft-logic --color never --test model -- model_catches_ \
		model_untracked_fork_fallback >"$log" 2>&1; then
		n=$(grep -c '^test .* ok$' "$log")
		ok "model: $n seeded-bug tests catch their bug"
	else
		grep -E '^test .*FAILED|missed|not reported' "$log"
		ko "model: a seeded bug was not caught"
	fi
	rm -f "$log"
fi

loom() { # loom [cfg...]: run tests/loom.rs with these extra cfgs; output in $log
	local flags="--cfg loom" dir=target/loom c
	for c in "$@"; do flags="$flags --cfg $c"; dir="$dir-$c"; done
	RUSTFLAGS="$flags" CARGO_TARGET_DIR="$dir" \
		cargo test -p livegraft-logic --color never --release --test loom >"$log" 2>&1
}

log=$(mktemp)
if loom; then
	ok "loom: $(grep -c '^test .* ok$' "$log") task-table tests pass"
else
	grep -E '^test |panicked|error' "$log" | head -20
	ko "loom: the task table fails its loom tests"
fi
for seed in lg_seed_relaxed lg_seed_target_first; do
	if loom "$seed"; then
		ko "loom: seeded bug $seed was not caught"
	elif grep -q '^test result: FAILED' "$log"; then
		ok "loom: seeded bug $seed caught ($(grep -c '^test .* FAILED$' "$log") tests fail)"
	else
		grep -E 'error' "$log" | head -10
		ko "loom: seeded bug $seed did not build"
	fi
done
rm -f "$log"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
