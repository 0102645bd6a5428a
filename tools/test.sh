#!/usr/bin/env bash
# Run every livegraft test on a fresh or prepared machine: installs what is
# missing (tools/setup.sh), runs the host tests (cargo test), builds the test
# kernels (cached; two flavours) and the modules, and runs every VM scenario
# on each flavour.
# The last line is "N passed, N failed"; exit status is 0 only if N failed is 0.
#   tools/test.sh                 everything
#   tools/test.sh SCENARIO...     host tests + only these VM scenarios
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p out

passed=0
failed=0
if ! tools/setup.sh; then
	echo "setup failed"
	echo "0 passed, 1 failed"
	exit 1
fi

echo "== host tests (cargo test)"
cargo test --workspace --color never 2>&1 | tee out/host-tests.log
host_rc=${PIPESTATUS[0]}
hp=$(grep -E '^test result:' out/host-tests.log | sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed.*/\1/' | paste -sd+ | bc)
hf=$(grep -E '^test result:' out/host-tests.log | sed -E 's/.* ([0-9]+) passed; ([0-9]+) failed.*/\2/' | paste -sd+ | bc)
hp=${hp:-0}; hf=${hf:-0}
if [ "$host_rc" != 0 ] && [ "$hf" = 0 ]; then
	echo "cargo test failed without a test result (build error?)"
	hf=1
fi
passed=$((passed + hp)); failed=$((failed + hf))
echo "host: $hp passed, $hf failed"

# make install and DKMS against the cached test kernel, into temporary trees.
echo "== installation (make install, DKMS)"
tools/test-install.sh 2>&1 | tee out/install-tests.log
ip=$(sed -n 's/^install: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' out/install-tests.log)
if_=$(sed -n 's/^install: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' out/install-tests.log)
passed=$((passed + ${ip:-0})); failed=$((failed + ${if_:-1}))

# The model's seeded bugs ran in cargo test above; the loom ones need their own builds,
# the source mutations of the shared rules a scratch copy each.
for what in loom src; do
	echo "== seeded bugs: $what"
	tools/seeded-bugs.sh --$what 2>&1 | tee out/seeded-bugs-$what.log
	sp=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p' out/seeded-bugs-$what.log)
	sf=$(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p' out/seeded-bugs-$what.log)
	passed=$((passed + ${sp:-0})); failed=$((failed + ${sf:-1}))
done

# Every scenario on each kernel flavour: "base" (not preemptible, with
# upstream CONFIG_LIVEPATCH for the side-by-side scenarios) and "debug"
# (preemptible, KASAN, lockdep, no CONFIG_LIVEPATCH). LIVEGRAFT_FLAVOURS
# narrows it, e.g. LIVEGRAFT_FLAVOURS=base.
for flavour in ${LIVEGRAFT_FLAVOURS:-base debug}; do
	echo "== VM scenarios on the $flavour kernel"
	log=out/vm-tests-$flavour.log
	LIVEGRAFT_FLAVOUR=$flavour tools/vm.sh "$@" 2>&1 | tee "$log"
	vp=$(sed -n 's/^vm: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$log")
	vf=$(sed -n 's/^vm: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$log")
	if [ -z "$vp" ]; then
		echo "the VM harness did not finish on the $flavour kernel (see above)"
		vp=0; vf=1
	fi
	passed=$((passed + vp)); failed=$((failed + vf))
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
