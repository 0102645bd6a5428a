/* SPDX-License-Identifier: GPL-2.0 */
/*
 * livegraft's <linux/livepatch.h>: upstream livepatch's source interface
 * (struct klp_patch/klp_object/klp_func/klp_callbacks/klp_state,
 * klp_enable_patch(), the klp_shadow_* API, klp_get_state() and
 * klp_get_prev_state()) mapped onto livegraft's native ABI
 * (include/livegraft.h), so that an existing livepatch module builds,
 * unmodified, into a livegraft patch module. Build it with one Kbuild line
 * (Documentation/compat.rst):
 *
 *	NOSTDINC_FLAGS += -I<livegraft>/include/compat
 *
 * (NOSTDINC_FLAGS precedes LINUXINCLUDE, so this header is found first) and
 * KBUILD_EXTRA_SYMBOLS=<livegraft>/Module.symvers on the make command line.
 *
 * Every name here binds to a livegraft export under a livegraft name, never
 * to the kernel's own klp_* functions: on a kernel with CONFIG_LIVEPATCH the
 * module is driven by livegraft, not by upstream livepatch, and a kernel
 * without it loads the module as well. The kernel's own header is included
 * first (other kernel headers include it for klp_update_patch_state() and
 * friends), then the names are redefined.
 */
#ifndef _LIVEGRAFT_COMPAT_LINUX_LIVEPATCH_H
#define _LIVEGRAFT_COMPAT_LINUX_LIVEPATCH_H

#include_next <linux/livepatch.h>
#include <linux/module.h>
#include <linux/errno.h>
#include "../../livegraft.h"

#define klp_func		livegraft_func
#define klp_object		livegraft_object
#define klp_patch		livegraft_patch
#define klp_callbacks		livegraft_callbacks
#define klp_state		livegraft_state
#define klp_shadow_ctor_t	livegraft_shadow_ctor_t
#define klp_shadow_dtor_t	livegraft_shadow_dtor_t

#define klp_shadow_get		livegraft_shadow_get
#define klp_shadow_alloc	livegraft_shadow_alloc
#define klp_shadow_get_or_alloc	livegraft_shadow_get_or_alloc
#define klp_shadow_free		livegraft_shadow_free
#define klp_shadow_free_all	livegraft_shadow_free_all
#define klp_get_state		livegraft_get_state
#define klp_get_prev_state	livegraft_get_prev_state

/*
 * klp_enable_patch(): fills what upstream's patch descriptor does not have
 * (ABI version and size), leaves the name NULL (the patch is named after
 * its module, as upstream's) and turns .replace into LIVEGRAFT_F_REPLACE.
 */
static inline int livegraft_compat_enable_patch(struct livegraft_patch *patch)
{
	if (!patch)
		return -EINVAL;
	patch->abi_version = LIVEGRAFT_ABI_VERSION;
	patch->size = sizeof(*patch);
	if (patch->replace)
		patch->flags |= LIVEGRAFT_F_REPLACE;
	return livegraft_enable_patch(patch);
}
#define klp_enable_patch	livegraft_compat_enable_patch

/* The iterators over the static arrays (the only ones a patch module has). */
#undef klp_for_each_object_static
#define klp_for_each_object_static(patch, obj) \
	for (obj = (patch)->objs; (obj)->funcs || (obj)->name; (obj)++)
#undef klp_for_each_func_static
#define klp_for_each_func_static(obj, func) \
	for (func = (obj)->funcs; func->old_name; func++)
#undef klp_for_each_state
#define klp_for_each_state(patch, state) \
	for (state = (patch)->states; state && state->id; state++)

/*
 * MODULE_INFO(livepatch, "Y") must not reach .modinfo: a kernel without
 * CONFIG_LIVEPATCH refuses such a module ("is a livepatch module, but
 * livepatch support is disabled"), and one with it would mark it as
 * upstream's. That one tag becomes livegraft=Y (modinfo shows
 * "livegraft: Y"); every other tag, MODULE_LICENSE() & co included, is
 * left as is. The tag is recognised by token pasting (the probe trick of
 * the kernel's IS_ENABLED()).
 */
#define __LG_MODINFO_PROBE_livepatch	0,
#define __lg_modinfo_take_second(ignored, val, ...) val
#define __lg_modinfo_is_lp(tag)		__lg_modinfo_is_lp1(__LG_MODINFO_PROBE_##tag)
#define __lg_modinfo_is_lp1(probe)	__lg_modinfo_is_lp2(probe 1, 0)
#define __lg_modinfo_is_lp2(...)	__lg_modinfo_take_second(__VA_ARGS__)
#define __lg_modinfo_cat(a, b)		__lg_modinfo_cat1(a, b)
#define __lg_modinfo_cat1(a, b)		a##b
#define __lg_modinfo_0(tag, info)	__MODULE_INFO(tag, tag, info)
#define __lg_modinfo_1(tag, info)	__MODULE_INFO(livegraft, livegraft, info)
#undef MODULE_INFO
#define MODULE_INFO(tag, info) \
	__lg_modinfo_cat(__lg_modinfo_, __lg_modinfo_is_lp(tag))(tag, info)

#endif /* _LIVEGRAFT_COMPAT_LINUX_LIVEPATCH_H */
