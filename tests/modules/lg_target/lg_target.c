// SPDX-License-Identifier: GPL-2.0
/*
 * lg_target: functions for the livegraft VM tests to patch, and the
 * bookkeeping that proves which version of them ran, per task and per unit
 * of work.
 *
 * A unit of work is one call of lg_target_unit(), itself a patched function,
 * which calls lg_target_a(), sleeps, then lg_target_b(). Each returns its
 * version (1 here; a test patch returns 2). A unit whose three versions
 * differ is "mixed": the consistency model forbids it. Units run from
 * write(2) (user tasks), a kthread loop, and a work item.
 *
 * /proc/lg_target, read: one line per kind
 *     <kind> units=N v1=N v2=N v3=N mixed=N
 * write: "unit" (one unit), "wrap [N]" (lg_target_wrap(N), default 40;
 * "wrap" in the read shows the result), "block" (one blocking unit: sleeps inside the
 * patched lg_target_block() until "release"), "tblock" (the same in
 * lg_target_tblock(), recording a "tblock" unit), "release", "reset",
 * "kthread on|off", "fkthread on|off" (a freezable kthread), "work on|off", "hold" (a kthread sleeps uninterruptibly
 * inside the patched lg_target_hold() until "unhold"), "kspin on|off" (a
 * kthread with no safe point that runs a BH work item in each unit), "kbusy"
 * (busy in the kernel for 3 s without a safe point, then asleep
 * uninterruptibly until "kwake"), "ztask on|off" (a kthread whose only safe
 * point is the freezer).
 */
#include <linux/atomic.h>
#include <linux/bottom_half.h>
#include <linux/delay.h>
#include <linux/freezer.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/proc_fs.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include "lg_target.h"

static const char *const kind_names[LG_KIND_NR] = {
	"syscall", "blocking", "kthread", "work", "kspin", "tblock",
};

struct kind_stats {
	atomic_t units, mixed, v[6];
};
static struct kind_stats stats[LG_KIND_NR];

void lg_target_record(int kind, int v_unit, int v_a, int v_b)
{
	struct kind_stats *s;

	if (kind < 0 || kind >= LG_KIND_NR)
		return;
	s = &stats[kind];
	atomic_inc(&s->units);
	if (v_unit != v_a || v_a != v_b) {
		atomic_inc(&s->mixed);
		pr_err("lg_target: MIXED unit (%s) in %s:%d: unit=%d a=%d b=%d\n",
		       kind_names[kind], current->comm, current->pid, v_unit, v_a, v_b);
	} else if (v_a >= 1 && v_a <= 5) {
		atomic_inc(&s->v[v_a]);
	}
}
EXPORT_SYMBOL_GPL(lg_target_record);

/*
 * "wrap": the test patches' replacements of this function call it in turn,
 * and must reach this original, not themselves.
 */
noinline int lg_target_wrap(int x)
{
	barrier();
	return x + 1;
}
EXPORT_SYMBOL_GPL(lg_target_wrap);
static atomic_t wrap_result;

/*
 * A fix that needs this file's non-exported helper and variable: patches
 * declare them through livegraft_resolve_symbols() (scenario 85).
 * lg_target_fix() returns x + 1; lg_target_scale() (used by "scale N")
 * multiplies by lg_target_factor ("factor N" sets it).
 */
static int lg_target_factor = 7;
static atomic_t fix_result;

static noinline int lg_target_scale(int x)
{
	barrier();
	return x * READ_ONCE(lg_target_factor);
}

noinline int lg_target_fix(int x)
{
	barrier();
	return x + 1;
}
EXPORT_SYMBOL_GPL(lg_target_fix);

noinline int lg_target_a(void)
{
	barrier();
	return 1;
}
EXPORT_SYMBOL_GPL(lg_target_a);

noinline int lg_target_b(void)
{
	barrier();
	return 1;
}
EXPORT_SYMBOL_GPL(lg_target_b);

/* One unit of work; the sleep in the middle widens the race window. */
noinline void lg_target_unit(int kind)
{
	int a = lg_target_a();

	if (kind == LG_KIND_KTHREAD || kind == LG_KIND_SYSCALL)
		usleep_range(50, 100);
	lg_target_record(kind, 1, a, lg_target_b());
}
EXPORT_SYMBOL_GPL(lg_target_unit);

static DECLARE_WAIT_QUEUE_HEAD(release_wq);
static atomic_t released = ATOMIC_INIT(0);
static atomic_t blocked = ATOMIC_INIT(0);

int lg_target_wait_release(void)
{
	int ret;

	atomic_inc(&blocked);
	ret = wait_event_interruptible(release_wq, atomic_read(&released));
	atomic_dec(&blocked);
	return ret;
}
EXPORT_SYMBOL_GPL(lg_target_wait_release);

/* A unit that blocks inside a patched function until released. */
noinline int lg_target_block(void)
{
	int a = lg_target_a();
	int ret = lg_target_wait_release();

	if (ret)
		return ret;
	lg_target_record(LG_KIND_BLOCKING, 1, a, lg_target_b());
	return 0;
}
EXPORT_SYMBOL_GPL(lg_target_block);

/*
 * "tblock": a unit of kind "tblock" that sleeps inside lg_target_tblock()
 * until released, and records the versions of a (before the sleep) and b
 * (after it). lg_tailblock's replacement tail-calls this original through
 * its LIVEGRAFT_ORIGINAL stub: a task then sleeps here with no frame of the
 * replacement left, running the rest of the replacement's work in the
 * patched universe (scenario 55). a and b are called through hidden
 * pointers: a direct call from this file would let the compiler use the
 * constant the originals return, and this original also runs for patched
 * tasks.
 */
noinline int lg_target_tblock(void)
{
	int (*fa)(void) = lg_target_a, (*fb)(void) = lg_target_b;
	int a, ret;

	OPTIMIZER_HIDE_VAR(fa);
	OPTIMIZER_HIDE_VAR(fb);
	a = fa();
	ret = lg_target_wait_release();
	if (ret)
		return ret;
	lg_target_record(LG_KIND_TBLOCK, a, a, fb());
	return 0;
}
EXPORT_SYMBOL_GPL(lg_target_tblock);

/*
 * A kthread that sleeps uninterruptibly inside a patched function until
 * "unhold": no safe point, no stack check and no nudge can switch it, so it
 * holds a transition open (for reversal, force and fork-storm tests).
 */
static DECLARE_WAIT_QUEUE_HEAD(hold_wq);
static atomic_t hold_released = ATOMIC_INIT(0);
static struct task_struct *hold_kthread;

noinline void lg_target_hold(void)
{
	int a = lg_target_a();

	wait_event(hold_wq, atomic_read(&hold_released));
	lg_target_record(LG_KIND_KTHREAD, 1, a, lg_target_b());
}
EXPORT_SYMBOL_GPL(lg_target_hold);

/*
 * Set by lg_late (scenario 78): what the holder calls once released, still
 * in the universe it held the transition in.
 */
void (*lg_target_after_hold)(void);
EXPORT_SYMBOL_GPL(lg_target_after_hold);

static int hold_fn(void *unused)
{
	void (*after)(void);

	lg_target_hold();
	after = READ_ONCE(lg_target_after_hold);
	if (after)
		after();
	while (!kthread_should_stop())
		schedule_timeout_interruptible(HZ);
	return 0;
}

static struct task_struct *worker_kthread;

static int kthread_fn(void *unused)
{
	while (!kthread_should_stop()) {
		lg_target_unit(LG_KIND_KTHREAD);
		schedule_timeout_interruptible(1);
	}
	return 0;
}

/* A freezable kthread: its loop head is kthread_freezable_should_stop(). */
static struct task_struct *freezable_kthread;

static int freezable_fn(void *unused)
{
	set_freezable();
	while (!kthread_freezable_should_stop(NULL)) {
		lg_target_unit(LG_KIND_KTHREAD);
		schedule_timeout_interruptible(1);
	}
	return 0;
}

/*
 * A kthread whose only safe point is the freezer: it runs units back to
 * back, calling try_to_freeze() between them, and never calls
 * kthread_should_stop() (it stops on its own flag). It is off its CPU only
 * inside the patched lg_target_unit() (asleep in it, or preempted there),
 * where a stack check finds the old function: nothing between two units
 * lets it off the CPU for a stack check to find it clean. It switches when
 * a freeze sends it into __refrigerator(), between units.
 */
static struct task_struct *ztask_kthread;
static atomic_t ztask_stop;

static int ztask_fn(void *unused)
{
	set_freezable();
	while (!atomic_read(&ztask_stop)) {
		lg_target_unit(LG_KIND_KTHREAD);
		try_to_freeze();
	}
	return 0;
}

static void ztask_off(void)
{
	if (!ztask_kthread)
		return;
	atomic_set(&ztask_stop, 1);
	kthread_stop(ztask_kthread);
	put_task_struct(ztask_kthread);
	ztask_kthread = NULL;
}

static bool work_on;
static void work_fn(struct work_struct *w);
static DECLARE_DELAYED_WORK(unit_work, work_fn);

static void work_fn(struct work_struct *w)
{
	lg_target_unit(LG_KIND_WORK);
	if (READ_ONCE(work_on))
		schedule_delayed_work(&unit_work, 1);
}

/*
 * "kspin on": a kthread that never sleeps and passes no safe point until
 * "kspin off": it tests a plain flag, not kthread_should_stop(), and gives
 * the CPU away with yield(), never cond_resched(), where a stack check of it
 * while it is runnable finds it between two units. Each iteration is a unit
 * of kind "kspin": lg_target_a(), a BH work item (system_bh_wq, 6.9+) run on
 * top of this kthread in softirq context (queued with BH disabled, run by
 * local_bh_enable()), then lg_target_b(). No patched function encloses the
 * unit, so no stack check can see it: a switch in the BH item's softirq
 * context lands between a and b and mixes the unit. "kspin_bh" counts the
 * BH items that ran on top of the kthread.
 */
static struct task_struct *kspin_kthread;
static bool kspin_stop;
static atomic_t kspin_bh_on_kthread;

static void kspin_bh_fn(struct work_struct *w)
{
	if (in_serving_softirq() && current == READ_ONCE(kspin_kthread))
		atomic_inc(&kspin_bh_on_kthread);
}
static DECLARE_WORK(kspin_bh_work, kspin_bh_fn);

static int kspin_fn(void *unused)
{
	while (!READ_ONCE(kspin_stop)) {
		/*
		 * Through hidden pointers: a direct call from this file would
		 * let the compiler use the constant the original returns.
		 */
		int (*fa)(void) = lg_target_a, (*fb)(void) = lg_target_b;
		int a;

		OPTIMIZER_HIDE_VAR(fa);
		OPTIMIZER_HIDE_VAR(fb);
		/*
		 * Not preemptible: a preempted kthread is stack-checked, and
		 * mid-unit no patched function on its stack would stop it; only
		 * the BH item's softirq context can then come between a and b.
		 */
		preempt_disable();
		a = fa();
		local_bh_disable();
		queue_work(system_bh_wq, &kspin_bh_work);
		local_bh_enable();
		lg_target_record(LG_KIND_KSPIN, a, a, fb());
		preempt_enable();
		udelay(200);
		yield();
	}
	/* The loop head: the kthread's safe point. */
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

static void kspin_off(void)
{
	if (!kspin_kthread)
		return;
	WRITE_ONCE(kspin_stop, true);
	kthread_stop(kspin_kthread);
	WRITE_ONCE(kspin_kthread, NULL);
	flush_work(&kspin_bh_work);
}

/*
 * "kbusy": the writer spins in the kernel for 3 s, passing no safe point
 * (in the patched lg_target_spin(): mdelay() and yield(); a pass that finds
 * it runnable finds the old function on its stack), then sleeps uninterruptibly
 * until "kwake", all in one write(): a task that was running in the kernel
 * when a pass saw it, and then does not return to user mode for as long as
 * the test wants. "kbusy <state>" in the read: 1 spinning, 2 asleep.
 */
/* Busy until @end (jiffies) without a safe point: mdelay() and yield(). */
noinline void lg_target_spin(unsigned long end)
{
	while (time_before(jiffies, end)) {
		mdelay(5);
		yield();
	}
}
EXPORT_SYMBOL_GPL(lg_target_spin);

static atomic_t kbusy_state;
static atomic_t kbusy_woken;
static DECLARE_WAIT_QUEUE_HEAD(kbusy_wq);

static void kbusy(void)
{
	unsigned long end = jiffies + 3 * HZ;

	atomic_set(&kbusy_woken, 0);
	atomic_set(&kbusy_state, 1);
	lg_target_spin(end);
	atomic_set(&kbusy_state, 2);
	wait_event(kbusy_wq, atomic_read(&kbusy_woken));
	atomic_set(&kbusy_state, 0);
}

static int show(struct seq_file *m, void *v)
{
	int k;

	for (k = 0; k < LG_KIND_NR; k++)
		seq_printf(m, "%s units=%d v1=%d v2=%d v3=%d v4=%d v5=%d mixed=%d\n", kind_names[k],
			   atomic_read(&stats[k].units), atomic_read(&stats[k].v[1]),
			   atomic_read(&stats[k].v[2]), atomic_read(&stats[k].v[3]), atomic_read(&stats[k].v[4]),
			   atomic_read(&stats[k].v[5]), atomic_read(&stats[k].mixed));
	seq_printf(m, "blocked %d\n", atomic_read(&blocked));
	seq_printf(m, "wrap %d\n", atomic_read(&wrap_result));
	seq_printf(m, "fix %d\n", atomic_read(&fix_result));
	seq_printf(m, "kspin_bh %d\n", atomic_read(&kspin_bh_on_kthread));
	seq_printf(m, "kbusy %d\n", atomic_read(&kbusy_state));
	return 0;
}

static int open_fn(struct inode *inode, struct file *file)
{
	return single_open(file, show, NULL);
}

static ssize_t write_fn(struct file *file, const char __user *ubuf, size_t len, loff_t *off)
{
	char buf[32];
	int ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = 0;
	strim(buf);
	if (!strcmp(buf, "unit")) {
		lg_target_unit(LG_KIND_SYSCALL);
	} else if (!strcmp(buf, "wrap")) {
		atomic_set(&wrap_result, lg_target_wrap(40));
	} else if (!strncmp(buf, "wrap ", 5)) {
		int x;

		ret = kstrtoint(buf + 5, 10, &x);
		if (ret)
			return ret;
		atomic_set(&wrap_result, lg_target_wrap(x));
	} else if (!strncmp(buf, "fix ", 4) || !strncmp(buf, "scale ", 6) ||
		   !strncmp(buf, "factor ", 7)) {
		int x;

		ret = kstrtoint(strchr(buf, ' ') + 1, 10, &x);
		if (ret)
			return ret;
		if (buf[1] == 'i')
			atomic_set(&fix_result, lg_target_fix(x));
		else if (buf[0] == 's')
			atomic_set(&fix_result, lg_target_scale(x));
		else
			WRITE_ONCE(lg_target_factor, x);
	} else if (!strcmp(buf, "block")) {
		ret = lg_target_block();
		if (ret)
			return ret;
	} else if (!strcmp(buf, "tblock")) {
		ret = lg_target_tblock();
		if (ret)
			return ret;
	} else if (!strcmp(buf, "release")) {
		atomic_set(&released, 1);
		wake_up_all(&release_wq);
	} else if (!strcmp(buf, "reset")) {
		memset(stats, 0, sizeof(stats));
		atomic_set(&released, 0);
	} else if (!strcmp(buf, "hold")) {
		if (!hold_kthread) {
			atomic_set(&hold_released, 0);
			hold_kthread = kthread_run(hold_fn, NULL, "lg_target_hold");
			if (IS_ERR(hold_kthread)) {
				ret = PTR_ERR(hold_kthread);
				hold_kthread = NULL;
				return ret;
			}
		}
	} else if (!strcmp(buf, "unhold")) {
		atomic_set(&hold_released, 1);
		wake_up_all(&hold_wq);
		if (hold_kthread)
			kthread_stop(hold_kthread);
		hold_kthread = NULL;
	} else if (!strcmp(buf, "kthread on")) {
		if (!worker_kthread) {
			worker_kthread = kthread_run(kthread_fn, NULL, "lg_target_kt");
			if (IS_ERR(worker_kthread)) {
				ret = PTR_ERR(worker_kthread);
				worker_kthread = NULL;
				return ret;
			}
		}
	} else if (!strcmp(buf, "kthread off")) {
		if (worker_kthread)
			kthread_stop(worker_kthread);
		worker_kthread = NULL;
	} else if (!strcmp(buf, "fkthread on")) {
		if (!freezable_kthread) {
			freezable_kthread = kthread_run(freezable_fn, NULL, "lg_target_fkt");
			if (IS_ERR(freezable_kthread)) {
				ret = PTR_ERR(freezable_kthread);
				freezable_kthread = NULL;
				return ret;
			}
		}
	} else if (!strcmp(buf, "fkthread off")) {
		if (freezable_kthread)
			kthread_stop(freezable_kthread);
		freezable_kthread = NULL;
	} else if (!strcmp(buf, "ztask on")) {
		if (!ztask_kthread) {
			struct task_struct *t;

			atomic_set(&ztask_stop, 0);
			t = kthread_create(ztask_fn, NULL, "lg_target_fz");
			if (IS_ERR(t))
				return PTR_ERR(t);
			/* It may exit on its own flag before kthread_stop(). */
			get_task_struct(t);
			ztask_kthread = t;
			wake_up_process(t);
		}
	} else if (!strcmp(buf, "ztask off")) {
		ztask_off();
	} else if (!strcmp(buf, "kbusy")) {
		kbusy();
	} else if (!strcmp(buf, "kwake")) {
		atomic_set(&kbusy_woken, 1);
		wake_up_all(&kbusy_wq);
	} else if (!strcmp(buf, "kspin on")) {
		if (!kspin_kthread) {
			struct task_struct *k;

			WRITE_ONCE(kspin_stop, false);
			k = kthread_run(kspin_fn, NULL, "lg_target_ksp");
			if (IS_ERR(k))
				return PTR_ERR(k);
			WRITE_ONCE(kspin_kthread, k);
		}
	} else if (!strcmp(buf, "kspin off")) {
		kspin_off();
	} else if (!strcmp(buf, "work on")) {
		WRITE_ONCE(work_on, true);
		schedule_delayed_work(&unit_work, 0);
	} else if (!strcmp(buf, "work off")) {
		WRITE_ONCE(work_on, false);
		cancel_delayed_work_sync(&unit_work);
	} else {
		return -EINVAL;
	}
	return len;
}

static const struct proc_ops lg_target_ops = {
	.proc_open = open_fn,
	.proc_read = seq_read,
	.proc_lseek = seq_lseek,
	.proc_release = single_release,
	.proc_write = write_fn,
};

static int __init lg_target_init(void)
{
	if (!proc_create("lg_target", 0666, NULL, &lg_target_ops))
		return -ENOMEM;
	return 0;
}

static void __exit lg_target_exit(void)
{
	WRITE_ONCE(work_on, false);
	cancel_delayed_work_sync(&unit_work);
	if (worker_kthread)
		kthread_stop(worker_kthread);
	if (freezable_kthread)
		kthread_stop(freezable_kthread);
	ztask_off();
	kspin_off();
	atomic_set(&kbusy_woken, 1);
	wake_up_all(&kbusy_wq);
	atomic_set(&hold_released, 1);
	wake_up_all(&hold_wq);
	if (hold_kthread)
		kthread_stop(hold_kthread);
	remove_proc_entry("lg_target", NULL);
}

module_init(lg_target_init);
module_exit(lg_target_exit);
MODULE_DESCRIPTION("livegraft test target");
MODULE_LICENSE("GPL");
