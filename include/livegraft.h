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
 * The Rust mirror of these definitions is src/abi.rs; the two must change
 * together, and any change to a layout bumps LIVEGRAFT_ABI_VERSION.
 */
#ifndef _LIVEGRAFT_H
#define _LIVEGRAFT_H

#include <linux/types.h>

#define LIVEGRAFT_ABI_VERSION 1

struct module;

/* One patched function. Arrays of these end with an entry whose old_name is NULL. */
struct livegraft_func {
	const char *old_name;	/* symbol of the function to replace */
	unsigned long old_sympos; /* 0: the name is unique in the object; N: the Nth of that name */
	void *new_func;		/* the replacement, same prototype */
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
	__u32 flags;		/* LIVEGRAFT_F_*: must be 0 for now */
	__u32 reserved;
};

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

#endif /* _LIVEGRAFT_H */
