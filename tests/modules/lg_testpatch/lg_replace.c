// SPDX-License-Identifier: GPL-2.0
/*
 * A cumulative patch (LIVEGRAFT_F_REPLACE) at version 4 for lg_target: it
 * replaces lg_target_unit and lg_target_a only. Enabled over lg_testpatch
 * (v2) and lg_testpatch2 (v3), which also replace lg_target_b, _block,
 * _hold and _wrap, it replaces both in one transition, and those four
 * functions go back to their original code.
 *
 * Its unit records lg_target_b()'s version as 4 when it ran the original
 * (1), the only consistent choice for a task in its universe: a unit that
 * ran v4 of lg_target_unit and a replaced patch's lg_target_b (2 or 3) is
 * recorded as mixed.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include "livegraft.h"
#include "lg_target.h"

static noinline int new_a(void)
{
	barrier();
	return 4;
}

static noinline void new_unit(int kind)
{
	int a = lg_target_a();
	int b;

	if (kind == LG_KIND_KTHREAD || kind == LG_KIND_SYSCALL)
		usleep_range(50, 100);
	b = lg_target_b();
	lg_target_record(kind, 4, a, b == 1 ? 4 : b);
}

static struct livegraft_func funcs[] = {
	{ .old_name = "lg_target_a", .new_func = new_a },
	{ .old_name = "lg_target_unit", .new_func = new_unit },
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "lg_target", .funcs = funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_replace", objs);

static int __init lg_replace_init(void)
{
	patch.flags = LIVEGRAFT_F_REPLACE;
	return livegraft_enable_patch(&patch);
}

static void __exit lg_replace_exit(void)
{
}

module_init(lg_replace_init);
module_exit(lg_replace_exit);
MODULE_DESCRIPTION("livegraft cumulative test patch (atomic replace)");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
