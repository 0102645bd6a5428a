// SPDX-License-Identifier: GPL-2.0
/* Upstream livepatch's patch of lg_bench_target/lg_bench_hold: the baseline. */
#include <linux/livepatch.h>
#include <linux/module.h>
#include "lg_bench.h"

static noinline int new_target(int x)
{
	barrier();
	return x + 2;
}

static noinline void new_hold(void)
{
}

static struct klp_func funcs[] = {
	{ .old_name = "lg_bench_target", .new_func = new_target },
	{ .old_name = "lg_bench_hold", .new_func = new_hold },
	{ }
};

static struct klp_object objs[] = {
	{ .name = "lg_bench", .funcs = funcs },
	{ }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int __init klp_bench_init(void)
{
	return klp_enable_patch(&patch);
}

static void __exit klp_bench_exit(void)
{
}

module_init(klp_bench_init);
module_exit(klp_bench_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
