# Upstream's shadow-variable samples, unmodified, through the compat layer
# (Documentation/livepatch/shadow-vars.rst): livepatch-shadow-mod leaks an
# allocation per dummy; livepatch-shadow-fix1 attaches the leaked pointer to
# each new dummy in an SV_LEAK shadow variable (constructor) and frees it
# when the dummy goes (destructor); livepatch-shadow-fix2, stacked on it,
# counts checks in SV_COUNTER (get_or_alloc). Every dummy fix1 allocated has
# its leak freed exactly once, by a destructor (fix1's or fix2's dummy_free,
# or fix1's klp_shadow_free_all() at its unload); everything unloads and
# livegraft finds no shadow variable left. First, the selftests' own module
# of the API.
# timeout: 300
. ./lib.sh
. ./compat-lib.sh
insmod $MODDIR/livegraft.ko
# The selftests' API test (built unmodified through the compat header): its
# init fails if a lookup misses, and prints one "got expected" line per
# check that held (19 in upstream's expected output).
klp_mark
insmod $C/test_klp_shadow_vars.ko
rmmod test_klp_shadow_vars
n=$(klp_log '^lgcompat-none$' | wc -l)
[ "$(dmesg | awk -v m="$KLP_MARK" 'p; index($0, m) { p = 1 }' | grep -c 'got expected')" = 19 ] \
	|| fail "test_klp_shadow_vars: not 19 expected results: $(dmesg | grep -A3 -B3 'test_klp_shadow_vars' | tail -n 30)"
[ "$n" = 0 ] || fail "livegraft lines during the API test: $(klp_log '^lgcompat-none$')"
ok "test_klp_shadow_vars: 19 expected results"
klp_mark
insmod $C/livepatch-shadow-mod.ko
wait_for 30 sh -c "dmesg | grep -q '\] dummy_alloc: dummy @'"
insmod $C/livepatch-shadow-fix1.ko
wait_transition_done livepatch_shadow_fix1 60
not_upstream livepatch_shadow_fix1
# A dummy allocated before fix1 expires (12 s) without a shadow variable ...
wait_for 60 sh -c "dmesg | grep -q 'livepatch_shadow_fix1: livepatch_fix1_dummy_free: dummy @ .* leaked!'"
# ... one allocated by fix1 with its leak freed by the destructor.
wait_for 60 sh -c "dmesg | grep -q 'livepatch_shadow_fix1: livepatch_fix1_dummy_leak_dtor: dummy @ .*, prevented leak @'"
ok "fix1: the leak is fixed for new dummies"
insmod $C/livepatch-shadow-fix2.ko
wait_transition_done livepatch_shadow_fix2 60
wait_for 60 sh -c "dmesg | grep -q 'livepatch_shadow_fix2: livepatch_fix2_dummy_free: dummy @ .*, check counter = [1-9]'"
wait_for 60 sh -c "dmesg | grep -q 'livepatch_shadow_fix2: livepatch_fix2_dummy_leak_dtor: dummy @ .*, prevented leak @'"
ok "fix2: counters in shadow variables, and fix1's leak fix kept"
echo 0 > $LG/livepatch_shadow_fix2/enabled
wait_for 60 [ ! -e $LG/livepatch_shadow_fix2 ]
echo 0 > $LG/livepatch_shadow_fix1/enabled
wait_for 60 [ ! -e $LG/livepatch_shadow_fix1 ]
rmmod livepatch_shadow_fix2
rmmod livepatch_shadow_fix1
rmmod livepatch_shadow_mod
dmesg | awk -v m="$KLP_MARK" 'p; index($0, m) { p = 1 }' > /tmp/log
# Every dummy fix1's dummy_alloc made (its SV_LEAK constructor ran) had its
# leak freed once, by a destructor; no dummy twice.
sed -n 's/.*livepatch_fix1_dummy_alloc: dummy @ \([0-9a-f]*\),.*/\1/p' /tmp/log | sort > /tmp/made
sed -n 's/.*_dummy_leak_dtor: dummy @ \([0-9a-f]*\), prevented leak.*/\1/p' /tmp/log | sort > /tmp/freed
[ -s /tmp/made ] || fail "fix1 allocated no dummy"
cmp -s /tmp/made /tmp/freed || { diff /tmp/made /tmp/freed; fail "leaks made and freed differ"; }
ok "$(wc -l < /tmp/made) leaks attached by fix1, each freed once by a destructor"
! grep -q "Duplicate shadow variable\|Failed to construct" /tmp/log || fail "shadow API errors"
# Only livegraft's lines (the samples print their own all along).
expect_klp_log '^lgcompat-none$' "livegraft: enabling patch 'livepatch_shadow_fix1'
livegraft: 'livepatch_shadow_fix1': initializing patching transition
livegraft: 'livepatch_shadow_fix1': starting patching transition
livegraft: 'livepatch_shadow_fix1': completing patching transition
livegraft: 'livepatch_shadow_fix1': patching complete
livegraft: enabling patch 'livepatch_shadow_fix2'
livegraft: 'livepatch_shadow_fix2': initializing patching transition
livegraft: 'livepatch_shadow_fix2': starting patching transition
livegraft: 'livepatch_shadow_fix2': completing patching transition
livegraft: 'livepatch_shadow_fix2': patching complete
livegraft: 'livepatch_shadow_fix2': initializing unpatching transition
livegraft: 'livepatch_shadow_fix2': starting unpatching transition
livegraft: 'livepatch_shadow_fix2': completing unpatching transition
livegraft: 'livepatch_shadow_fix2': unpatching complete
livegraft: 'livepatch_shadow_fix1': initializing unpatching transition
livegraft: 'livepatch_shadow_fix1': starting unpatching transition
livegraft: 'livepatch_shadow_fix1': completing unpatching transition
livegraft: 'livepatch_shadow_fix1': unpatching complete"
rmmod livegraft
expect_no_dmesg "shadow variables left at unload"
# With kmemleak (debug flavour): none of livegraft's shadow entries leaked
# (the sample's own leaks from before fix1 are expected).
if [ -e /sys/kernel/debug/kmemleak ]; then
	echo scan > /sys/kernel/debug/kmemleak
	! grep -q "lg_shadow_new" /sys/kernel/debug/kmemleak \
		|| fail "leaked shadow entries: $(grep -B12 lg_shadow_new /sys/kernel/debug/kmemleak | head -40)"
	ok "kmemleak: no shadow entry leaked"
fi
