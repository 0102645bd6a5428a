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
#  4. the mutations of the shared kernel rules named in issue 14 (and the rules of atomic
#     replace and objects loaded later), applied one at a time to a scratch copy of src/logic:
#     `cargo test -p livegraft-logic` must fail with each, and each must still apply (a
#     mutation whose text no longer matches fails too, so the list follows the code).
#
# The last line is "N passed, N failed"; exit status 0 only if nothing failed.
#   tools/seeded-bugs.sh            everything
#   tools/seeded-bugs.sh --loom     only 2 and 3
#   tools/seeded-bugs.sh --src      only 4
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
passed=0
failed=0
ok() { echo "PASS: $*"; passed=$((passed + 1)); }
ko() { echo "FAIL: $*"; failed=$((failed + 1)); }

# name|file (under src/logic)|perl substitution (-0: may span lines; first match only)
mutations='choose never UseOlder|transition.rs|s/\(true, Universe::Unpatched\) => Choice::UseOlder/(true, Universe::Unpatched) => Choice::UseThisVersion/
forked child gets the target|decide.rs|s/let universe = table.universe_of\(parent\);/let universe = table.target();/
verdict always clean|stack_verdict.rs|s/Some\(ret\) => Verdict::Affected\(ret\),/Some(_) => Verdict::Clean,/
loop head without stack check|decide.rs|s/\| SafePoint::KthreadLoopHead\n//; s/SafePoint::SyscallExit \| SafePoint::OfflineIdle =>/SafePoint::SyscallExit | SafePoint::OfflineIdle | SafePoint::KthreadLoopHead =>/
TaskTable::accepting always false|task_table.rs|s/self.accepting.load\(Ordering::Relaxed\)\n/false\n/
failed_switch guard always true|task_table.rs|s/if cur == target.encode\(\)/if true/
home with ^ for &|task_table.rs|s/\.wrapping_shr\(self.shift\)\n(\s*)& self.mask/.wrapping_shr(self.shift)\n$1^ self.mask/
rebuild_into > as ==|task_table.rs|s/if self.live\(\) > new.max_load\(\)/if self.live() == new.max_load()/
rebuild_into > as >=|task_table.rs|s/if self.live\(\) > new.max_load\(\)/if self.live() >= new.max_load()/
reversed: p == id always true|transition.rs|s/direction,\n(\s*)\} if p == id => \{/direction,\n$1} if true => {/
next Started: p == id always true|transition.rs|s/direction,\n(\s*)\} if p == id => Ok\(Step \{\n(\s*)transition: TransitionState::Running/direction,\n$1} if true => Ok(Step {\n$2transition: TransitionState::Running/
next Force: p == id always true|transition.rs|s/TransitionState::Running \{ patch: p, .. \} if p == id => Ok/TransitionState::Running { patch: p, .. } if true => Ok/
next: mine always false|transition.rs|s/let mine = transition.is_in_transition\(id\);/let mine = false;/
coming: never marked in transition|replace.rs|s/Coming::Push \{ in_transition \}\n/Coming::Push { in_transition: false }\n/
replace end: never unhook|replace.rs|s/if nop \{\n(\s*)ReplaceEnd::Unhook/if nop {\n$1ReplaceEnd::CutOlder/
stack order: loaded functions only|replace.rs|s/FuncTop::Unloaded\(newer\) => newer,/FuncTop::Unloaded(_) => false,/
late code: one side only|stack_verdict.rs|s/\[new, old, orig\]/[new, orig, orig]/'

src_mutations() {
	local scratch tgt line name file expr out fails
	scratch=$(mktemp -d)
	tgt=$root/target/seeded-src
	mkdir -p "$scratch/src" "$scratch/crates"
	cp -r src/logic "$scratch/src/"
	cp -r crates/livegraft-logic "$scratch/crates/"
	cp Cargo.lock "$scratch/"
	printf '[workspace]\nmembers = ["crates/livegraft-logic"]\nresolver = "2"\n[profile.test]\nopt-level = 1\noverflow-checks = true\n' \
		>"$scratch/Cargo.toml"
	while IFS='|' read -r name file expr; do
		[ -n "$name" ] || continue
		cp "src/logic/$file" "$scratch/src/logic/$file"
		perl -0pi -e "$expr" "$scratch/src/logic/$file"
		if cmp -s "src/logic/$file" "$scratch/src/logic/$file"; then
			ko "source mutation '$name' no longer applies to src/logic/$file"
			continue
		fi
		out=$(cd "$scratch" && CARGO_TARGET_DIR=$tgt cargo test -p livegraft-logic --no-fail-fast \
			--color never -- --skip switchers_race 2>&1)
		fails=$(echo "$out" | grep -c '^test .* FAILED$')
		if [ "$fails" -gt 0 ]; then
			ok "source mutation '$name' caught ($fails tests fail)"
		elif echo "$out" | grep -q '^error'; then
			ko "source mutation '$name' does not build"
		else
			ko "source mutation '$name' was not caught"
		fi
		cp "src/logic/$file" "$scratch/src/logic/$file"
	done <<<"$mutations"
	rm -rf "$scratch"
}

if [ "${1:-}" = --src ]; then
	src_mutations
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit
fi

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
[ "${1:-}" = --loom ] || src_mutations
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
