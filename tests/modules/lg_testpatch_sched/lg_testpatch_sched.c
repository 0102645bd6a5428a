// SPDX-License-Identifier: GPL-2.0
/*
 * A livegraft test patch of a vmlinux scheduler function: a pass-through
 * replacement of schedule_hrtimeout_range_clock() (.sched.text, which
 * stack_trace_save_tsk() leaves out of its traces). poll() and select()
 * sleep inside it (schedule_hrtimeout_range() tail-calls it), so a task
 * asleep in poll() has the old function on its stack until it wakes up.
 * Scenario 35 checks that such a task is not switched by a stack check.
 */
#include <linux/atomic.h>
#include <linux/hrtimer.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include "livegraft.h"

/* Calls of the new version: entered, and returned. */
static atomic_t entered = ATOMIC_INIT(0);
static atomic_t returned = ATOMIC_INIT(0);

static int atomic_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read((atomic_t *)kp->arg));
}
static const struct kernel_param_ops atomic_ops = { .get = atomic_get };
module_param_cb(entered, &atomic_ops, &entered, 0444);
MODULE_PARM_DESC(entered, "Calls of the new schedule_hrtimeout_range_clock()");
module_param_cb(returned, &atomic_ops, &returned, 0444);
MODULE_PARM_DESC(returned, "Calls of the new schedule_hrtimeout_range_clock() that returned");

/*
 * Calls the function it replaces through a LIVEGRAFT_ORIGINAL stub (a call
 * by name would be a call of the patched function: endless recursion); the
 * count after the call keeps it a real call, not a tail jump.
 */
int orig_schedule_hrtimeout_range_clock(ktime_t *expires, u64 delta, const enum hrtimer_mode mode,
					clockid_t clock_id);
LIVEGRAFT_ORIGINAL(orig_schedule_hrtimeout_range_clock);

static noinline int new_schedule_hrtimeout_range_clock(ktime_t *expires, u64 delta,
						       const enum hrtimer_mode mode,
						       clockid_t clock_id)
{
	int ret;

	atomic_inc(&entered);
	ret = orig_schedule_hrtimeout_range_clock(expires, delta, mode, clock_id);
	atomic_inc(&returned);
	return ret;
}

static struct livegraft_func funcs[] = {
	{ .old_name = "schedule_hrtimeout_range_clock", .new_func = new_schedule_hrtimeout_range_clock,
	  .orig_entry = LIVEGRAFT_ORIGINAL_ENTRY(orig_schedule_hrtimeout_range_clock) },
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "vmlinux", .funcs = funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_testpatch_sched", objs);

static int __init lg_testpatch_sched_init(void)
{
	return livegraft_enable_patch(&patch);
}

static void __exit lg_testpatch_sched_exit(void)
{
}

module_init(lg_testpatch_sched_init);
module_exit(lg_testpatch_sched_exit);
MODULE_DESCRIPTION("livegraft test patch of schedule_hrtimeout_range_clock");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
