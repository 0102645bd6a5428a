#!/usr/bin/env bash
# Host tests of the installation paths, against the cached test kernel (or
# $KDIR), all into temporary trees (nothing outside them is touched):
#   1. `make install INSTALL_MOD_PATH=<tmp>`: extra/livegraft.ko and its
#      modules.dep entry (depmod ran);
#   2. DKMS (Debian's dkms): add, build with --kernelsourcedir, install
#      (--no-depmod: dkms would run depmod on the real /lib/modules; depmod
#      -b runs on the temporary tree instead), status, remove.
# Prints one "PASS"/"FAIL" line per check and "install: N passed, N failed".
set -uo pipefail
. "$(dirname "$0")/lib.sh"
passed=0
failed=0
check() { # WHAT CMD...
	local what=$1; shift
	if "$@"; then echo "PASS install: $what"; passed=$((passed + 1))
	else echo "FAIL install: $what"; failed=$((failed + 1)); fi
}
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
kdir=$(kernel_dir) || { echo "install: 0 passed, 1 failed"; exit 1; }
release=$(cat "$kdir/include/config/kernel.release")
PATH=$PATH:/sbin:/usr/sbin

# 1. make install
make -s -C "$LIVEGRAFT_ROOT" install INSTALL_MOD_PATH="$t/root" >"$t/make-install.log" 2>&1
check "make install exits 0" test $? = 0
check "make install: lib/modules/$release/extra/livegraft.ko" test -f "$t/root/lib/modules/$release/extra/livegraft.ko"
check "make install: depmod lists it" grep -q '^extra/livegraft.ko:' "$t/root/lib/modules/$release/modules.dep"
check "make install: the installed module has the livegraft_abi tag" \
	sh -c "modinfo -F livegraft_abi '$t/root/lib/modules/$release/extra/livegraft.ko' | grep -qx '[0-9][0-9]*'"

# 2. DKMS
if ! command -v dkms >/dev/null; then
	echo "FAIL install: dkms not installed (tools/setup.sh installs Debian's dkms)"
	failed=$((failed + 1))
else
	src=$t/usrsrc/livegraft-0.1.0
	mkdir -p "$src/tools" "$t/tree" "$t/dkroot/lib/modules/$release"
	# A clean copy of what DKMS needs (no objects of the in-tree build).
	(cd "$LIVEGRAFT_ROOT" && cp -r Kbuild Makefile dkms.conf src include "$src/" && cp tools/dkms-make.sh "$src/tools/")
	find "$src" \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' -o -name '.*.cmd' \
		-o -name bindings_generated.rs -o -name Module.symvers -o -name modules.order -o -name .livegraft-kdir \) -delete
	D=(dkms --dkmstree "$t/tree" --sourcetree "$t/usrsrc" --installtree "$t/dkroot/lib/modules")
	"${D[@]}" add -m livegraft -v 0.1.0 >"$t/dkms.log" 2>&1
	check "dkms add" test $? = 0
	"${D[@]}" build -m livegraft -v 0.1.0 -k "$release" --kernelsourcedir "$kdir" >>"$t/dkms.log" 2>&1
	check "dkms build --kernelsourcedir (the cached test kernel)" test $? = 0
	"${D[@]}" install -m livegraft -v 0.1.0 -k "$release" --kernelsourcedir "$kdir" --no-depmod >>"$t/dkms.log" 2>&1
	check "dkms install" test $? = 0
	ko=$t/dkroot/lib/modules/$release/updates/dkms/livegraft.ko
	check "dkms install: updates/dkms/livegraft.ko" test -f "$ko"
	check "dkms: the module was built for $release" sh -c "modinfo -F vermagic '$ko' | grep -q '^$release '"
	depmod -b "$t/dkroot" -F "$kdir/System.map" "$release" 2>>"$t/dkms.log"
	check "depmod lists the DKMS module" grep -q '^updates/dkms/livegraft.ko:' "$t/dkroot/lib/modules/$release/modules.dep"
	"${D[@]}" status >"$t/dkms-status" 2>&1
	check "dkms status: installed" grep -q "livegraft/0.1.0, $release, x86_64: installed" "$t/dkms-status"
	"${D[@]}" remove -m livegraft -v 0.1.0 --all --no-depmod >>"$t/dkms.log" 2>&1
	check "dkms remove" test ! -e "$ko"
	[ "$failed" = 0 ] || { echo "--- dkms log:"; tail -n 30 "$t/dkms.log"; tail -n 30 "$t/tree/livegraft/0.1.0/build/make.log" 2>/dev/null; }
fi
[ "$failed" = 0 ] || { echo "--- make install log:"; tail -n 20 "$t/make-install.log"; }
echo "install: $passed passed, $failed failed"
[ "$failed" = 0 ]
