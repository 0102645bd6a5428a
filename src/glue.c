// SPDX-License-Identifier: GPL-2.0
/*
 * livegraft C glue. Rust cannot call static inline functions or macros, so
 * each one livegraft needs gets a one-line, out-of-line wrapper here. Nothing
 * else belongs in this file: the logic lives in Rust.
 */
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/trace_recursion.h>
#include <linux/tracepoint.h>
#include "livegraft_glue.h"

int lg_ftrace_test_recursion_trylock(unsigned long ip, unsigned long parent_ip)
{
	return ftrace_test_recursion_trylock(ip, parent_ip);
}

void lg_ftrace_test_recursion_unlock(int bit)
{
	ftrace_test_recursion_unlock(bit);
}

void lg_ftrace_regs_set_ip(struct ftrace_regs *fregs, unsigned long ip)
{
	ftrace_regs_set_instruction_pointer(fregs, ip);
}

bool lg_within_module(unsigned long addr, const struct module *mod)
{
	return within_module(addr, mod);
}

void lg_tracepoint_synchronize_unregister(void)
{
	tracepoint_synchronize_unregister();
}
