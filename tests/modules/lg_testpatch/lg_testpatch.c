// SPDX-License-Identifier: GPL-2.0
/*
 * A livegraft test patch for lg_target: replaces lg_target_unit, _a, _b and
 * _block with versions that report LG_VERSION (2 here, 3 in lg_testpatch2),
 * so the target's bookkeeping shows which version ran in every unit.
 * Hand-written against include/livegraft.h; generated patches look alike.
 */
#include <linux/delay.h>
#include <linux/module.h>
#include "livegraft.h"
#include "lg_target.h"

#ifndef LG_VERSION
#define LG_VERSION 2
#define LG_NAME "lg_testpatch"
#endif

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

static noinline int new_block(void)
{
	int a = lg_target_a();
	int ret = lg_target_wait_release();

	if (ret)
		return ret;
	lg_target_record(LG_KIND_BLOCKING, LG_VERSION, a, lg_target_b());
	return 0;
}

static noinline void new_hold(void)
{
	/* Never runs in the tests: the holder sleeps in the old version. */
	lg_target_record(LG_KIND_KTHREAD, LG_VERSION, lg_target_a(), lg_target_b());
}

/*
 * Calls the original lg_target_wrap() (not a tail call: it adds to the
 * result, so the test sees that both ran). With a second patch stacked, the
 * original is still the original, not the version below.
 */
extern typeof(lg_target_wrap) orig_wrap;
LIVEGRAFT_ORIGINAL(orig_wrap);

static noinline int new_wrap(int x)
{
	return orig_wrap(x) + 100 * LG_VERSION;
}

static struct livegraft_func funcs[] = {
	{ .old_name = "lg_target_a", .new_func = new_a },
	{ .old_name = "lg_target_b", .new_func = new_b },
	{ .old_name = "lg_target_unit", .new_func = new_unit },
	{ .old_name = "lg_target_block", .new_func = new_block },
	{ .old_name = "lg_target_hold", .new_func = new_hold },
	{ .old_name = "lg_target_wrap", .new_func = new_wrap,
	  .orig_entry = LIVEGRAFT_ORIGINAL_ENTRY(orig_wrap) },
	{ },	/* room for the "bogus" entry */
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "lg_target", .funcs = funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT(LG_NAME, objs);

static int abi_version = LIVEGRAFT_ABI_VERSION;
module_param(abi_version, int, 0444);
MODULE_PARM_DESC(abi_version, "ABI version to claim (tests the handshake)");

static bool bogus;
module_param(bogus, bool, 0444);
MODULE_PARM_DESC(bogus, "Also patch a function that does not exist (tests validation)");

static int __init lg_testpatch_init(void)
{
	patch.abi_version = abi_version;
	if (bogus) {
		funcs[ARRAY_SIZE(funcs) - 2].old_name = "lg_target_does_not_exist";
		funcs[ARRAY_SIZE(funcs) - 2].new_func = new_a;
	}
	return livegraft_enable_patch(&patch);
}

static void __exit lg_testpatch_exit(void)
{
}

module_init(lg_testpatch_init);
module_exit(lg_testpatch_exit);
MODULE_DESCRIPTION("livegraft test patch for lg_target");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
