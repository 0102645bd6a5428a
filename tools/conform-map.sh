#!/usr/bin/env bash
# The mechanical mapping of the conformance run (Documentation/conformance.rst):
# copies upstream's livepatch selftest scripts from SRC to DEST for one column.
#   tools/conform-map.sh COLUMN SRC DEST
# "upstream": the scripts are copied unchanged.
# "livegraft": three mappings, nothing else:
#  1. the sysfs root: /sys/kernel/livepatch becomes /sys/kernel/livegraft
#     where the scripts read or write sysfs. Lines that only say what the
#     scripts do, and that the expected output repeats, keep the upstream
#     path: expected-output lines ("% echo 0 > /sys/kernel/livepatch/...")
#     and the log line of disable_lp (log "% echo 0 > ...") are never changed.
#  2. the dmesg prefix: DEST/bin/dmesg shows the kernel log with
#     "livegraft:" read as "livepatch:" at the start of a message.
#  3. is_livepatch_mod: DEST/bin/modinfo is kmod's modinfo with the tag
#     "livegraft: Y" read as "livepatch: Y" (the compat layer turns upstream's
#     MODULE_INFO(livepatch, "Y") into MODULE_INFO(livegraft, "Y"): a kernel
#     without CONFIG_LIVEPATCH refuses modules with the livepatch tag).
# The runner puts DEST/bin first in PATH. DEST/mapping.diff shows the
# changes of (1) for review.
set -euo pipefail
col=$1 src=$2 dest=$3
mkdir -p "$dest/bin"
cp "$src/functions.sh" "$src"/test-*.sh "$dest/"
[ "$col" = livegraft ] || exit 0

for f in "$dest/functions.sh" "$dest"/test-*.sh; do
	sed -i -E '/^% |log "% /!s#/sys/kernel/livepatch#/sys/kernel/livegraft#g' "$f"
done
(cd "$dest" && for f in functions.sh test-*.sh; do
	diff -u --label "upstream/$f" --label "livegraft/$f" "$src/$f" "$f" || true
done) >"$dest/mapping.diff"
# The expected output must be untouched: no changed line may start with "% ".
! grep -q '^+% ' "$dest/mapping.diff" || { echo "conform-map: an expected-output line changed" >&2; exit 1; }

cat >"$dest/bin/dmesg" <<'EOF'
#!/bin/sh
# conform-map.sh (2): livegraft's "livegraft:" prefix read as "livepatch:".
/bin/busybox dmesg "$@" | sed -E 's/^(\[[ 0-9.]*\] )?livegraft:/\1livepatch:/'
EOF
cat >"$dest/bin/modinfo" <<'EOF'
#!/bin/sh
# conform-map.sh (3): the compat layer's modinfo tag "livegraft: Y" read as
# upstream's "livepatch: Y".
/conform/bin/modinfo "$@" | sed 's/^livegraft:/livepatch:/'
EOF
chmod +x "$dest/bin/dmesg" "$dest/bin/modinfo"
