# Symbol positions in vmlinux, upstream livepatch's semantics, on a real
# duplicate: the kernel has several static modalias_show() (sysfs show
# callbacks of one prototype, in different C files). The function tracer
# (sym-addr) tells which instance serves which sysfs file; sympos 0 is
# refused as ambiguous with nothing registered, sympos P patches exactly
# the Pth instance in kallsyms order (its file shows the replacement's text,
# a file of another instance does not), and a position past the last is
# refused. Loading livegraft resolves every required lifecycle hook.
# timeout: 240
. ./lib.sh
. ./sympos-lib.sh
F=modalias_show
insmod $MODDIR/livegraft.ko
expect_no_dmesg "refusing to load"
insmod $MODDIR/lg_dup.ko
kallsyms_addrs $F > /tmp/inst
n=$(grep -c . /tmp/inst)
[ "$n" -ge 2 ] || fail "vmlinux has $n $F, the test needs a duplicate"
ok "vmlinux has $n symbols named $F: $(paste -sd' ' /tmp/inst)"

# instance_of IP: the 1-based kallsyms position of the instance that IP
# (an ftrace call site: the function start, or start + 4 after ENDBR) is in.
instance_of() {
	_i=0
	while read -r _a; do
		_i=$((_i + 1))
		_d=$((0x$1 - 0x$_a))
		if [ "$_d" -ge 0 ] && [ "$_d" -lt 16 ]; then echo $_i; return; fi
	done < /tmp/inst
	echo 0
}

# Which instance serves each modalias file: one file per instance.
TR=/sys/kernel/tracing
echo $F > $TR/set_ftrace_filter
echo 1 > $TR/options/sym-addr
echo function > $TR/current_tracer
: > /tmp/files
for f in $(find /sys/devices -name modalias 2>/dev/null); do
	echo > $TR/trace
	cat "$f" > /dev/null 2>&1 || continue
	ip=$(sed -n "s/.* $F <\([0-9a-f]*\)>.*/\1/p" $TR/trace | head -n1)
	[ -n "$ip" ] || continue
	i=$(instance_of "$ip")
	grep -q "^$i " /tmp/files || echo "$i $f" >> /tmp/files
done
echo nop > $TR/current_tracer
echo > $TR/set_ftrace_filter
echo 0 > $TR/options/sym-addr
sort -n /tmp/files > /tmp/served
cat /tmp/served
grep -q "^0 " /tmp/served && fail "a traced call is in no kallsyms instance of $F"
[ "$(grep -c . /tmp/served)" -ge 2 ] || fail "fewer than two instances of $F serve a sysfs file"
# The first and the last instance that serve a file: position 1 and one past it.
P=$(sed -n '1s/ .*//p' /tmp/served); FP=$(sed -n '1s/^[0-9]* //p' /tmp/served)
Q=$(sed -n '$s/ .*//p' /tmp/served); FQ=$(sed -n '$s/^[0-9]* //p' /tmp/served)
ok "instance $P serves $FP, instance $Q serves $FQ"
orig_p=$(cat "$FP"); orig_q=$(cat "$FQ")

refused "sympos 0 of $F" \
	"livegraft: 'lg_sympos': unresolvable ambiguity for symbol '$F' in object 'vmlinux'$" \
	obj=vmlinux func=$F kind=show sympos=0
expect_eq "$(cat "$FP")|$(cat "$FQ")" "$orig_p|$orig_q" "nothing patched after the refusal"

for pos in $P $Q; do
	[ $pos = $P ] && { mine=$FP; theirs=$FQ; their_orig=$orig_q; } || { mine=$FQ; theirs=$FP; their_orig=$orig_p; }
	insmod $MODDIR/lg_sympos.ko obj=vmlinux func=$F kind=show sympos=$pos
	wait_transition_done lg_sympos
	[ -d "$LG/lg_sympos/vmlinux/$F,$pos" ] || fail "no sysfs directory vmlinux/$F,$pos"
	expect_eq "$(cat "$mine")" "lg_sympos $pos" "sympos $pos patched the instance serving $mine"
	expect_eq "$(cat "$theirs")" "$their_orig" "sympos $pos left the instance serving $theirs alone"
	disable_patch lg_sympos
	expect_eq "$(cat "$FP")|$(cat "$FQ")" "$orig_p|$orig_q" "original after unpatching sympos $pos"
done

refused "sympos $((n + 1)) of $F" \
	"livegraft: 'lg_sympos': symbol position $((n + 1)) for symbol '$F' in object 'vmlinux' not found$" \
	obj=vmlinux func=$F kind=show sympos=$((n + 1))
rmmod lg_dup
rmmod livegraft
