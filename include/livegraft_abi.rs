// SPDX-License-Identifier: GPL-2.0

//! Rust mirror of `include/livegraft.h`, the livegraft patch-module ABI.
//!
//! `livegraft-gen` copies this file into every generated patch module. The
//! layouts must match the C header exactly; any change bumps
//! [`LIVEGRAFT_ABI_VERSION`] there and here.

use core::ffi::{c_char, c_int, c_ulong, c_void};

/// The ABI version this mirror describes.
pub(crate) const LIVEGRAFT_ABI_VERSION: u32 = 2;

/// `struct livegraft_func`: one replaced function.
#[repr(C)]
pub(crate) struct Func {
    /// Symbol of the function to replace.
    pub(crate) old_name: *const c_char,
    /// 0 or 1: the unique symbol of that name.
    pub(crate) old_sympos: c_ulong,
    /// The replacement, with the same prototype.
    pub(crate) new_func: *const c_void,
    /// Null, or where livegraft stores the entry of the original (past its
    /// ftrace call site) for the `LIVEGRAFT_ORIGINAL` stub the replacement
    /// calls it through (`original` in the manifest).
    pub(crate) orig_entry: *mut c_ulong,
}

impl Func {
    /// The terminating entry of a function array.
    pub(crate) const END: Func = Func {
        old_name: core::ptr::null(),
        old_sympos: 0,
        new_func: core::ptr::null(),
        orig_entry: core::ptr::null_mut(),
    };
}

/// `struct livegraft_object`: the functions of vmlinux or of one module.
#[repr(C)]
pub(crate) struct Object {
    /// `"vmlinux"` or a module name.
    pub(crate) name: *const c_char,
    /// Its functions, ending with [`Func::END`].
    pub(crate) funcs: *const Func,
}

impl Object {
    /// The terminating entry of an object array.
    pub(crate) const END: Object = Object { name: core::ptr::null(), funcs: core::ptr::null() };
}

/// `LIVEGRAFT_F_REPLACE`: a cumulative patch that replaces every patch
/// enabled before it (upstream's `klp_patch.replace`).
#[allow(dead_code)]
pub(crate) const LIVEGRAFT_F_REPLACE: u32 = 1 << 0;

/// `struct livegraft_patch`.
#[repr(C)]
pub(crate) struct Patch {
    abi_version: u32,
    size: u32,
    name: *const c_char,
    module: *mut kernel::bindings::module,
    objs: *const Object,
    flags: u32,
    reserved: u32,
}

impl Patch {
    /// `LIVEGRAFT_PATCH_INIT(name, objs)` with `THIS_MODULE` = `module`.
    pub(crate) fn new(name: &'static core::ffi::CStr, module: *mut kernel::bindings::module, objs: *const Object) -> Self {
        Patch {
            abi_version: LIVEGRAFT_ABI_VERSION,
            size: core::mem::size_of::<Patch>() as u32,
            name: name.as_ptr(),
            module,
            objs,
            flags: 0,
            reserved: 0,
        }
    }
}

// SAFETY: a `Patch` only points to 'static, immutable data of its module and
// to the module itself; the core reads it once, during
// `livegraft_enable_patch()`.
unsafe impl Send for Patch {}
// SAFETY: see `Send`: the only pointers the core writes through are the
// functions' `orig_entry`s, once, during `livegraft_enable_patch()`, into
// words no Rust code reads.
unsafe impl Sync for Patch {}

/// Static arrays of descriptors: raw pointers to static data and code,
/// never written after initialisation.
#[repr(transparent)]
pub(crate) struct Table<T, const N: usize>(pub(crate) [T; N]);

// SAFETY: the tables hold pointers to 'static strings, functions and entry
// words and are immutable; sharing them between threads is sound.
unsafe impl<T, const N: usize> Sync for Table<T, N> {}

extern "C" {
    /// Exported by livegraft.ko (see include/livegraft.h).
    pub(crate) fn livegraft_enable_patch(patch: *mut Patch) -> c_int;
}

const _: () = assert!(core::mem::size_of::<Func>() == 32);
const _: () = assert!(core::mem::size_of::<Object>() == 16);
const _: () = assert!(core::mem::size_of::<Patch>() == 40);
