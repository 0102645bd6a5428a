/* SPDX-License-Identifier: GPL-2.0 */
/*
 * livegraft patch-module ABI.
 *
 * A patch module describes its patch with these structures (static data in
 * the patch module) and calls livegraft_enable_patch() from its init
 * function. livegraft.ko then owns the patch until it is disabled and the
 * unpatching transition completes; only then may the patch module be
 * removed, and its exit function has nothing to undo.
 *
 * The ABI is versioned: a patch module records the LIVEGRAFT_ABI_VERSION it
 * was built against in livegraft_patch.abi_version, and a core built for
 * another ABI refuses it with -EPROTO and a dmesg line naming both versions.
 * livegraft_patch.size is sizeof(struct livegraft_patch) as the patch module
 * saw it, a second guard against mismatched headers.
 *
 * The Rust mirror of these definitions is include/livegraft_abi.rs; the two must change
 * together, and any change to a layout bumps LIVEGRAFT_ABI_VERSION.
 */
#ifndef _LIVEGRAFT_H
#define _LIVEGRAFT_H

#include <linux/types.h>

/*
 * 2: struct livegraft_func gained orig_entry, and a replacement's call of the
 * function it replaces is an ordinary call (it runs the replacement again);
 * the original is reached through LIVEGRAFT_ORIGINAL() only.
 */
#define LIVEGRAFT_ABI_VERSION 2

struct module;

/* One patched function. Arrays of these end with an entry whose old_name is NULL. */
struct livegraft_func {
	const char *old_name;	/* symbol of the function to replace */
	unsigned long old_sympos; /* 0: the name is unique in the object; N: the Nth of that name */
	void *new_func;		/* the replacement, same prototype */
	/*
	 * NULL, or LIVEGRAFT_ORIGINAL_ENTRY(name) of a LIVEGRAFT_ORIGINAL(name)
	 * of this patch module: livegraft_enable_patch() stores there the
	 * address of the original function's code just past its ftrace call
	 * site, before the replacement can run.
	 */
	unsigned long *orig_entry;
};

/* The functions of one object: vmlinux (name NULL or "vmlinux") or a module. */
struct livegraft_object {
	const char *name;
	struct livegraft_func *funcs;
};

struct livegraft_patch {
	__u32 abi_version;	/* LIVEGRAFT_ABI_VERSION */
	__u32 size;		/* sizeof(struct livegraft_patch) */
	const char *name;	/* sysfs name: /sys/kernel/livegraft/<name>/ */
	struct module *mod;	/* THIS_MODULE of the patch module */
	struct livegraft_object *objs; /* ends with an entry whose funcs is NULL */
	__u32 flags;		/* LIVEGRAFT_F_*; other bits must be 0 */
	__u32 reserved;
};

/*
 * flags: a cumulative patch (upstream's klp_patch.replace): it replaces every
 * patch enabled before it in one transition; the functions only those
 * patches replaced go back to their original code (Documentation/design.rst,
 * "Atomic replace").
 */
#define LIVEGRAFT_F_REPLACE	(1U << 0)

#define LIVEGRAFT_PATCH_INIT(_name, _objs) {			\
	.abi_version = LIVEGRAFT_ABI_VERSION,			\
	.size = sizeof(struct livegraft_patch),			\
	.name = (_name),					\
	.mod = THIS_MODULE,					\
	.objs = (_objs),					\
}

/*
 * Register the patch and start its patching transition. Returns 0 once the
 * transition has started (it completes asynchronously: watch dmesg or
 * /sys/kernel/livegraft/<name>/transition), or a negative errno, in which
 * case nothing was changed.
 */
int livegraft_enable_patch(struct livegraft_patch *patch);

#if defined(__KERNEL__) && !defined(__BINDGEN__) && !defined(__ASSEMBLY__)
#ifndef CONFIG_X86_64
#error "livegraft supports x86_64 only"
#endif
#include <linux/objtool.h>
#include <asm/ibt.h>
#include <asm/linkage.h>
#include <asm/nospec-branch.h>
#include <asm/unwind_hints.h>

/*
 * LIVEGRAFT_ORIGINAL(name) defines a function `name` that runs the original
 * code of a function this patch replaces, and LIVEGRAFT_ORIGINAL_ENTRY(name)
 * is what goes into that function's orig_entry. Declare its prototype, the
 * replaced function's, yourself:
 *
 *	extern typeof(lg_target_wrap) orig_wrap;	(or: int orig_wrap(int x);)
 *	LIVEGRAFT_ORIGINAL(orig_wrap);
 *	static int new_wrap(int x) { return x < 0 ? 0 : orig_wrap(x); }
 *	... { .old_name = "lg_target_wrap", .new_func = new_wrap,
 *	      .orig_entry = LIVEGRAFT_ORIGINAL_ENTRY(orig_wrap) },
 *
 * orig_wrap() enters the original just past its ftrace call site, so no
 * livegraft (or other ftrace) redirection sees the call: it runs the
 * original whoever calls it and however (a tail call compiles to a jump,
 * which is fine), and with stacked patches it is the original, not the
 * version below. A call of lg_target_wrap() itself is a call of the patched
 * function: it runs the version the calling task is in, this replacement
 * included (recursion), as under upstream livepatch.
 *
 * The stub loads the entry and returns into it the way the kernel's
 * return_to_handler does (an intra-function call whose return address is
 * overwritten, so the return stack stays balanced, and no indirect branch
 * that IBT would check); RET goes through the return thunk under
 * MITIGATION_RETHUNK, the call it makes is accounted under call depth
 * tracking, and it starts with ENDBR under IBT in case its address is
 * taken. It is called directly (no CFI type check applies).
 */
#define LIVEGRAFT_ORIGINAL(name)						\
	extern unsigned long __livegraft_entry_##name;				\
	unsigned long __livegraft_entry_##name;					\
	asm(".pushsection .text, \"ax\", @progbits\n\t"			\
	    ASM_FUNC_ALIGN "\n\t"						\
	    ".globl " #name "\n\t"						\
	    ".type " #name ", @function\n"					\
	    #name ":\n\t"							\
	    ASM_ENDBR								\
	    "movq __livegraft_entry_" #name "(%rip), %r11\n\t"		\
	    CALL_DEPTH_ACCOUNT "\n\t"						\
	    "999:\n\t"								\
	    ".pushsection .discard.intra_function_calls\n\t"			\
	    ".long 999b\n\t"							\
	    ".popsection\n\t"							\
	    "call 998f\n\t"							\
	    "int3\n"								\
	    "998:\tmovq %r11, (%rsp)\n\t"					\
	    UNWIND_HINT_FUNC							\
	    ASM_RET								\
	    ".size " #name ", .-" #name "\n\t"					\
	    ".popsection")

#define LIVEGRAFT_ORIGINAL_ENTRY(name) (&__livegraft_entry_##name)
#endif

#if defined(__KERNEL__) && defined(MODULE) && !defined(__BINDGEN__) && !defined(__ASSEMBLY__)
#include <linux/module.h>
#include <linux/stringify.h>
/*
 * The ABI a module was built for, readable from the .ko file alone, so that
 * `livegraft load` and `livegraft info` can refuse or describe a patch
 * module before the kernel sees it (modinfo -F livegraft_abi).
 */
MODULE_INFO(livegraft_abi, __stringify(LIVEGRAFT_ABI_VERSION));
#endif

#endif /* _LIVEGRAFT_H */
