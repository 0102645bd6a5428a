# Shared settings for livegraft's tools; sourced, not run.
# shellcheck shell=bash

LIVEGRAFT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIVEGRAFT_CACHE=${LIVEGRAFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/livegraft}
BINDGEN=${BINDGEN:-$LIVEGRAFT_CACHE/tools/bin/bindgen}
RUSTC=${RUSTC:-/usr/bin/rustc}
KERNEL_TARBALL=/usr/src/linux-source-6.12.tar.xz
KMAKE_FLAGS=(ARCH=x86_64 LLVM=1 "RUSTC=$RUSTC" "BINDGEN=$BINDGEN")
# The test kernel flavour: "base" (tools/kernel.config: not preemptible, with
# upstream CONFIG_LIVEPATCH as the comparison baseline) or "debug" (plus
# tools/kernel-debug.config: preemptible, KASAN, lockdep, no CONFIG_LIVEPATCH).
LIVEGRAFT_FLAVOUR=${LIVEGRAFT_FLAVOUR:-base}
case "$LIVEGRAFT_FLAVOUR" in
base|debug) ;;
*) echo "livegraft: error: unknown LIVEGRAFT_FLAVOUR '$LIVEGRAFT_FLAVOUR' (base or debug)" >&2; exit 1 ;;
esac
JOBS=${JOBS:-$(nproc)}

die() { echo "livegraft: error: $*" >&2; exit 1; }
say() { echo "livegraft: $*" >&2; }

# The config fragment of the flavour: the base fragment, then the flavour's
# own lines, which override the base's (one line per option, the last wins).
kernel_config_fragment() {
	local files=("$LIVEGRAFT_ROOT/tools/kernel.config")
	[ "$LIVEGRAFT_FLAVOUR" = base ] || files+=("$LIVEGRAFT_ROOT/tools/kernel-$LIVEGRAFT_FLAVOUR.config")
	grep -hE '^CONFIG_' "${files[@]}" | awk -F= '{ v[$1] = $0; if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } }
		END { for (i = 0; i < n; i++) print v[order[i]] }'
}

# The cache key of the test kernel: source package version, config fragment
# and every tool whose output ends up in the image or in rust/*.rmeta.
kernel_cache_key() {
	{
		dpkg-query -W -f='${Version}\n' linux-source-6.12
		cat "$LIVEGRAFT_ROOT/tools/kernel.config"
		[ "$LIVEGRAFT_FLAVOUR" = base ] || cat "$LIVEGRAFT_ROOT/tools/kernel-$LIVEGRAFT_FLAVOUR.config"
		"$RUSTC" --version
		clang --version | head -n1
		"$BINDGEN" --version
	} | sha256sum | cut -c1-12
}

# Prints the directory of the built, cached test kernel (building it first if
# needed), or $KDIR when the user brings their own tree.
kernel_dir() {
	if [ -n "${KDIR:-}" ]; then
		[ -f "$KDIR/Module.symvers" ] || die "KDIR=$KDIR is not a built kernel tree (no Module.symvers)"
		grep -q '^CONFIG_RUST=y' "$KDIR/.config" || die "KDIR=$KDIR has no CONFIG_RUST=y"
		echo "$KDIR"
		return
	fi
	"$LIVEGRAFT_ROOT/tools/build-kernel.sh"
}
