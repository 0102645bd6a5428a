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
 * 3: upstream livepatch's features under upstream's field names (the
 * compatibility header include/compat/linux/livepatch.h maps klp_* onto
 * these): per-object callbacks and the engine-filled mod and patched of
 * struct livegraft_object; struct livegraft_state and the states and
 * replace of struct livegraft_patch; a NULL name is the patch module's
 * name; an object may have no functions (callbacks only).
 */
#define LIVEGRAFT_ABI_VERSION 3

struct module;
struct livegraft_object;

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

/*
 * Per-object callbacks, upstream's semantics and order
 * (Documentation/livepatch/callbacks.rst): pre_patch before the object's
 * functions are patched (a non-zero return aborts the enable: nothing stays
 * registered), post_patch once the patching transition completed,
 * pre_unpatch before the unpatching transition starts, post_unpatch once it
 * completed (only if pre_patch ran and succeeded). They run in process
 * context with livegraft's registry locked: they may sleep, and call
 * livegraft_get_state()/livegraft_get_prev_state() and the shadow API, but
 * must not enable or disable patches.
 */
struct livegraft_callbacks {
	int (*pre_patch)(struct livegraft_object *obj);
	void (*post_patch)(struct livegraft_object *obj);
	void (*pre_unpatch)(struct livegraft_object *obj);
	void (*post_unpatch)(struct livegraft_object *obj);
	bool post_unpatch_enabled;	/* the engine's: pre_patch succeeded */
};

/*
 * The functions and callbacks of one object: vmlinux (name NULL or
 * "vmlinux") or a module. Arrays of these end with an entry whose name and
 * funcs are both NULL; every other entry needs a funcs array (which may be
 * empty: just the terminating entry).
 */
struct livegraft_object {
	const char *name;
	struct livegraft_func *funcs;
	struct livegraft_callbacks callbacks;
	/* Filled by livegraft: */
	struct module *mod;	/* the module of a module object, once loaded */
	bool patched;		/* its functions are on their version stacks */
};

/*
 * A system state a patch introduces or takes over
 * (Documentation/livepatch/system-state.rst). Arrays end with id 0.
 */
struct livegraft_state {
	unsigned long id;
	unsigned int version;
	void *data;		/* the patch's own */
};

struct livegraft_patch {
	__u32 abi_version;	/* LIVEGRAFT_ABI_VERSION */
	__u32 size;		/* sizeof(struct livegraft_patch) */
	const char *name;	/* sysfs name /sys/kernel/livegraft/<name>/; NULL: the module's name */
	struct module *mod;	/* THIS_MODULE of the patch module */
	struct livegraft_object *objs; /* see struct livegraft_object */
	__u32 flags;		/* LIVEGRAFT_F_*; other bits must be 0 */
	__u32 reserved;		/* 0 */
	struct livegraft_state *states; /* NULL, or an array ending with id 0 */
	bool replace;		/* same as LIVEGRAFT_F_REPLACE */
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

/*
 * System states: the state of this id in the patch (NULL if none), and the
 * one of the newest earlier patch that has it, during a transition (for
 * callbacks; upstream's klp_get_state()/klp_get_prev_state()).
 */
struct livegraft_state *livegraft_get_state(struct livegraft_patch *patch, unsigned long id);
struct livegraft_state *livegraft_get_prev_state(unsigned long id);

/*
 * Shadow variables (Documentation/livepatch/shadow-vars.rst), upstream's
 * klp_shadow_* semantics: data attached to any object by <obj, id>, kept in
 * livegraft.ko, so they outlive the patch module that allocated them. The
 * constructor runs under the table's spinlock with interrupts disabled.
 */
typedef int (*livegraft_shadow_ctor_t)(void *obj, void *shadow_data, void *ctor_data);
typedef void (*livegraft_shadow_dtor_t)(void *obj, void *shadow_data);

void *livegraft_shadow_get(void *obj, unsigned long id);
void *livegraft_shadow_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
			     livegraft_shadow_ctor_t ctor, void *ctor_data);
void *livegraft_shadow_get_or_alloc(void *obj, unsigned long id, size_t size, gfp_t gfp_flags,
				    livegraft_shadow_ctor_t ctor, void *ctor_data);
void livegraft_shadow_free(void *obj, unsigned long id, livegraft_shadow_dtor_t dtor);
void livegraft_shadow_free_all(unsigned long id, livegraft_shadow_dtor_t dtor);

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
