# The README demo (not part of the test suite): load the livegraft core and
# show what it exposes. Each step is echoed so the transcript reads as a session.
. ./lib.sh
step() { echo; echo "### $*"; }

step "insmod livegraft.ko"
insmod $MODDIR/livegraft.ko
dmesg | grep 'livegraft:' | tail -n 3
step "ls /sys/kernel/livegraft"
ls -la /sys/kernel/livegraft
step "rmmod livegraft"
rmmod livegraft
dmesg | grep 'livegraft:' | tail -n 1
