/* SPDX-License-Identifier: GPL-2.0 */
/* Shared between the test target and the test patches. */
#ifndef _LG_TARGET_H
#define _LG_TARGET_H

enum lg_target_kind {
	LG_KIND_SYSCALL,	/* write(2) to /proc/lg_target */
	LG_KIND_BLOCKING,	/* a write that blocks inside a patched function */
	LG_KIND_KTHREAD,	/* the lg_target kthread's loop */
	LG_KIND_WORK,		/* the lg_target work item */
	LG_KIND_KSPIN,		/* the "kspin" kthread's loop (a BH work item in each) */
	LG_KIND_TBLOCK,		/* a write that blocks in lg_target_tblock() */
	LG_KIND_NR,
};

/* The patched functions; each returns (or records) its version. */
int lg_target_a(void);
int lg_target_b(void);
void lg_target_unit(int kind);
int lg_target_block(void);
void lg_target_hold(void);
int lg_target_wrap(int x);
int lg_target_fix(int x);
int lg_target_tblock(void);
void lg_target_spin(unsigned long end);

/* Record one unit of work: the versions of unit, a and b that ran in it. */
void lg_target_record(int kind, int v_unit, int v_a, int v_b);
/* Sleep (interruptibly) until released; -ERESTARTSYS on a signal. */
int lg_target_wait_release(void);
/* Called by the "hold" kthread once released, if set (scenario 78). */
extern void (*lg_target_after_hold)(void);

#endif
