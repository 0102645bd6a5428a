#!/usr/bin/env bash
# Build livegraft.ko (and, with extra arguments, other module directories)
# against the cached test kernel or $KDIR. Prints nothing on stdout but the
# kernel directory used, so other tools can reuse it.
#   tools/build-module.sh            build livegraft.ko in the repository root
#   tools/build-module.sh DIR...     also build the out-of-tree modules in DIR
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kdir=$(kernel_dir)
build_one() {
	local dir=$1; shift
	make -s -C "$kdir" M="$dir" "${KMAKE_FLAGS[@]}" -j"$JOBS" "$@" modules >&2 \
		|| die "module build failed in $dir"
}
build_one "$LIVEGRAFT_ROOT"
# Each directory may use the exports of the core and of the directories
# built before it (test patches link against the test target).
symvers=$LIVEGRAFT_ROOT/Module.symvers
for dir in "$@"; do
	dir=$(cd "$dir" && pwd)
	build_one "$dir" KBUILD_EXTRA_SYMBOLS="$symvers"
	[ ! -f "$dir/Module.symvers" ] || symvers="$symvers $dir/Module.symvers"
done
echo "$kdir"
