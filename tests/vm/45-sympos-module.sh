# Symbol positions in a module, upstream livepatch's semantics: lg_dup has
# two static functions named lg_dup_value (one per C file). sympos 0 must
# be refused as ambiguous; sympos 1 and 2 patch exactly the first and the
# second of them in kallsyms order (matched to the C files through their
# addresses, not through a link order); sympos 3 does not exist; a unique
# name has no position 2; and a vmlinux target that exists only in a
# module is not found (no fallback to module symbols). Every refusal prints
# one message and registers nothing.
# timeout: 180
. ./lib.sh
. ./sympos-lib.sh
insmod $MODDIR/livegraft.ko
insmod $MODDIR/lg_dup.ko
cat /proc/lg_dup
D=/proc/lg_dup
value() { sed -n "s/^$1 \([0-9]*\) .*/\1/p" $D; }
addr() { sed -n "s/^$1 [0-9]* \([0-9a-f]*\)$/\1/p" $D; }
expect_eq "$(value a) $(value b)" "11 22" "both instances run their original code"

# Which C file holds the Nth lg_dup_value in kallsyms order.
kallsyms_addrs lg_dup_value lg_dup > /tmp/dup
expect_eq "$(grep -c . /tmp/dup)" 2 "kallsyms lists two lg_dup_value in lg_dup"
file_at() {
	_a=$(sed -n "${1}p" /tmp/dup)
	if [ "$_a" = "$(addr a)" ]; then echo a; elif [ "$_a" = "$(addr b)" ]; then echo b; else echo "?$_a"; fi
}
first=$(file_at 1)
second=$(file_at 2)
[ "$first" != "$second" ] && [ "${first#\?}" = "$first" ] && [ "${second#\?}" = "$second" ] \
	|| fail "kallsyms addresses do not match the two instances: $(cat /tmp/dup) vs $(cat $D)"
ok "kallsyms order: first in lg_dup_$first.c, second in lg_dup_$second.c"
other() { [ "$1" = a ] && echo b || echo a; }
orig() { [ "$1" = a ] && echo 11 || echo 22; }

refused "sympos 0 of an ambiguous name" \
	"livegraft: 'lg_sympos': unresolvable ambiguity for symbol 'lg_dup_value' in object 'lg_dup'$" sympos=0
expect_eq "$(value a) $(value b)" "11 22" "nothing patched after the refusal"

for pos in 1 2; do
	[ $pos = 1 ] && f=$first || f=$second
	insmod $MODDIR/lg_sympos.ko sympos=$pos
	wait_transition_done lg_sympos
	[ -d "$LG/lg_sympos/lg_dup/lg_dup_value,$pos" ] || fail "no sysfs directory lg_dup_value,$pos"
	expect_eq "$(value $f)" $((100 + pos)) "sympos $pos patched the instance of lg_dup_$f.c"
	expect_eq "$(value $(other $f))" "$(orig $(other $f))" "sympos $pos left lg_dup_$(other $f).c alone"
	disable_patch lg_sympos
	expect_eq "$(value a) $(value b)" "11 22" "both original again after unpatching sympos $pos"
done

refused "sympos 3 of a name with two symbols" \
	"livegraft: 'lg_sympos': symbol position 3 for symbol 'lg_dup_value' in object 'lg_dup' not found$" sympos=3
refused "sympos 2 of a unique name" \
	"livegraft: 'lg_sympos': symbol position 2 for symbol 'lg_dup_a_call' in object 'lg_dup' not found$" \
	func=lg_dup_a_call sympos=2
refused "a vmlinux target that only a module defines" \
	"livegraft: 'lg_sympos': symbol 'lg_dup_a_call' not found in symbol table of object 'vmlinux'$" \
	obj=vmlinux func=lg_dup_a_call
expect_eq "$(value a) $(value b)" "11 22" "nothing patched after the refusals"

# A unique name at sympos 0 and at sympos 1 (upstream accepts both).
for pos in 0 1; do
	insmod $MODDIR/lg_sympos.ko func=lg_dup_b_call sympos=$pos
	wait_transition_done lg_sympos
	[ -d "$LG/lg_sympos/lg_dup/lg_dup_b_call,1" ] || fail "no sysfs directory lg_dup_b_call,1"
	expect_eq "$(value b)" $((100 + pos)) "unique lg_dup_b_call patched at sympos $pos"
	disable_patch lg_sympos
done
rmmod lg_dup
rmmod livegraft
