# scratch: where does a livegraft enable spend its time under load?
# timeout: 900
. ./lib.sh
insmod $MODDIR/livegraft.ko
insmod $MODDIR/lg_bench.ko
KLP=/sys/kernel/livepatch/lg_bench_klp
LGP=$LG/lg_bench_lg
for n in ${SIZES:-100 1000}; do
	lg_spawn $n > /tmp/spawn.out &
	spawner=$!
	wait_for 300 grep -q ready /tmp/spawn.out
	sleep 1
	echo "DBG nop.$n $(lg_transition_time load $MODDIR/lg_bench_nop.ko)"
	rmmod lg_bench_nop
	dmesg -c > /dev/null
	echo "DBG klp.enable.$n $(lg_transition_time enable $MODDIR/lg_bench_klp.ko $KLP)"
	echo "DBG klp.disable.$n $(lg_transition_time disable $KLP)"
	rmmod lg_bench_klp
	echo "DBG lg.enable.$n $(lg_transition_time enable $MODDIR/lg_bench_lg.ko $LGP)"
	echo "DBG lg.disable.$n $(lg_transition_time disable $LGP)"
	rmmod lg_bench_lg
	dmesg | grep -E "DBGPHASE|livegraft: '|livepatch: '" | sed 's/^/DBGLOG /'
	kill $spawner
	wait $spawner 2>/dev/null || true
	sleep 1
done
