#!/usr/bin/env bash
# Install, idempotently, everything livegraft needs to build the test kernel,
# the modules and the VM harness. Safe to run again: only missing pieces are
# installed. Runs as root (or through sudo) on Debian 12.
set -euo pipefail

BINDGEN_VERSION=0.73.2
DEB_PACKAGES=(linux-source-6.12 rustc-web rust-web-src clang lld llvm libclang-dev
              flex bison bc libelf-dev libssl-dev cpio make xz-utils gcc libc6-dev
              qemu-system-x86 busybox-static kmod dkms
              # the conformance run's guest tools (tools/gen-conformance.sh):
              # upstream's selftest scripts need bash and kmod's insmod/modinfo
              bash-static coreutils procps diffutils libc-bin)

die() { echo "setup: error: $*" >&2; exit 1; }
say() { echo "setup: $*" >&2; }

SUDO=
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null || die "not root and no sudo: install ${DEB_PACKAGES[*]} by hand"
	SUDO=sudo
fi

missing=()
for p in "${DEB_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing Debian packages: ${missing[*]}"
	$SUDO apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		>/dev/null || die "apt-get install ${missing[*]} failed"
fi
[ -f /usr/src/linux-source-6.12.tar.xz ] || die "/usr/src/linux-source-6.12.tar.xz missing after install"
[ -x /usr/bin/rustc ] || die "/usr/bin/rustc (rustc-web) missing after install"

BINDGEN_ROOT=${LIVEGRAFT_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/livegraft/tools}
BINDGEN=$BINDGEN_ROOT/bin/bindgen
if ! { [ -x "$BINDGEN" ] && "$BINDGEN" --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; }; then
	command -v cargo >/dev/null || die "cargo not found: it is needed to install bindgen-cli"
	say "installing bindgen-cli $BINDGEN_VERSION into $BINDGEN_ROOT"
	cargo install --locked --quiet --root "$BINDGEN_ROOT" bindgen-cli --version "=$BINDGEN_VERSION" \
		|| die "cargo install bindgen-cli $BINDGEN_VERSION failed"
fi
say "toolchain ready (bindgen: $BINDGEN)"
