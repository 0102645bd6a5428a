#!/usr/bin/env bash
# Build (or clean) livegraft.ko for DKMS in the current directory (DKMS's
# copy of the source) against KERNEL_SOURCE_DIR.
#   tools/dkms-make.sh KERNEL_SOURCE_DIR [clean]
set -euo pipefail
kdir=$1
src=$(pwd)
if [ "${2:-}" = clean ]; then
	find "$src" \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' -o -name '.*.cmd' \
		-o -name Module.symvers -o -name modules.order -o -name bindings_generated.rs \) -type f -delete
	exit 0
fi
grep -q '^CONFIG_RUST=y' "$kdir/.config" || { echo "livegraft: $kdir has no CONFIG_RUST=y" >&2; exit 1; }
flags=(ARCH=x86_64)
grep -q '^CONFIG_CC_IS_CLANG=y' "$kdir/.config" && flags+=(LLVM=1)
# The rustc the kernel was built with: its crates (core, kernel) only load
# into that exact compiler.
want=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$kdir/.config")
rustc=
for r in ${RUSTC:-} /usr/bin/rustc "$(command -v rustc || true)"; do
	[ -n "$r" ] && [ -x "$r" ] && [ "$("$r" --version)" = "$want" ] && { rustc=$r; break; }
done
[ -n "$rustc" ] || { echo "livegraft: no rustc matches the kernel's ($want): set RUSTC=" >&2; exit 1; }
bindgen=${BINDGEN:-$(command -v bindgen || echo "${XDG_CACHE_HOME:-$HOME/.cache}/livegraft/tools/bin/bindgen")}
make -C "$kdir" M="$src" "${flags[@]}" RUSTC="$rustc" BINDGEN="$bindgen" -j"$(nproc)" modules
