// SPDX-License-Identifier: GPL-2.0
/*
 * lg_sympos: a livegraft test patch of one function named by its object,
 * name and symbol position, all module parameters:
 *
 *   insmod lg_sympos.ko [obj=lg_dup] [func=lg_dup_value] [sympos=N] [kind=int|show]
 *
 * kind=int replaces an `int f(void)` with one returning 100 + sympos;
 * kind=show replaces a sysfs show callback `ssize_t f(x, attr, char *buf)`
 * with one printing "lg_sympos <sympos>". obj=vmlinux targets the kernel.
 * The module depends on lg_dup (it uses an lg_dup export), so a target in
 * lg_dup cannot be unloaded under the patch.
 */
#include <linux/module.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include "livegraft.h"
#include "lg_dup.h"

static char *obj = "lg_dup";
module_param(obj, charp, 0444);
MODULE_PARM_DESC(obj, "object of the target: vmlinux or a module name");

static char *func = "lg_dup_value";
module_param(func, charp, 0444);
MODULE_PARM_DESC(func, "name of the target function");

static unsigned long sympos;
module_param(sympos, ulong, 0444);
MODULE_PARM_DESC(sympos, "old_sympos of the target (0: the name must be unique)");

static char *kind = "int";
module_param(kind, charp, 0444);
MODULE_PARM_DESC(kind, "prototype of the target: int (int f(void)) or show (a sysfs show callback)");

static noinline int new_int(void)
{
	barrier();
	return 100 + (int)READ_ONCE(sympos);
}

static noinline ssize_t new_show(void *owner, void *attr, char *buf)
{
	return sysfs_emit(buf, "lg_sympos %lu\n", READ_ONCE(sympos));
}

static struct livegraft_func funcs[] = {
	{ },
	{ }
};

static struct livegraft_object objs[] = {
	{ .funcs = funcs },
	{ }
};

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_sympos", objs);

static int __init lg_sympos_init(void)
{
	if (!strcmp(kind, "int"))
		funcs[0].new_func = new_int;
	else if (!strcmp(kind, "show"))
		funcs[0].new_func = new_show;
	else
		return -EINVAL;
	funcs[0].old_name = func;
	funcs[0].old_sympos = sympos;
	objs[0].name = obj;
	pr_info("lg_sympos: patching %s:%s,%lu (%s)\n", obj, func, sympos, kind);
	/* The dependency on lg_dup, and a check that it answers. */
	if (lg_dup_a_call() <= 0)
		return -ENODEV;
	return livegraft_enable_patch(&patch);
}

static void __exit lg_sympos_exit(void)
{
}

module_init(lg_sympos_init);
module_exit(lg_sympos_exit);
MODULE_DESCRIPTION("livegraft test patch: one function by object, name and sympos");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
