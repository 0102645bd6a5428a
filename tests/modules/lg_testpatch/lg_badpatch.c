// SPDX-License-Identifier: GPL-2.0
/*
 * A livegraft test patch that is malformed on request (scenario 61): the
 * `bad` parameter picks the malformation; livegraft_enable_patch() must
 * refuse each with one clear dmesg line and change nothing.
 *
 *   0  a good patch of lg_target_a (the control)
 *   1  an empty function name ("")
 *   2  one object whose funcs array is empty (a NULL old_name ends it)
 *   3  no objects at all
 *   4  the same function listed twice
 *   5  the same object listed twice (a module that is not loaded is no
 *      malformation: it is patched when it loads, scenario 77)
 *   6  a patch name of 60 characters
 *   7  a function name of 1000 characters
 *   8  a replacement outside the patch module: vmlinux's printk
 *   9  a replacement that is this module's data, not code
 *  10  a NULL replacement
 */
#include <linux/module.h>
#include <linux/printk.h>
#include "livegraft.h"
#include "lg_target.h"

static int bad;
module_param(bad, int, 0444);
MODULE_PARM_DESC(bad, "malformation (0: none)");

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

static char long_name[1001];
static const int not_code[16] = { 1 };

static struct livegraft_func funcs[] = {
	{ .old_name = "lg_target_a", .new_func = new_a },
	{ },	/* room for a malformed second entry */
	{ }
};

static struct livegraft_func no_funcs[] = {
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "lg_target", .funcs = funcs },
	{ },	/* room for a malformed second entry */
	{ }
};

static struct livegraft_object no_objs[] = {
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_badpatch", objs);

static int __init lg_badpatch_init(void)
{
	switch (bad) {
	case 0:
		break;
	case 1:
		funcs[0].old_name = "";
		break;
	case 2:
		objs[0].funcs = no_funcs;
		break;
	case 3:
		patch.objs = no_objs;
		break;
	case 4:
		funcs[1] = (struct livegraft_func){ .old_name = "lg_target_a", .new_func = new_b };
		break;
	case 5:
		objs[1] = objs[0];
		break;
	case 6:
		patch.name = "lg_badpatch_with_a_name_of_sixty_characters_xxxxxxxxxxxxxxx";
		break;
	case 7:
		memset(long_name, 'a', sizeof(long_name) - 1);
		funcs[0].old_name = long_name;
		break;
	case 8:
		funcs[0].new_func = (void *)_printk;
		break;
	case 9:
		funcs[0].new_func = (void *)not_code;
		break;
	case 10:
		funcs[0].new_func = NULL;
		break;
	default:
		return -EINVAL;
	}
	return livegraft_enable_patch(&patch);
}

static void __exit lg_badpatch_exit(void)
{
}

module_init(lg_badpatch_init);
module_exit(lg_badpatch_exit);
MODULE_DESCRIPTION("livegraft test patch: malformed descriptions on request");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
