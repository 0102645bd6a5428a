// SPDX-License-Identifier: GPL-2.0
/*
 * lg_dup: two static functions named lg_dup_value(), one in lg_dup_a.c
 * (returns 11) and one in lg_dup_b.c (returns 22): a module symbol that only
 * a symbol position (sympos) names unambiguously.
 *
 * /proc/lg_dup, read: one line per C file, "<file> <value> <address>": what
 * that file's lg_dup_value() returns now (a patched instance returns what its
 * replacement returns) and where it is, so a test can match kallsyms order
 * to files without assuming a link order.
 */
#include <linux/compiler.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include "lg_dup.h"

static int lg_dup_a_result = 11;

static noinline int lg_dup_value(void)
{
	barrier();
	return READ_ONCE(lg_dup_a_result);
}

noinline int lg_dup_a_call(void)
{
	return lg_dup_value();
}
EXPORT_SYMBOL_GPL(lg_dup_a_call);

unsigned long lg_dup_a_addr(void)
{
	return (unsigned long)lg_dup_value;
}

static int show(struct seq_file *m, void *v)
{
	seq_printf(m, "a %d %lx\n", lg_dup_a_call(), lg_dup_a_addr());
	seq_printf(m, "b %d %lx\n", lg_dup_b_call(), lg_dup_b_addr());
	return 0;
}

static int __init lg_dup_init(void)
{
	if (!proc_create_single("lg_dup", 0444, NULL, show))
		return -ENOMEM;
	return 0;
}

static void __exit lg_dup_exit(void)
{
	remove_proc_entry("lg_dup", NULL);
}

module_init(lg_dup_init);
module_exit(lg_dup_exit);
MODULE_DESCRIPTION("livegraft test target: two static functions of one name");
MODULE_LICENSE("GPL");
