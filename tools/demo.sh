#!/usr/bin/env bash
# The livegraft demo: install what is missing, build the test kernel (cached),
# livegraft.ko and the test modules, generate the classic sample patch with
# livegraft-gen, boot the VM and run tests/vm/demo.sh inside it with the
# livegraft command: load --wait (progress, the stalled-task view, the revert
# on timeout), list, status, log, unload. Prints the transcript (also kept in
# out/vm/demo.log).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$LIVEGRAFT_ROOT"
"$LIVEGRAFT_ROOT/tools/setup.sh"
kdir=$("$LIVEGRAFT_ROOT/tools/build-module.sh" tests/modules/*/)
echo "### livegraft-gen samples/cmdline --kdir <test kernel> --build"
cat samples/cmdline/patch.toml
cargo build -q --release -p livegraft-gen
RUSTC=$RUSTC BINDGEN=$BINDGEN target/release/livegraft-gen samples/cmdline -o out/patches/livegraft_cmdline \
	--kdir "$kdir" --symvers Module.symvers --build
RUSTC=$RUSTC BINDGEN=$BINDGEN tools/gen-samples.sh
rc=0
"$LIVEGRAFT_ROOT/tools/vm.sh" --no-build --keep-logs demo || rc=$?
echo "===== transcript (out/vm/demo.log) ====="
sed -n '/LIVEGRAFT-BEGIN/,/LIVEGRAFT-RESULT/p' out/vm/demo.log
exit $rc
