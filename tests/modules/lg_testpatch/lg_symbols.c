// SPDX-License-Identifier: GPL-2.0
/*
 * A C patch whose replacement needs what a real fix needs: a `static`
 * function and a `static` variable of the file it patches. It declares them
 * with include/livegraft_symbols.h and has livegraft resolve them before it
 * enables the patch: lg_target_fix(x) (originally x + 1) becomes
 * lg_target_scale(x) + lg_target_factor + 1000, both non-exported in
 * lg_target.
 *
 * bad=missing adds a declaration of a symbol that does not exist,
 * bad=ambiguous one of a vmlinux name with several symbols (modalias_show,
 * as in scenario 46), bad=both both: init must fail with one message per
 * bad declaration and nothing registered.
 */
#include <linux/module.h>
#include <linux/string.h>
#include "livegraft.h"
#include "livegraft_symbols.h"
#include "lg_target.h"

LIVEGRAFT_SYMBOL(int (int), lg_target_scale);
LIVEGRAFT_SYMBOL(int, lg_target_factor);
LIVEGRAFT_SYMBOL(int (void), lg_target_nosuch);
LIVEGRAFT_SYMBOL(char, modalias_show);

static struct livegraft_symbol syms[] = {
	LIVEGRAFT_SYMBOL_ENTRY("lg_target", lg_target_scale, 0),
	LIVEGRAFT_SYMBOL_ENTRY("lg_target", lg_target_factor, 0),
	{ },	/* room for the bad declarations */
	{ },
	{ }
};

static noinline int new_fix(int x)
{
	return LIVEGRAFT_SYM(lg_target_scale)(x) + READ_ONCE(LIVEGRAFT_SYM(lg_target_factor)) + 1000;
}

static struct livegraft_func funcs[] = {
	{ .old_name = "lg_target_fix", .new_func = new_fix },
	{ }
};

static struct livegraft_object objs[] = {
	{ .name = "lg_target", .funcs = funcs },
	{ }
};

/*
 * The patch module must depend on lg_target (its addresses are in use for
 * as long as the patch is loaded): a reference to one of its exports makes
 * modpost record the dependency.
 */
static __used void *lg_target_dep = lg_target_fix;

static struct livegraft_patch patch = LIVEGRAFT_PATCH_INIT("lg_symbols", objs);

static char *bad = "";
module_param(bad, charp, 0444);
MODULE_PARM_DESC(bad, "missing, ambiguous or both: add bad declarations (tests the refusal)");

static int __init lg_symbols_init(void)
{
	struct livegraft_symbol missing = LIVEGRAFT_SYMBOL_ENTRY("lg_target", lg_target_nosuch, 0);
	struct livegraft_symbol ambiguous = LIVEGRAFT_SYMBOL_ENTRY(NULL, modalias_show, 0);
	int n = 2, ret;

	pr_info("lg_symbols: resolving\n");
	if (!strcmp(bad, "missing") || !strcmp(bad, "both"))
		syms[n++] = missing;
	if (!strcmp(bad, "ambiguous") || !strcmp(bad, "both"))
		syms[n++] = ambiguous;
	ret = livegraft_resolve_symbols(THIS_MODULE, syms);
	if (ret)
		return ret;
	/* Every declared slot is filled once resolution succeeded. */
	if (!__livegraft_sym_lg_target_scale || !__livegraft_sym_lg_target_factor)
		return -EFAULT;
	return livegraft_enable_patch(&patch);
}

static void __exit lg_symbols_exit(void)
{
}

module_init(lg_symbols_init);
module_exit(lg_symbols_exit);
MODULE_DESCRIPTION("livegraft test patch: non-exported symbols of lg_target");
MODULE_LICENSE("GPL");
MODULE_INFO(livegraft, "Y");
