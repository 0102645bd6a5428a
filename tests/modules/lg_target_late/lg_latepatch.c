// SPDX-License-Identifier: GPL-2.0
/*
 * A patch with two objects: lg_target (loaded when the patch is enabled;
 * the version-2 functions of lg_testpatch, so units show the transition
 * and "hold" can keep it open) and lg_late, a module that loads later:
 * livegraft patches lg_late_value() when lg_late loads, before its init.
 * Nothing here refers to lg_late's symbols, so lg_late loads and unloads
 * freely while the patch is enabled.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include "livegraft.h"
#include "lg_target.h"

static noinline int new_a(void)
{
	barrier();
	return 2;
}

static noinline int new_b(void)
{
	barrier();
	return 2;
}

static noinline void new_unit(int kind)
{
	int a = lg_target_a();

	if (kind == LG_KIND_KTHREAD || kind == LG_KIND_SYSCALL)
		usleep_range(50, 100);
	lg_target_record(kind, 2, a, lg_target_b());
}

static noinline void new_hold(void)
{
	lg_target_record(LG_KIND_KTHREAD, 2, lg_target_a(), lg_target_b());
}

static noinline int new_block(void)
{
	int a = lg_target_a();
	int ret = lg_target_wait_release();

	if (ret)
		return ret;
	lg_target_record(LG_KIND_BLOCKING, 2, a, lg_target_b());
	return 0;
}

static noinline int new_late_value(void)
{
	barrier();
	return 2;
}

static struct livegraft_func target_funcs[] = {
	{ .old_name = "lg_target_a", .new_func = new_a },
	{ .old_name = "lg_target_b", .new_func = new_b },
	{ .old_name = "lg_target_unit", .new_func = new_unit },
	{ .old_name = "lg_target_hold", .new_func = new_hold },
	{ .old_name = "lg_target_block", .new_func = new_block },
	{ }
};

static noinline void new_late_sleep(void)
{
	/* Never runs in the tests: the holder sleeps in the original. */
	barrier();
}

static struct livegraft_func late_funcs[] = {
	{ .old_name = "lg_late_value", .new_func = new_late_value },
	{ .old_name = "lg_late_sleep", .new_func = new_late_sleep },
	{ },	/* room for the "bogus" entry */
	{ }
};

static bool bogus;
module_param(bogus, bool, 0444);
MODULE_PARM_DESC(bogus, "Also patch a function lg_late does not have (its load must be refused)");

static struct livegraft_object objs[] = {
	{ .name = "lg_target", .funcs = target_funcs },
	{ .name = "lg_late", .funcs = late_funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_latepatch", objs);

static int __init lg_latepatch_init(void)
{
	if (bogus) {
		late_funcs[ARRAY_SIZE(late_funcs) - 2].old_name = "lg_late_missing";
		late_funcs[ARRAY_SIZE(late_funcs) - 2].new_func = new_late_value;
	}
	return livegraft_enable_patch(&patch);
}

static void __exit lg_latepatch_exit(void)
{
}

module_init(lg_latepatch_init);
module_exit(lg_latepatch_exit);
MODULE_DESCRIPTION("livegraft test patch with an object that loads later");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
