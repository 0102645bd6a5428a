// SPDX-License-Identifier: GPL-2.0

//! Per-object callbacks (`struct livegraft_callbacks`, upstream's
//! `klp_callbacks`; Documentation/livepatch/callbacks.rst), with upstream's
//! semantics and order (kernel/livepatch/core.h, core.c, transition.c):
//!
//! * enable: "enabling patch", "initializing patching transition", then
//!   `pre_patch` of each loaded object in array order; the first failure
//!   stops there ("pre-patch callback failed for object '<o>'"), and the
//!   enable is cancelled: `post_unpatch` of the objects whose `pre_patch`
//!   succeeded, nothing stays registered, the error goes back to the
//!   module loader ([`pre_patch_all`], [`cancel`]);
//! * the end of a transition by its final direction: `post_patch` of every
//!   loaded object, or `post_unpatch` of those whose `pre_patch` succeeded
//!   ([`complete`]); a reversed transition gets the callbacks of the
//!   direction it ends in, and no `pre_unpatch` (that runs only when an
//!   enabled patch is disabled);
//! * disable: "initializing unpatching transition", then `pre_unpatch` of
//!   every patched object ([`pre_unpatch_all`]), then "starting ...".
//!
//! Per-object entry points, for an object that appears after the enable
//! (a module loaded later: `objects.rs`'s module-coming/going code), each for
//! one object of a registered patch, called with the registry mutex held:
//! [`pre_patch_object`] (before the object is patched; its non-zero return
//! must refuse the module: upstream's "pre-patch callback failed for
//! object"), [`post_patch_object`] (once it is patched), [`pre_unpatch_object`]
//! and [`post_unpatch_object`] (around its reverting when the module goes),
//! with [`set_object_module`] and [`set_object_patched`] for its engine
//! fields. upstream's order for a module that comes
//! (`klp_module_coming()`): "applying patch '<p>' to loading module '<m>'",
//! `pre_patch` (failure: "pre-patch callback failed for object '<m>'", the
//! module is refused), patch it, `post_patch` unless the patch is the one
//! in transition (its completion runs it then); a failed patching runs
//! `post_unpatch`. For a module that goes
//! (`klp_cleanup_module_patches_limited()`): `pre_unpatch` unless the patch
//! is the one in transition, "reverting patch '<p>' on unloading module
//! '<m>'", revert, `post_unpatch` (gated by `post_unpatch_enabled` as
//! always).
//!
//! Callbacks run in process context with the registry mutex held, on the
//! thread that holds it: the enabling module's init, the `enabled` writer,
//! or livegraft's transition worker (completion). They may sleep and call
//! `livegraft_get_prev_state()` and the shadow API.

use crate::logic::compat;
use crate::sys;
use kernel::prelude::*;
use kernel::str::CStr;

/// The objects of a patch descriptor (an array ending with an entry whose
/// name and funcs are both null).
#[derive(Clone, Copy)]
pub(crate) struct Objects(pub(crate) *mut sys::livegraft_object);

impl Objects {
    /// Every object, in array order.
    fn iter(self) -> impl Iterator<Item = *mut sys::livegraft_object> {
        let mut o = self.0;
        core::iter::from_fn(move || {
            // SAFETY: the array was validated by `core::parse` and lives in
            // the pinned patch module; it ends with a null name and funcs.
            if o.is_null() || unsafe { (*o).name.is_null() && (*o).funcs.is_null() } {
                return None;
            }
            let cur = o;
            // SAFETY: not past the terminating entry.
            o = unsafe { o.add(1) };
            Some(cur)
        })
    }

    /// The module object named `name`.
    pub(crate) fn find(self, name: &CStr) -> Option<*mut sys::livegraft_object> {
        self.iter().find(|&o| !is_vmlinux(o) && object_name(o).as_bytes() == name.as_bytes())
    }

    /// The objects whose code is present: vmlinux and loaded modules
    /// (upstream's `klp_is_object_loaded()`).
    fn loaded(self) -> impl Iterator<Item = *mut sys::livegraft_object> {
        self.iter().filter(|&o| is_loaded(o))
    }

    /// Sets `<object>/patched` (upstream's `obj->patched`) of the loaded objects.
    pub(crate) fn set_patched(self, patched: bool) {
        for o in self.loaded() {
            // SAFETY: writable data of the pinned patch module (the ABI makes
            // it the engine's field); the registry mutex is held.
            unsafe { (*o).patched = patched };
        }
    }
}

/// For an object that appears after the enable (a module loaded later):
/// records its module (`obj->mod`, which makes it a loaded object for the
/// callbacks) before [`pre_patch_object`], or clears it once the module
/// went (after [`post_unpatch_object`]).
///
/// # Safety
///
/// `o` is an object of a registered patch; the registry mutex is held.
pub(crate) unsafe fn set_object_module(o: *mut sys::livegraft_object, module: *mut sys::module) {
    // SAFETY: the engine's field of the pinned patch module's object.
    unsafe { (*o).mod_ = module };
}

/// `obj->patched` of one object (`<object>/patched`), for an object patched
/// or reverted on its own (a module loaded later, or going).
///
/// # Safety
///
/// As [`set_object_module`].
pub(crate) unsafe fn set_object_patched(o: *mut sys::livegraft_object, patched: bool) {
    // SAFETY: the engine's field of the pinned patch module's object.
    unsafe { (*o).patched = patched };
}

fn is_vmlinux(o: *mut sys::livegraft_object) -> bool {
    // SAFETY: `o` is a validated object; its name is null or a C string.
    let name = unsafe { (*o).name };
    // SAFETY: as above.
    name.is_null() || unsafe { CStr::from_char_ptr(name) }.as_bytes() == b"vmlinux"
}

fn is_loaded(o: *mut sys::livegraft_object) -> bool {
    // SAFETY: `o` is a validated object of a pinned patch module.
    is_vmlinux(o) || !unsafe { (*o).mod_ }.is_null()
}

/// The object's name in messages ("vmlinux" for vmlinux).
pub(crate) fn object_name(o: *mut sys::livegraft_object) -> &'static CStr {
    if is_vmlinux(o) {
        return kernel::c_str!("vmlinux");
    }
    // SAFETY: a module object has a NUL-terminated name in the pinned patch
    // module, which outlives every use of the result here.
    unsafe { CStr::from_char_ptr((*o).name) }
}

/// `klp_pre_patch_callback()`: runs `pre_patch` (if any) and records whether
/// `post_unpatch` may run later. Returns its result.
///
/// # Safety
///
/// `o` is a loaded object of a patch registered with livegraft; the
/// registry mutex is held.
pub(crate) unsafe fn pre_patch_object(o: *mut sys::livegraft_object) -> i32 {
    // SAFETY: per the function's contract.
    let ret = match unsafe { (*o).callbacks.pre_patch } {
        // SAFETY: the patch module's callback, with upstream's argument.
        Some(f) => unsafe { f(o) },
        None => 0,
    };
    // SAFETY: the engine's field of the pinned patch module's object.
    unsafe { (*o).callbacks.post_unpatch_enabled = compat::post_unpatch_enabled_after_pre_patch(ret) };
    ret
}

/// `klp_post_patch_callback()`.
///
/// # Safety
///
/// As [`pre_patch_object`].
pub(crate) unsafe fn post_patch_object(o: *mut sys::livegraft_object) {
    // SAFETY: per the function's contract.
    if let Some(f) = unsafe { (*o).callbacks.post_patch } {
        // SAFETY: the patch module's callback, with upstream's argument.
        unsafe { f(o) };
    }
}

/// `klp_pre_unpatch_callback()`.
///
/// # Safety
///
/// As [`pre_patch_object`].
pub(crate) unsafe fn pre_unpatch_object(o: *mut sys::livegraft_object) {
    // SAFETY: per the function's contract.
    if let Some(f) = unsafe { (*o).callbacks.pre_unpatch } {
        // SAFETY: the patch module's callback, with upstream's argument.
        unsafe { f(o) };
    }
}

/// `klp_post_unpatch_callback()`: only after a successful `pre_patch`, once.
///
/// # Safety
///
/// As [`pre_patch_object`].
pub(crate) unsafe fn post_unpatch_object(o: *mut sys::livegraft_object) {
    // SAFETY: per the function's contract.
    let cb = unsafe { &mut (*o).callbacks };
    if compat::runs_post_unpatch(cb.post_unpatch_enabled) {
        if let Some(f) = cb.post_unpatch {
            // SAFETY: the patch module's callback, with upstream's argument.
            unsafe { f(o) };
        }
    }
    cb.post_unpatch_enabled = false;
}

/// The enable's `pre_patch` callbacks, in array order, stopping at the
/// first failure, which is reported as upstream reports it; the caller then
/// cancels with [`cancel`].
pub(crate) fn pre_patch_all(objs: Objects) -> core::result::Result<(), i32> {
    let mut last: Option<(*mut sys::livegraft_object, i32)> = None;
    // The iterator is lazy: `pre_patch_run` (host-tested) stops calling
    // callbacks at the first failure.
    let (_, failed) = compat::pre_patch_run(objs.loaded().map(|o| {
        // SAFETY: a loaded object of the patch being enabled, registry held.
        let ret = unsafe { pre_patch_object(o) };
        last = Some((o, ret));
        ret
    }));
    match (failed, last) {
        (Some(_), Some((o, ret))) => {
            pr_warn!("pre-patch callback failed for object '{}'\n", object_name(o));
            Err(ret)
        }
        _ => Ok(()),
    }
}

/// The disable's `pre_unpatch` callbacks: every patched object.
pub(crate) fn pre_unpatch_all(objs: Objects) {
    for o in objs.loaded() {
        // SAFETY: a loaded object of a registered patch.
        if unsafe { (*o).patched } {
            // SAFETY: as above, registry held.
            unsafe { pre_unpatch_object(o) };
        }
    }
}

/// The callbacks at the end of a transition that ends in `direction`
/// (upstream's `klp_complete_transition()`), before "... complete".
pub(crate) fn complete(objs: Objects, end: compat::Completion) {
    for o in objs.loaded() {
        match end {
            // SAFETY: a loaded object of a registered patch, registry held.
            compat::Completion::PostPatch => unsafe { post_patch_object(o) },
            // SAFETY: as above.
            compat::Completion::PostUnpatch => unsafe { post_unpatch_object(o) },
        }
    }
}

/// Cancels an enable that failed before its transition started (a
/// pre-patch callback, or the setup): upstream's error path of
/// `__klp_enable_patch()` and `klp_cancel_transition()`, messages included.
/// Nothing is patched; the caller unregisters the patch.
pub(crate) fn cancel(name: &dyn core::fmt::Display, objs: Objects) {
    pr_warn!("failed to enable patch '{}'\n", name);
    pr_info!("'{}': canceling patching transition, going to unpatch\n", name);
    pr_info!("'{}': completing unpatching transition\n", name);
    objs.set_patched(false);
    complete(objs, compat::Completion::PostUnpatch);
    pr_info!("'{}': unpatching complete\n", name);
}

/// Binds the glue's `lg_find_module()` to the kernel's unexported
/// `find_module()` (load time), which fills a module object's `mod`.
pub(crate) fn resolve_find_module() {
    use crate::logic::symbols::Resolution;
    match crate::symbols::find(None, kernel::c_str!("find_module"), 0) {
        // SAFETY: plain call; `find_module` is `struct module *(const char *)`
        // (include/linux/module.h), which is what the glue calls it as.
        Resolution::Found(addr) => unsafe { sys::lg_set_find_module_fn(addr as _) },
        _ => pr_warn!("find_module() not found: module objects' mod stays NULL in callbacks\n"),
    }
}
