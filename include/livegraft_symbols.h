/* SPDX-License-Identifier: GPL-2.0 */
/*
 * livegraft patch-module ABI: kernel symbols that are not exported.
 *
 * A replacement often needs a `static` function or variable of the code it
 * patches. A patch module declares each one it needs, and its init function
 * has livegraft resolve them all before it enables the patch:
 *
 *	LIVEGRAFT_SYMBOL(int (int), helper);	(a static function)
 *	LIVEGRAFT_SYMBOL(int, counter);		(a static variable)
 *
 *	static struct livegraft_symbol syms[] = {
 *		LIVEGRAFT_SYMBOL_ENTRY("lg_target", helper, 0),
 *		LIVEGRAFT_SYMBOL_ENTRY(NULL, counter, 0),	(NULL: vmlinux)
 *		{ }
 *	};
 *
 *	static int new_f(int x) { return LIVEGRAFT_SYM(helper)(x) + LIVEGRAFT_SYM(counter); }
 *
 *	static int __init init(void)
 *	{
 *		int ret = livegraft_resolve_symbols(THIS_MODULE, syms);
 *
 *		return ret ? ret : livegraft_enable_patch(&patch);
 *	}
 *
 * livegraft_resolve_symbols() resolves every entry with the rules of
 * function targets (upstream livepatch's klp_find_object_symbol()): only the
 * named object is searched, sympos 0 requires a unique name, N selects the
 * Nth symbol of that name in kallsyms order. It prints one dmesg line per
 * entry that does not resolve (not found, ambiguous, no such position, or an
 * object that is not loaded), stores nothing unless every entry resolves,
 * and then returns 0 after storing each address in its slot; else a negative
 * errno, which the init function returns so that the module fails to load
 * with nothing registered.
 *
 * The slots must be data of the calling module (LIVEGRAFT_SYMBOL declares
 * them __ro_after_init: once init returns they cannot be overwritten). For a
 * symbol of a module, the patch module must depend on that module (it does
 * when it calls one of its exported symbols, as every patch of a module's
 * function does through modpost) so that it cannot be unloaded while the
 * addresses are in use.
 *
 * Independent of struct livegraft_patch: a module may resolve symbols and
 * then enable a patch of any ABI version.
 */
#ifndef _LIVEGRAFT_SYMBOLS_H
#define _LIVEGRAFT_SYMBOLS_H

#include <linux/types.h>

struct module;

/* One non-exported symbol. Arrays end with an entry whose name is NULL. */
struct livegraft_symbol {
	const char *object;	/* NULL or "vmlinux", or a module name */
	const char *name;	/* the symbol */
	unsigned long sympos;	/* 0: unique in the object; N: the Nth of that name */
	void **addr;		/* where its address is stored: data of the calling module */
};

/*
 * Resolve every symbol of syms (see above) for the module mod (THIS_MODULE).
 * Process context (a patch module's init). 0, or a negative errno with
 * nothing stored.
 */
int livegraft_resolve_symbols(struct module *mod, struct livegraft_symbol *syms);

#if defined(__KERNEL__) && !defined(__BINDGEN__) && !defined(__ASSEMBLY__)
#include <linux/cache.h>

/*
 * A pointer to the symbol `name` of C type `type` (a function type such as
 * `int (int)`, or an object type such as `int` or `struct foo`). The
 * kernel's own declaration of `name`, if a header has one, is not touched.
 */
#define LIVEGRAFT_SYMBOL(_type, _sym) \
	static __typeof__(_type) *__livegraft_sym_##_sym __ro_after_init

/* The symbol itself: LIVEGRAFT_SYM(f)(x) calls, LIVEGRAFT_SYM(v) reads. */
#define LIVEGRAFT_SYM(_sym) (*__livegraft_sym_##_sym)

/* Its table entry: object NULL (vmlinux) or a module name, and its sympos. */
#define LIVEGRAFT_SYMBOL_ENTRY(_object, _sym, _sympos) {		\
	.object = (_object),						\
	.name = #_sym,							\
	.sympos = (_sympos),						\
	.addr = (void **)&__livegraft_sym_##_sym,			\
}
#endif

#endif /* _LIVEGRAFT_SYMBOLS_H */
