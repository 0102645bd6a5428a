/* SPDX-License-Identifier: GPL-2.0 */
/*
 * livegraft's direct-call trampolines (see src/direct.rs). Every patched
 * function's ftrace call site calls one of these instead of ftrace's
 * caller (register_ftrace_direct()). A trampoline's return address is the
 * patched function's code just past that call site; the trampoline runs
 * the version it picks by overwriting that return address and returning
 * there, so the version runs with the caller's frame and arguments
 * untouched. What it picks is data, lg_direct_slots[slot] (src/glue.c):
 *
 *   target != 0          the fast path: return into target;
 *   target == 0, site    the per-task decision: lg_direct_decide(site)
 *                        with the argument registers saved;
 *   both 0               the original (return normally).
 *
 * target is the only field that changes while the trampoline is attached
 * (one aligned word: a reader sees one publication or the next, never a
 * mix); site is written before register_ftrace_direct() and never while the
 * trampoline is attached.
 *
 * Built the way arch/x86/kernel/ftrace_64.S and samples/ftrace/ftrace-direct.c
 * build ftrace's own trampolines: SYM_FUNC_START (ENDBR under IBT: the
 * address table below takes their addresses), CALL_DEPTH_ACCOUNT for the
 * call from the ftrace call site, which no call thunk accounted, and RET
 * (the return thunk under MITIGATION_RETHUNK). The stack depth is the same
 * on every path, so objtool validates them as ordinary functions and ORC
 * unwinds through them. tools/check-trampolines.sh checks the result.
 */
#include <linux/linkage.h>
#include <asm/nospec-branch.h>

/* struct lg_direct_slot in src/glue.c */
#define LG_SLOT_SIZE	16
#define LG_SLOT_TARGET	0
#define LG_SLOT_SITE	8
#define LG_DIRECT_SLOTS	128	/* as in src/glue.c */

	.text
	.balign	16
lg_direct_text_start:

/*
 * Entered by a jump from a slot's trampoline, site in %r11, the stack as at
 * the trampoline's entry. Saves the argument registers (and %rax, the
 * vector count of variadic calls); %r10 and %r11 are scratch at a function's
 * entry. The kernel keeps the stack 8-byte aligned only (arch/x86/Makefile:
 * -mstack-alignment=8 / -mpreferred-stack-boundary=3), so the odd number of
 * pushes is fine.
 */
SYM_FUNC_START_LOCAL(lg_direct_decide_tramp)
	pushq	%rdi
	pushq	%rsi
	pushq	%rdx
	pushq	%rcx
	pushq	%r8
	pushq	%r9
	pushq	%rax
	movq	%r11, %rdi
	call	lg_direct_decide
	movq	%rax, %r11
	popq	%rax
	popq	%r9
	popq	%r8
	popq	%rcx
	popq	%rdx
	popq	%rsi
	popq	%rdi
	testq	%r11, %r11
	jz	1f
	movq	%r11, (%rsp)
1:	RET
SYM_FUNC_END(lg_direct_decide_tramp)

#define LG_SLOT(n, field) lg_direct_slots + LG_SLOT_SIZE * (n) + field(%rip)
#define LG_TRAMP(hi, lo)						\
SYM_FUNC_START(lg_dt_##hi##_##lo);					\
	CALL_DEPTH_ACCOUNT;						\
	movq	LG_SLOT(16 * hi + lo, LG_SLOT_TARGET), %r11;		\
	testq	%r11, %r11;						\
	jz	1f;							\
	movq	%r11, (%rsp);						\
	RET;								\
1:	movq	LG_SLOT(16 * hi + lo, LG_SLOT_SITE), %r11;		\
	testq	%r11, %r11;						\
	jnz	lg_direct_decide_tramp;					\
	RET;								\
SYM_FUNC_END(lg_dt_##hi##_##lo);
#define LG_TRAMP_ADDR(hi, lo)	.quad lg_dt_##hi##_##lo;
#define LG_16(m, hi)							\
	m(hi, 0) m(hi, 1) m(hi, 2) m(hi, 3) m(hi, 4) m(hi, 5) m(hi, 6) m(hi, 7) \
	m(hi, 8) m(hi, 9) m(hi, 10) m(hi, 11) m(hi, 12) m(hi, 13) m(hi, 14) m(hi, 15)
#define LG_128(m)							\
	LG_16(m, 0) LG_16(m, 1) LG_16(m, 2) LG_16(m, 3)			\
	LG_16(m, 4) LG_16(m, 5) LG_16(m, 6) LG_16(m, 7)

	LG_128(LG_TRAMP)

lg_direct_text_end:

/* What src/glue.c hands to Rust: each slot's trampoline, then the text range. */
	.section .rodata, "a"
	.balign	8
SYM_DATA_START(lg_direct_tramps)
	LG_128(LG_TRAMP_ADDR)
	.quad	lg_direct_text_start
	.quad	lg_direct_text_end
SYM_DATA_END(lg_direct_tramps)
