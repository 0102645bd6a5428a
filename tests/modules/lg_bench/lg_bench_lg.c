// SPDX-License-Identifier: GPL-2.0
/* livegraft's patch of lg_bench_target/lg_bench_hold: the same code as lg_bench_klp. */
#include <linux/module.h>
#include "livegraft.h"
#include "lg_bench.h"

static noinline int new_target(int x)
{
	barrier();
	return x + 2;
}

static noinline void new_hold(void)
{
}

static struct livegraft_func funcs[] = {
	{ .old_name = "lg_bench_target", .new_func = new_target },
	{ .old_name = "lg_bench_hold", .new_func = new_hold },
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "lg_bench", .funcs = funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_bench_lg", objs);

static int __init lg_bench_lg_init(void)
{
	return livegraft_enable_patch(&patch);
}

static void __exit lg_bench_lg_exit(void)
{
}

module_init(lg_bench_lg_init);
module_exit(lg_bench_lg_exit);
MODULE_LICENSE("GPL");
