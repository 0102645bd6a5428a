#!/usr/bin/env bash
# Build the livegraft test kernel (tinyconfig + tools/kernel.config, plus
# tools/kernel-debug.config for LIVEGRAFT_FLAVOUR=debug) once and cache it
# under $LIVEGRAFT_CACHE/kernel/<version>[-<flavour>]-<key>; print its path.
# A second run with the same sources, config and toolchain rebuilds nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

"$LIVEGRAFT_ROOT/tools/setup.sh"
key=$(kernel_cache_key)
version=$(dpkg-query -W -f='${Version}' linux-source-6.12 | cut -d- -f1)
if [ "$LIVEGRAFT_FLAVOUR" = base ]; then
	dir=$LIVEGRAFT_CACHE/kernel/$version-$key
else
	dir=$LIVEGRAFT_CACHE/kernel/$version-$LIVEGRAFT_FLAVOUR-$key
fi
src=$dir/linux-source-6.12
if [ -f "$dir/.built" ]; then
	echo "$src"
	exit 0
fi

say "building test kernel $version, flavour $LIVEGRAFT_FLAVOUR (key $key) in $dir; this takes a few minutes"
rm -rf "$dir"
mkdir -p "$dir"
tar -C "$dir" -xf "$KERNEL_TARBALL"
cd "$src"
log=$dir/build.log
fragment=$dir/livegraft.config
kernel_config_fragment >"$fragment"
{
	make "${KMAKE_FLAGS[@]}" tinyconfig
	./scripts/kconfig/merge_config.sh -m .config "$fragment"
	make "${KMAKE_FLAGS[@]}" olddefconfig
} >"$log" 2>&1 || die "configuring the kernel failed, see $log"

# merge_config warns but does not fail on a dropped option: check every line.
while IFS= read -r line; do
	case "$line" in ''|'#'*) continue ;; esac
	opt=${line%%=*}
	if [ "${line#*=}" = n ]; then
		! grep -q "^$opt=" .config || die "$opt is set but the fragment wants it off"
	else
		grep -qx "$line" .config || die "$line did not survive olddefconfig (unmet dependency?)"
	fi
done <"$fragment"

make "${KMAKE_FLAGS[@]}" -j"$JOBS" bzImage modules >>"$log" 2>&1 \
	|| { tail -n 30 "$log" >&2; die "kernel build failed, see $log"; }
touch "$dir/.built"
say "test kernel ready: $src"
echo "$src"
