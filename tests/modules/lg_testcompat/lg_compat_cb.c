// SPDX-License-Identifier: GPL-2.0
/*
 * A livepatch module in upstream's source form (scenarios 71, 73): it
 * patches cmdline_proc_show() in vmlinux, has callbacks on vmlinux and on
 * the lg_target module (an object without functions), and a system state.
 * pre_patch_ret makes its vmlinux pre-patch callback fail; fail_obj=1
 * makes the lg_target one fail instead (the vmlinux one succeeded, so its
 * post-unpatch callback runs on the cancel). hold=1 also patches
 * lg_target_hold(), so that lg_target's holder keeps the transition open
 * (reversal).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>
#include "lg_target.h"

#define LG_STATE_ID 0x5a

static int pre_patch_ret;
module_param(pre_patch_ret, int, 0644);
static int fail_obj;
module_param(fail_obj, int, 0644);
static bool hold;
module_param(hold, bool, 0444);

static struct klp_patch patch;

static int livepatch_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%s\n", "lg_compat_cb: this has been live patched");
	return 0;
}

static void info(const char *cb, struct klp_object *obj)
{
	if (obj->mod)
		pr_info("%s: %s patched=%d\n", cb, obj->mod->name, obj->patched);
	else
		pr_info("%s: vmlinux patched=%d\n", cb, obj->patched);
}

static int pre_patch(struct klp_object *obj)
{
	struct klp_state *state = klp_get_state(&patch, LG_STATE_ID);
	struct klp_state *prev = klp_get_prev_state(LG_STATE_ID);

	info(__func__, obj);
	pr_info("%s: state version %u, previous %s\n", __func__,
		state ? state->version : 0, prev ? "found" : "none");
	if (fail_obj == (obj->mod ? 1 : 0))
		return pre_patch_ret;
	return 0;
}

static void post_patch(struct klp_object *obj)
{
	info(__func__, obj);
}

static void pre_unpatch(struct klp_object *obj)
{
	info(__func__, obj);
}

static void post_unpatch(struct klp_object *obj)
{
	info(__func__, obj);
}

static struct klp_func funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = livepatch_cmdline_proc_show,
	}, { }
};

static struct klp_func no_funcs[] = {
	{ }
};

static noinline void new_lg_target_hold(void)
{
}

static struct klp_func hold_funcs[] = {
	{ .old_name = "lg_target_hold", .new_func = new_lg_target_hold },
	{ }
};

static struct klp_object objs[] = {
	{
		/* name being NULL means vmlinux */
		.funcs = funcs,
		.callbacks = {
			.pre_patch = pre_patch,
			.post_patch = post_patch,
			.pre_unpatch = pre_unpatch,
			.post_unpatch = post_unpatch,
		},
	}, {
		.name = "lg_target",
		.funcs = no_funcs,
		.callbacks = {
			.pre_patch = pre_patch,
			.post_patch = post_patch,
			.pre_unpatch = pre_unpatch,
			.post_unpatch = post_unpatch,
		},
	}, { }
};

static struct klp_state states[] = {
	{ .id = LG_STATE_ID, .version = 1 },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
	.states = states,
};

/* A reference to lg_target: it cannot be unloaded under the patch. */
static int (*const lg_target_ref)(void) __used = lg_target_a;

static int lg_compat_cb_init(void)
{
	if (hold)
		objs[1].funcs = hold_funcs;
	return klp_enable_patch(&patch);
}

static void lg_compat_cb_exit(void)
{
}

module_init(lg_compat_cb_init);
module_exit(lg_compat_cb_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
