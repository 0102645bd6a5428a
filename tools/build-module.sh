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
	# Objects built against another kernel tree (the other flavour) must
	# not be reused: Kbuild does not notice that the tree changed.
	local stamp=$dir/.livegraft-kdir
	if [ "$(cat "$stamp" 2>/dev/null)" != "$kdir" ]; then
		# (Not `make M=... clean`: it deletes objects recursively, cargo's
		# target/ and the test modules included.)
		find "$dir" \( -path "$dir/target" -o -path "$dir/out" -o -path "$dir/tests" -o -path "$dir/tools" \) -prune \
			-o \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' -o -name '.*.cmd' \
			-o -name Module.symvers -o -name modules.order -o -name bindings_generated.rs \) -type f -print0 \
			| xargs -0 rm -f
		echo "$kdir" >"$stamp"
	fi
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
