// SPDX-License-Identifier: GPL-2.0
/*
 * A livegraft test patch (version 5) whose replacement of lg_target_tblock()
 * only tail-calls the original through its LIVEGRAFT_ORIGINAL stub: a task
 * that then sleeps in the original (until "release") has no frame of the
 * replacement on its stack, yet runs the rest of the replacement's work in
 * the patched universe, calling the patched lg_target_a() before the sleep
 * and lg_target_b() after it. Scenario 55 disables the patch meanwhile: the
 * original is affected code, so the sleeper must stay pending, not switch
 * to the unpatched universe and mix versions 5 and 1 in its unit.
 * tools/check-tailcall.sh checks that new_tblock really jumps.
 */
#include <linux/compiler.h>
#include <linux/module.h>
#include "livegraft.h"
#include "lg_target.h"

#define LG_VERSION 5

/* The original lg_target_tblock(): its code past the ftrace call site. */
extern typeof(lg_target_tblock) orig_tblock;
LIVEGRAFT_ORIGINAL(orig_tblock);

static noinline int new_tblock(void)
{
	return orig_tblock();
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

static struct livegraft_func funcs[] = {
	{ .old_name = "lg_target_tblock", .new_func = new_tblock,
	  .orig_entry = LIVEGRAFT_ORIGINAL_ENTRY(orig_tblock) },
	{ .old_name = "lg_target_a", .new_func = new_a },
	{ .old_name = "lg_target_b", .new_func = new_b },
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "lg_target", .funcs = funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_tailblock", objs);

static int __init lg_tailblock_init(void)
{
	return livegraft_enable_patch(&patch);
}

static void __exit lg_tailblock_exit(void)
{
}

module_init(lg_tailblock_init);
module_exit(lg_tailblock_exit);
MODULE_DESCRIPTION("livegraft test patch: a sleep in the original after a tail call");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
