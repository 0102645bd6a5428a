#!/usr/bin/env bash
# Generate and build every sample patch (samples/*/patch.toml) with
# livegraft-gen into out/patches/<name>/. Needs livegraft.ko and the test
# target module built first (tools/build-module.sh tests/modules/*/), since
# the patches link against their exports.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kdir=$(kernel_dir)
cd "$LIVEGRAFT_ROOT"
# Patches built against the other flavour's tree must be rebuilt from scratch.
if [ "$(cat out/patches/.livegraft-kdir 2>/dev/null)" != "$kdir" ]; then
	rm -rf out/patches
	mkdir -p out/patches
	echo "$kdir" >out/patches/.livegraft-kdir
fi
cargo build -q --release -p livegraft-gen
gen=$LIVEGRAFT_ROOT/target/release/livegraft-gen
target_dir=$LIVEGRAFT_ROOT/tests/modules/lg_target
for manifest in samples/*/patch.toml; do
	dir=$(dirname "$manifest")
	name=$(sed -n 's/^name *= *"\(.*\)".*/\1/p' "$manifest" | head -n1)
	[ -n "$name" ] || die "$manifest: no patch name"
	RUSTC=$RUSTC BINDGEN=$BINDGEN "$gen" -q "$dir" -o "out/patches/$name" --kdir "$kdir" \
		--symvers "$LIVEGRAFT_ROOT/Module.symvers" "$target_dir/Module.symvers" \
		--module-ko "$target_dir/lg_target.ko" --build >&2 \
		|| die "livegraft-gen failed for $dir"
done
# The corpus of fixes (tests/corpus/*.patch, diffs of the kernel source):
# `livegraft-gen diff` turns each accepted one into a module, and must refuse
# each refused one with the message its first line names.
# A "livegraft-corpus-args: ..." line adds options ($ROOT: this repository;
# e.g. --source $ROOT for a fix of one of livegraft's own test modules).
for fix in tests/corpus/*.patch; do
	verdict=$(head -n1 "$fix")
	name=livegraft_$(basename "$fix" .patch | tr -c 'A-Za-z0-9\n' '_')
	args=$(sed -n '/^--- /q; s/^livegraft-corpus-args: //p' "$fix" | sed "s|\$ROOT|$LIVEGRAFT_ROOT|g")
	case $verdict in
	"livegraft-corpus: accept")
		# shellcheck disable=SC2086 # $args: options, split on purpose
		RUSTC=$RUSTC BINDGEN=$BINDGEN "$gen" diff "$fix" --kdir "$kdir" --name "$name" $args \
			-o "out/diff/$name" --symvers "$LIVEGRAFT_ROOT/Module.symvers" --build >&2 \
			|| die "livegraft-gen diff failed for $fix"
		;;
	"livegraft-corpus: refuse "*)
		msg=${verdict#livegraft-corpus: refuse }
		# shellcheck disable=SC2086
		if "$gen" diff "$fix" --kdir "$kdir" --name "$name" $args -o "out/diff/$name" 2>out/diff-refusal.log; then
			die "livegraft-gen diff accepted $fix, which must be refused"
		fi
		grep -qF -- "$msg" out/diff-refusal.log || die "$fix: refused without '$msg': $(cat out/diff-refusal.log)"
		;;
	*) die "$fix: first line must be 'livegraft-corpus: accept' or 'livegraft-corpus: refuse <message>'" ;;
	esac
done
