// SPDX-License-Identifier: GPL-2.0
/* The second half of lg_dup: its own static lg_dup_value() (see lg_dup_a.c). */
#include <linux/compiler.h>
#include <linux/module.h>
#include "lg_dup.h"

/* Read through READ_ONCE so the compiler cannot fold the result into callers. */
static int lg_dup_b_result = 22;

static noinline int lg_dup_value(void)
{
	barrier();
	return READ_ONCE(lg_dup_b_result);
}

noinline int lg_dup_b_call(void)
{
	return lg_dup_value();
}
EXPORT_SYMBOL_GPL(lg_dup_b_call);

unsigned long lg_dup_b_addr(void)
{
	return (unsigned long)lg_dup_value;
}
