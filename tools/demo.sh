#!/usr/bin/env bash
# The livegraft demo: install what is missing, build the test kernel (cached)
# and the modules, boot the VM, and run tests/vm/demo.sh inside it; then print
# the console transcript (also kept in out/vm/demo.log).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rc=0
"$root/tools/vm.sh" --keep-logs demo || rc=$?
echo "===== transcript (out/vm/demo.log) ====="
sed -n '/LIVEGRAFT-BEGIN/,/LIVEGRAFT-RESULT/p' "$root/out/vm/demo.log"
exit $rc
