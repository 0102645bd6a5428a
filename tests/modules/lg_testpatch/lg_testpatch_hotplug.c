// SPDX-License-Identifier: GPL-2.0
/*
 * A livegraft test patch for the CPU hotplug scenarios (50-52): it replaces
 *  - lg_target_a, _b and _unit as lg_testpatch does (version 2), so units of
 *    work show which version they ran;
 *  - lg_target_hold with a pass-through that calls the original: a holder
 *    kthread started before the patch sleeps in the old function (holds the
 *    patching transition), one started while patched sleeps in the original
 *    called from the new one (holds the unpatching transition);
 *  - arch_cpu_idle_exit() (empty on x86, called by do_idle() at the end of
 *    every idle-loop iteration) with a version that counts its calls per CPU:
 *    cpu_units shows, per possible CPU, how many idle-loop iterations ran the
 *    new code, i.e. in which universe each CPU's idle task runs.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/percpu.h>
#include "livegraft.h"
#include "lg_target.h"

#define LG_VERSION 2

static DEFINE_PER_CPU(unsigned long, idle_units);

static int cpu_units_get(char *buf, const struct kernel_param *kp)
{
	int cpu, len = 0;

	for_each_possible_cpu(cpu)
		len += scnprintf(buf + len, PAGE_SIZE - len, "%s%lu",
				 len ? " " : "", per_cpu(idle_units, cpu));
	len += scnprintf(buf + len, PAGE_SIZE - len, "\n");
	return len;
}
static const struct kernel_param_ops cpu_units_ops = { .get = cpu_units_get };
module_param_cb(cpu_units, &cpu_units_ops, NULL, 0444);
MODULE_PARM_DESC(cpu_units, "Per possible CPU: idle-loop iterations that ran the new arch_cpu_idle_exit()");

static noinline void new_arch_cpu_idle_exit(void)
{
	this_cpu_inc(idle_units);
}

static noinline int new_a(void)
{
	barrier();
	return LG_VERSION;
}

static noinline int new_b(void)
{
	barrier();
	return LG_VERSION;
}

static noinline void new_unit(int kind)
{
	int a = lg_target_a();

	if (kind == LG_KIND_KTHREAD || kind == LG_KIND_SYSCALL)
		usleep_range(50, 100);
	lg_target_record(kind, LG_VERSION, a, lg_target_b());
}

/*
 * Calls the function it replaces through a LIVEGRAFT_ORIGINAL stub (a call
 * by name would be a call of the patched function, i.e. of this one). The
 * barrier keeps the call a call, so this frame stays on the holder's stack
 * and holds the unpatching transition.
 */
extern typeof(lg_target_hold) orig_hold;
LIVEGRAFT_ORIGINAL(orig_hold);

static noinline void new_hold(void)
{
	orig_hold();
	barrier();
}

static struct livegraft_func target_funcs[] = {
	{ .old_name = "lg_target_a", .new_func = new_a },
	{ .old_name = "lg_target_b", .new_func = new_b },
	{ .old_name = "lg_target_unit", .new_func = new_unit },
	{ .old_name = "lg_target_hold", .new_func = new_hold,
	  .orig_entry = LIVEGRAFT_ORIGINAL_ENTRY(orig_hold) },
	{ }
};

static struct livegraft_func vmlinux_funcs[] = {
	{ .old_name = "arch_cpu_idle_exit", .new_func = new_arch_cpu_idle_exit },
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "vmlinux", .funcs = vmlinux_funcs },
	{ .name = "lg_target", .funcs = target_funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_testpatch_hotplug", objs);

static int __init lg_testpatch_hotplug_init(void)
{
	return livegraft_enable_patch(&patch);
}

static void __exit lg_testpatch_hotplug_exit(void)
{
}

module_init(lg_testpatch_hotplug_init);
module_exit(lg_testpatch_hotplug_exit);
MODULE_DESCRIPTION("livegraft test patch for the CPU hotplug scenarios");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
