// SPDX-License-Identifier: GPL-2.0
/*
 * A module that does nothing, of the same shape as the two patch modules:
 * loading it under the benchmark's task load measures what module loading
 * alone costs, the floor under both systems' load -> complete latency.
 */
#include <linux/module.h>

static noinline int nop_target(int x)
{
	barrier();
	return x + 2;
}

static int __init lg_bench_nop_init(void)
{
	return nop_target(0) == 2 ? 0 : -EINVAL;
}

static void __exit lg_bench_nop_exit(void)
{
}

module_init(lg_bench_nop_init);
module_exit(lg_bench_nop_exit);
MODULE_LICENSE("GPL");
