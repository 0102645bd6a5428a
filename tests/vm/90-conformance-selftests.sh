# Upstream's livepatch selftests (tools/testing/selftests/livepatch of
# linux-source-6.12: 7 scripts, 25 cases), unmodified but for the mechanical
# mapping of tools/conform-map.sh, in two columns: upstream livepatch (base
# kernel only: the debug kernel has no CONFIG_LIVEPATCH) and livegraft
# through its compat layer. Each case is counted by tools/vm.sh
# (Documentation/conformance.rst). The scenario itself fails only if the
# runner breaks or the kernel reports a problem.
# conformance: yes
# (no_timer_check: a long run lost to the IO-APIC timer check, which
# misjudges under TCG on a loaded host and panics the boot, costs minutes)
# cmdline: no_timer_check
# cases: out/conformance/cases-selftests-{flavour}.txt
# timeout: 1500
. ./lib.sh
. ./conform-lib.sh

conform_setup
if have_upstream_livepatch; then
	conform_selftests upstream
	conform_clean upstream
fi
insmod $MODDIR/livegraft.ko
conform_selftests livegraft
conform_clean livegraft
rmmod livegraft
ok "conformance run complete"
