// SPDX-License-Identifier: GPL-2.0
/*
 * A livegraft test patch of the idle path: pass-through replacements of
 * cpuidle_enter() ("X", on an idle task's stack while its CPU idles) and
 * sched_idle_set_state() ("Y", which cpuidle_enter_state() calls inside X
 * twice, before and after entering the idle state). One call of X is a unit
 * of work of the idle task; a unit mixed versions when
 *  - the new Y runs inside the old X (the task switched to the patched
 *    universe while the old X was on its stack), or
 *  - the old Y runs inside the new X (switched back mid-unit when
 *    unpatching: the new X then sees fewer than two new Y calls).
 * Neither function is exported: the originals are resolved with a disabled
 * kprobe and called through a pointer (livegraft runs the original for a
 * call from inside the replacement). Scenario 36 reads the counters.
 */
#include <linux/atomic.h>
#include <linux/cpuidle.h>
#include <linux/kprobes.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include "livegraft.h"

static atomic_t units = ATOMIC_INIT(0);
static atomic_t mixed = ATOMIC_INIT(0);

static int atomic_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read((atomic_t *)kp->arg));
}
static const struct kernel_param_ops atomic_ops = { .get = atomic_get };
module_param_cb(units, &atomic_ops, &units, 0444);
MODULE_PARM_DESC(units, "Calls of the new cpuidle_enter() that returned");
module_param_cb(mixed, &atomic_ops, &mixed, 0444);
MODULE_PARM_DESC(mixed, "Units of work that ran old and new code");

/* Nesting of the new X on this CPU (only its idle task calls X). */
static DEFINE_PER_CPU(int, in_new_x);
/* Calls of the new Y inside the new X on this CPU. */
static DEFINE_PER_CPU(unsigned long, new_y_in_new_x);

static int (*orig_cpuidle_enter)(struct cpuidle_driver *drv, struct cpuidle_device *dev, int index);
static void (*orig_sched_idle_set_state)(struct cpuidle_state *idle_state);

static noinline int new_cpuidle_enter(struct cpuidle_driver *drv, struct cpuidle_device *dev,
				      int index)
{
	unsigned long before;
	int ret;

	this_cpu_inc(in_new_x);
	before = this_cpu_read(new_y_in_new_x);
	ret = orig_cpuidle_enter(drv, dev, index);
	/* cpuidle_enter_state() calls Y exactly twice. */
	if (this_cpu_read(new_y_in_new_x) - before != 2)
		atomic_inc(&mixed);
	this_cpu_dec(in_new_x);
	atomic_inc(&units);
	return ret;
}

static noinline void new_sched_idle_set_state(struct cpuidle_state *idle_state)
{
	if (this_cpu_read(in_new_x))
		this_cpu_inc(new_y_in_new_x);
	else
		atomic_inc(&mixed);
	orig_sched_idle_set_state(idle_state);
	barrier();	/* a real call, not a tail jump */
}

static struct livegraft_func funcs[] = {
	{ .old_name = "cpuidle_enter", .new_func = new_cpuidle_enter },
	{ .old_name = "sched_idle_set_state", .new_func = new_sched_idle_set_state },
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "vmlinux", .funcs = funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_testpatch_idle", objs);

static void *lookup(const char *name)
{
	struct kprobe kp = { .symbol_name = name, .flags = KPROBE_FLAG_DISABLED };
	void *addr;

	if (register_kprobe(&kp))
		return NULL;
	addr = kp.addr;
	unregister_kprobe(&kp);
	return addr;
}

static int __init lg_testpatch_idle_init(void)
{
	orig_cpuidle_enter = lookup("cpuidle_enter");
	orig_sched_idle_set_state = lookup("sched_idle_set_state");
	if (!orig_cpuidle_enter || !orig_sched_idle_set_state)
		return -ENOENT;
	return livegraft_enable_patch(&patch);
}

static void __exit lg_testpatch_idle_exit(void)
{
}

module_init(lg_testpatch_idle_init);
module_exit(lg_testpatch_idle_exit);
MODULE_DESCRIPTION("livegraft test patch of the idle path");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
