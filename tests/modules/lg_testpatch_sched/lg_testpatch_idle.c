// SPDX-License-Identifier: GPL-2.0
/*
 * A livegraft test patch of the idle loop: pass-through replacements of
 * do_idle() ("X": an idle task runs inside it all the time, one call per
 * wakeup that leads to a reschedule) and arch_cpu_idle_exit() ("Y", empty on
 * x86, called by do_idle() at the end of every idle-loop iteration, after
 * the CPU slept). One call of X is a unit of work of the idle task; it mixed
 * versions when the new Y runs inside the old X: the idle task switched to
 * the patched universe while the old X was on its stack (the power:cpu_idle
 * event fires inside it, mid-iteration).
 *
 * With patch_do_idle=0 only Y is patched: a patch the idle loop's own frames do
 * not block, to check that idle tasks switch, busy CPUs' too.
 *
 * do_idle() is static: the new one reaches the original through a
 * LIVEGRAFT_ORIGINAL stub. Scenario 36 reads the counters.
 */
#include <linux/atomic.h>
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
MODULE_PARM_DESC(units, "Idle-loop iterations that ran the new arch_cpu_idle_exit()");
module_param_cb(mixed, &atomic_ops, &mixed, 0444);
MODULE_PARM_DESC(mixed, "Calls of the new arch_cpu_idle_exit() from the old do_idle()");

static bool patch_do_idle = true;
module_param(patch_do_idle, bool, 0444);
MODULE_PARM_DESC(patch_do_idle, "Also patch do_idle() (default Y)");

/* The new X runs on this CPU (only its idle task calls X). */
static DEFINE_PER_CPU(int, in_new_x);

/* do_idle() is static: its original is reached through a stub. */
void orig_do_idle(void);
LIVEGRAFT_ORIGINAL(orig_do_idle);

static noinline void new_do_idle(void)
{
	this_cpu_inc(in_new_x);
	orig_do_idle();
	this_cpu_dec(in_new_x);
}

static noinline void new_arch_cpu_idle_exit(void)
{
	if (patch_do_idle && !this_cpu_read(in_new_x))
		atomic_inc(&mixed);
	atomic_inc(&units);
}

static struct livegraft_func funcs[] = {
	{ .old_name = "arch_cpu_idle_exit", .new_func = new_arch_cpu_idle_exit },
	{ .old_name = "do_idle", .new_func = new_do_idle,
	  .orig_entry = LIVEGRAFT_ORIGINAL_ENTRY(orig_do_idle) },
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "vmlinux", .funcs = funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_testpatch_idle", objs);

static int __init lg_testpatch_idle_init(void)
{
	if (!patch_do_idle) {
		funcs[1].old_name = NULL;
		funcs[1].new_func = NULL;
	}
	return livegraft_enable_patch(&patch);
}

static void __exit lg_testpatch_idle_exit(void)
{
}

module_init(lg_testpatch_idle_init);
module_exit(lg_testpatch_idle_exit);
MODULE_DESCRIPTION("livegraft test patch of the idle loop");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
