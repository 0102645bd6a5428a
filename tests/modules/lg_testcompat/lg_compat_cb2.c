// SPDX-License-Identifier: GPL-2.0
/*
 * A second livepatch module in upstream's source form (scenario 73),
 * stacked on lg_compat_cb: it takes over that patch's system state with
 * version state_version (1 or more: compatible; 0: refused, as upstream's
 * klp_is_patch_compatible() refuses a lower version), and its pre-patch
 * callback reports the previous patch's state (klp_get_prev_state()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>

#define LG_STATE_ID 0x5a

static int state_version = 2;
module_param(state_version, int, 0444);

static struct klp_patch patch;

static noinline int new_lg_target_b(void)
{
	return 7;
}

static int pre_patch(struct klp_object *obj)
{
	struct klp_state *state = klp_get_state(&patch, LG_STATE_ID);
	struct klp_state *prev = klp_get_prev_state(LG_STATE_ID);

	pr_info("%s: state version %u, previous version %d\n", __func__,
		state ? state->version : 0, prev ? (int)prev->version : -1);
	return 0;
}

static void post_unpatch(struct klp_object *obj)
{
	struct klp_state *prev = klp_get_prev_state(LG_STATE_ID);

	pr_info("%s: previous version %d\n", __func__, prev ? (int)prev->version : -1);
}

static struct klp_func funcs[] = {
	{ .old_name = "lg_target_b", .new_func = new_lg_target_b },
	{ }
};

static struct klp_object objs[] = {
	{
		.name = "lg_target",
		.funcs = funcs,
		.callbacks = {
			.pre_patch = pre_patch,
			.post_unpatch = post_unpatch,
		},
	}, { }
};

static struct klp_state states[] = {
	{ .id = LG_STATE_ID },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
	.states = states,
};

static int lg_compat_cb2_init(void)
{
	states[0].version = state_version;
	return klp_enable_patch(&patch);
}

static void lg_compat_cb2_exit(void)
{
}

module_init(lg_compat_cb2_init);
module_exit(lg_compat_cb2_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
