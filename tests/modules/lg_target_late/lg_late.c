// SPDX-License-Identifier: GPL-2.0
/*
 * lg_late: a target for a patch that is enabled before this module loads.
 * Its init calls the patched lg_late_value() once, so /proc/lg_late shows
 * whether the module was patched before its init ran:
 *     init=<version seen by the init> now=<version seen by this read>
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>

static int init_value;

int lg_late_value(void);

noinline int lg_late_value(void)
{
	barrier();
	return 1;
}

/*
 * Called through a hidden pointer: a direct call from this file would let
 * the compiler use the constant the original returns.
 */
static int call_value(void)
{
	int (*f)(void) = lg_late_value;

	OPTIMIZER_HIDE_VAR(f);
	return f();
}

static int lg_late_show(struct seq_file *m, void *v)
{
	seq_printf(m, "init=%d now=%d\n", init_value, call_value());
	return 0;
}

static int __init lg_late_init(void)
{
	init_value = call_value();
	if (!proc_create_single("lg_late", 0444, NULL, lg_late_show))
		return -ENOMEM;
	return 0;
}

static void __exit lg_late_exit(void)
{
	remove_proc_entry("lg_late", NULL);
}

module_init(lg_late_init);
module_exit(lg_late_exit);
MODULE_DESCRIPTION("livegraft test target loaded after its patch");
MODULE_LICENSE("GPL");
