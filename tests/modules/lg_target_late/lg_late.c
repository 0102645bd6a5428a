// SPDX-License-Identifier: GPL-2.0
/*
 * lg_late: a target for a patch that is enabled before this module loads.
 * Its init calls the patched lg_late_value() once, so /proc/lg_late shows
 * whether the module was patched before its init ran:
 *     init=<version seen by the init> now=<version seen by this read>
 *     sleep=<lg_late_value() before>,<after>   (after "sleep" ran)
 * With the parameter hook=1 it makes lg_target's "hold" kthread, once
 * released, call lg_late_sleep(), which sleeps until "release" is written
 * to /proc/lg_late and records lg_late_value() before and after the sleep:
 * both must be the same version (scenario 78).
 */
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/wait.h>
#include "lg_target.h"

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

static bool hook;
module_param(hook, bool, 0444);
MODULE_PARM_DESC(hook, "Make lg_target's released holder call lg_late_sleep()");

static DECLARE_WAIT_QUEUE_HEAD(sleep_wq);
static atomic_t sleep_released = ATOMIC_INIT(0);
static int sleep_before, sleep_after;

void lg_late_sleep(void);

/* Patched by lg_latepatch: a task asleep here is on late code's stack. */
noinline void lg_late_sleep(void)
{
	sleep_before = call_value();
	wait_event(sleep_wq, atomic_read(&sleep_released));
	sleep_after = call_value();
}

static int lg_late_show(struct seq_file *m, void *v)
{
	seq_printf(m, "init=%d now=%d\n", init_value, call_value());
	if (sleep_after)
		seq_printf(m, "sleep=%d,%d\n", sleep_before, sleep_after);
	return 0;
}

static int lg_late_open(struct inode *inode, struct file *file)
{
	return single_open(file, lg_late_show, NULL);
}

static ssize_t lg_late_write(struct file *file, const char __user *ubuf, size_t len, loff_t *off)
{
	atomic_set(&sleep_released, 1);
	wake_up_all(&sleep_wq);
	return len;
}

static const struct proc_ops lg_late_ops = {
	.proc_open = lg_late_open,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = lg_late_write,
};

static int __init lg_late_init(void)
{
	init_value = call_value();
	if (!proc_create("lg_late", 0644, NULL, &lg_late_ops))
		return -ENOMEM;
	if (hook)
		WRITE_ONCE(lg_target_after_hold, lg_late_sleep);
	return 0;
}

static void __exit lg_late_exit(void)
{
	if (hook)
		WRITE_ONCE(lg_target_after_hold, NULL);
	remove_proc_entry("lg_late", NULL);
}

module_init(lg_late_init);
module_exit(lg_late_exit);
MODULE_DESCRIPTION("livegraft test target loaded after its patch");
MODULE_LICENSE("GPL");
