#!/usr/bin/env bash
# `make install`: build livegraft.ko against $KDIR (default: the cached test
# kernel) and install it as /lib/modules/<release>/extra/livegraft.ko under
# $INSTALL_MOD_PATH (default /), then run depmod for that release, so that
# `modprobe livegraft` and `livegraft load` (which looks in extra/) find it.
#   make install [KDIR=/path/to/built/kernel] [INSTALL_MOD_PATH=/staging/root]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kdir=$("$LIVEGRAFT_ROOT/tools/build-module.sh")
release=$(cat "$kdir/include/config/kernel.release")
dest=${INSTALL_MOD_PATH:-}
make -s -C "$kdir" M="$LIVEGRAFT_ROOT" "${KMAKE_FLAGS[@]}" INSTALL_MOD_PATH="$dest" INSTALL_MOD_DIR=extra \
	DEPMOD=true modules_install >&2 || die "modules_install failed"
command -v depmod >/dev/null || PATH=$PATH:/sbin:/usr/sbin
command -v depmod >/dev/null || die "depmod not found (Debian: apt-get install kmod)"
depmod -b "${dest:-/}" -F "$kdir/System.map" "$release" || die "depmod failed"
say "installed ${dest}/lib/modules/$release/extra/livegraft.ko (depmod done)"
