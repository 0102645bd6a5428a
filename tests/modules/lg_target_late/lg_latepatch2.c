// SPDX-License-Identifier: GPL-2.0
/*
 * A second patch of lg_late (version 3 of lg_late_value()), for the stack
 * order of functions whose module is not loaded: stacked on lg_latepatch
 * while lg_late is absent, it makes lg_latepatch's disable wait for its own
 * (scenario 68). Its only object is lg_late.
 */
#include <linux/module.h>
#include "livegraft.h"

static noinline int new_late_value(void)
{
	barrier();
	return 3;
}

static struct livegraft_func late_funcs[] = {
	{ .old_name = "lg_late_value", .new_func = new_late_value },
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "lg_late", .funcs = late_funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_latepatch2", objs);

static int __init lg_latepatch2_init(void)
{
	return livegraft_enable_patch(&patch);
}

static void __exit lg_latepatch2_exit(void)
{
}

module_init(lg_latepatch2_init);
module_exit(lg_latepatch2_exit);
MODULE_DESCRIPTION("livegraft test patch: a second patch of a module that loads later");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
