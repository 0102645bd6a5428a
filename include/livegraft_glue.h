/* SPDX-License-Identifier: GPL-2.0 */
/*
 * livegraft C glue: thin wrappers around static inlines and macros that Rust
 * cannot call. Every function here is notrace (the glue object is built
 * without $(CC_FLAGS_FTRACE)) because the ftrace handler calls into it.
 */
#ifndef _LIVEGRAFT_GLUE_H
#define _LIVEGRAFT_GLUE_H

#include <linux/types.h>

struct ftrace_regs;
struct module;
struct task_struct;

int lg_ftrace_test_recursion_trylock(unsigned long ip, unsigned long parent_ip);
void lg_ftrace_test_recursion_unlock(int bit);
void lg_ftrace_regs_set_ip(struct ftrace_regs *fregs, unsigned long ip);
bool lg_within_module(unsigned long addr, const struct module *mod);
void lg_tracepoint_synchronize_unregister(void);

#endif
