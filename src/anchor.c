// SPDX-License-Identifier: GPL-2.0
/*
 * The one livegraft function with an ftrace call site (this object keeps
 * $(CC_FLAGS_FTRACE)); it is never called. While livegraft patches
 * anything, a PERMANENT ftrace ops filtered on it stays registered: ftrace
 * refuses "sysctl kernel.ftrace_enabled=0" while any PERMANENT ops exists,
 * and the direct calls of retired functions cannot be PERMANENT themselves
 * (register_ftrace_direct() sets the ops' flags), so without the anchor
 * turning ftrace off would silently run the original functions again.
 */
#include <linux/compiler.h>
#include <linux/ftrace.h>
#include "livegraft_glue.h"

static noinline void lg_permanent_anchor(void)
{
	barrier();
}

unsigned long lg_permanent_anchor_addr(void)
{
	return (unsigned long)lg_permanent_anchor;
}
