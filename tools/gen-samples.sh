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
