// SPDX-License-Identifier: GPL-2.0
/*
 * A livegraft test patch whose replacement of lg_target_wrap() tail-calls
 * the original: with ORC (no frame pointers) the kernel compiles
 * `return orig(x);` to a jump, so the original is entered with the
 * replacement's caller as return address. tools/check-tailcall.sh checks
 * that the object code really jumps there (scenario 30 runs it on the host).
 *
 *   x < 0      200, the replacement's own result (the original gives x + 1)
 *   x >= 1000  lg_target_wrap(-1) + 1 called by symbol: that is a call of
 *              the patched function like any other, so it runs the
 *              replacement again (201), as under upstream livepatch
 *   otherwise  the original, by a tail call of orig_wrap (LIVEGRAFT_ORIGINAL):
 *              x + 1
 *
 * It also replaces lg_target_hold(), so that a kthread sleeping in the old
 * one holds this patch's transition open (the per-task decision path).
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include "livegraft.h"
#include "lg_target.h"

/* The original lg_target_wrap(): its code past the ftrace call site. */
extern typeof(lg_target_wrap) orig_wrap;
LIVEGRAFT_ORIGINAL(orig_wrap);

static noinline int new_tail_wrap(int x)
{
	if (x < 0)
		return 200;
	if (x >= 1000)
		return lg_target_wrap(-1) + 1;
	return orig_wrap(x);
}

static noinline void new_tail_hold(void)
{
	/* Never runs in the tests: the holder sleeps in the old version. */
	lg_target_record(LG_KIND_KTHREAD, 5, lg_target_a(), lg_target_b());
}

/* Same as the original: busy until @end without a safe point. */
static noinline void new_tail_spin(unsigned long end)
{
	while (time_before(jiffies, end)) {
		mdelay(5);
		yield();
	}
}

static struct livegraft_func funcs[] = {
	{ .old_name = "lg_target_wrap", .new_func = new_tail_wrap,
	  .orig_entry = LIVEGRAFT_ORIGINAL_ENTRY(orig_wrap) },
	{ .old_name = "lg_target_hold", .new_func = new_tail_hold },
	{ .old_name = "lg_target_spin", .new_func = new_tail_spin },
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "lg_target", .funcs = funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_tailpatch", objs);

static int __init lg_tailpatch_init(void)
{
	return livegraft_enable_patch(&patch);
}

static void __exit lg_tailpatch_exit(void)
{
}

module_init(lg_tailpatch_init);
module_exit(lg_tailpatch_exit);
MODULE_DESCRIPTION("livegraft test patch: a replacement that tail-calls the original");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
