// SPDX-License-Identifier: GPL-2.0
/*
 * lg_bench: the in-kernel side of the benchmarks (tools/bench.sh).
 *
 * lg_bench_target() is the function both upstream livepatch (lg_bench_klp)
 * and livegraft (lg_bench_lg) patch. Writing "run N" to /proc/lg_bench calls
 * it N times in a tight loop from this task and records the time per call;
 * reading returns "calls=N ns_total=T result=R", R being the last return
 * value (1 original, 2 patched: proof of which version ran).
 * "hold"/"unhold" start/stop a kthread sleeping uninterruptibly inside the
 * patched lg_bench_hold(), which holds either system's transition open.
 */
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include "lg_bench.h"

noinline int lg_bench_target(int x)
{
	barrier();
	return x + 1;
}
EXPORT_SYMBOL_GPL(lg_bench_target);

static DECLARE_WAIT_QUEUE_HEAD(hold_wq);
static bool hold_released;
static struct task_struct *holder;

noinline void lg_bench_hold(void)
{
	wait_event(hold_wq, READ_ONCE(hold_released));
}
EXPORT_SYMBOL_GPL(lg_bench_hold);

static int hold_fn(void *unused)
{
	lg_bench_hold();
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ);
	return 0;
}

static DEFINE_MUTEX(lock);
static u64 last_calls, last_ns;
static int last_result;

static int show(struct seq_file *m, void *v)
{
	mutex_lock(&lock);
	seq_printf(m, "calls=%llu ns_total=%llu result=%d\n", last_calls, last_ns, last_result);
	mutex_unlock(&lock);
	return 0;
}

static int open_fn(struct inode *inode, struct file *file)
{
	return single_open(file, show, NULL);
}

static ssize_t write_fn(struct file *file, const char __user *ubuf, size_t len, loff_t *off)
{
	char buf[32];
	unsigned long n;
	u64 t0, t1, i;
	int r = 0;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	strim(buf);
	if (!strncmp(buf, "run ", 4)) {
		if (kstrtoul(buf + 4, 10, &n) || !n)
			return -EINVAL;
		t0 = ktime_get_ns();
		for (i = 0; i < n; i++)
			r = lg_bench_target(r & 1);
		t1 = ktime_get_ns();
		mutex_lock(&lock);
		last_calls = n;
		last_ns = t1 - t0;
		last_result = lg_bench_target(0);
		mutex_unlock(&lock);
	} else if (!strcmp(buf, "hold")) {
		if (!holder) {
			WRITE_ONCE(hold_released, false);
			holder = kthread_run(hold_fn, NULL, "lg_bench_hold");
			if (IS_ERR(holder)) {
				r = PTR_ERR(holder);
				holder = NULL;
				return r;
			}
		}
	} else if (!strcmp(buf, "unhold")) {
		WRITE_ONCE(hold_released, true);
		wake_up_all(&hold_wq);
		if (holder)
			kthread_stop(holder);
		holder = NULL;
	} else {
		return -EINVAL;
	}
	return len;
}

static const struct proc_ops ops = {
	.proc_open = open_fn,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = write_fn,
};

static int __init lg_bench_init(void)
{
	return proc_create("lg_bench", 0666, NULL, &ops) ? 0 : -ENOMEM;
}

static void __exit lg_bench_exit(void)
{
	WRITE_ONCE(hold_released, true);
	wake_up_all(&hold_wq);
	if (holder)
		kthread_stop(holder);
	remove_proc_entry("lg_bench", NULL);
}

module_init(lg_bench_init);
module_exit(lg_bench_exit);
MODULE_DESCRIPTION("livegraft benchmark target");
MODULE_LICENSE("GPL");
