# Upstream's livepatch samples (samples/livepatch of linux-source-6.12),
# built unmodified, used as their sources document: livepatch-sample
# (/proc/cmdline), the shadow-variable trio (the leak is fixed by fix1, fix2
# takes over, everything unloads clean) and the callbacks demo with its
# target modules (busymod holds the transition; callbacks-mod comes and goes
# during it). Upstream livepatch (base kernel only) and livegraft through its
# compat layer; each sample case is counted by tools/vm.sh
# (Documentation/conformance.rst).
# conformance: yes
# (no_timer_check: a long run lost to the IO-APIC timer check, which
# misjudges under TCG on a loaded host and panics the boot, costs minutes)
# cmdline: no_timer_check
# cases: out/conformance/cases-samples-{flavour}.txt
# timeout: 900
. ./lib.sh
. ./conform-lib.sh

conform_setup
if have_upstream_livepatch; then
	conform_samples upstream
fi
insmod $MODDIR/livegraft.ko
conform_samples livegraft
rmmod livegraft
ok "conformance samples complete"
