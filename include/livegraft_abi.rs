// SPDX-License-Identifier: GPL-2.0

//! Rust mirror of `include/livegraft.h`, the livegraft patch-module ABI.
//!
//! `livegraft-gen` copies this file into every generated patch module. The
//! layouts must match the C header exactly; any change bumps
//! [`LIVEGRAFT_ABI_VERSION`] there and here.

// A generated patch uses only some of it (callbacks, states, replace).
#![allow(dead_code)]

use core::cell::UnsafeCell;
use core::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

/// The ABI version this mirror describes.
pub(crate) const LIVEGRAFT_ABI_VERSION: u32 = 3;

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

/// `struct livegraft_callbacks`: an object's callbacks (upstream's
/// `klp_callbacks`, see include/livegraft.h for when each runs).
#[repr(C)]
pub(crate) struct Callbacks {
    /// Before the object is patched; non-zero aborts the enable.
    pub(crate) pre_patch: Option<unsafe extern "C" fn(obj: *mut Object) -> c_int>,
    /// Once the patching transition completed.
    pub(crate) post_patch: Option<unsafe extern "C" fn(obj: *mut Object)>,
    /// Before the unpatching transition starts.
    pub(crate) pre_unpatch: Option<unsafe extern "C" fn(obj: *mut Object)>,
    /// Once the unpatching transition completed.
    pub(crate) post_unpatch: Option<unsafe extern "C" fn(obj: *mut Object)>,
    /// The engine's (whether pre_patch succeeded).
    pub(crate) post_unpatch_enabled: UnsafeCell<bool>,
}

impl Callbacks {
    /// No callbacks.
    pub(crate) const NONE: Callbacks = Callbacks {
        pre_patch: None,
        post_patch: None,
        pre_unpatch: None,
        post_unpatch: None,
        post_unpatch_enabled: UnsafeCell::new(false),
    };
}

/// `struct livegraft_object`: the functions of vmlinux or of one module.
///
/// The fields livegraft fills (`mod`, `patched`, the callbacks'
/// bookkeeping) are `UnsafeCell`s, so a `static` table of objects lives in
/// writable data.
#[repr(C)]
pub(crate) struct Object {
    /// `"vmlinux"` or a module name.
    pub(crate) name: *const c_char,
    /// Its functions, ending with [`Func::END`].
    pub(crate) funcs: *const Func,
    /// Its callbacks.
    pub(crate) callbacks: Callbacks,
    /// Filled by livegraft (the module of a module object); read it with
    /// [`Object::module`].
    pub(crate) module: UnsafeCell<*mut kernel::bindings::module>,
    /// Filled by livegraft; read it with [`Object::patched`].
    pub(crate) patched: UnsafeCell<bool>,
}

impl Object {
    /// The terminating entry of an object array (and the defaults of the
    /// fields a generated table does not name: `..abi::Object::END`).
    pub(crate) const END: Object = Object {
        name: core::ptr::null(),
        funcs: core::ptr::null(),
        callbacks: Callbacks::NONE,
        module: UnsafeCell::new(core::ptr::null_mut()),
        patched: UnsafeCell::new(false),
    };

    /// The object's module (null for vmlinux), as livegraft filled it.
    pub(crate) fn module(&self) -> *mut kernel::bindings::module {
        // SAFETY: livegraft writes it only before the object's callbacks run
        // and while the patch module is pinned; a read from a callback or
        // a replacement is ordered after that write by the call itself.
        unsafe { *self.module.get() }
    }

    /// Whether the object's functions are patched (`<object>/patched`).
    pub(crate) fn patched(&self) -> bool {
        // SAFETY: as for `module()`: livegraft writes it under its registry
        // lock, in the callbacks' own thread of control.
        unsafe { *self.patched.get() }
    }
}

/// `struct livegraft_state`: a system state (arrays end with id 0).
#[repr(C)]
pub(crate) struct State {
    /// Non-zero identifier.
    pub(crate) id: c_ulong,
    /// Version of the state's handling.
    pub(crate) version: c_uint,
    /// The patch's own data.
    pub(crate) data: *mut c_void,
}

impl State {
    /// The terminating entry of a state array.
    pub(crate) const END: State = State { id: 0, version: 0, data: core::ptr::null_mut() };
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
    states: *const State,
    replace: bool,
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
            states: core::ptr::null(),
            replace: false,
        }
    }

    /// With atomic replace (`replace = true` in the manifest).
    pub(crate) fn replace(mut self) -> Self {
        self.flags |= LIVEGRAFT_F_REPLACE;
        self.replace = true;
        self
    }

    /// With system states, an array ending with [`State::END`].
    pub(crate) fn states(mut self, states: *const State) -> Self {
        self.states = states;
        self
    }
}

// SAFETY: a `Patch` only points to 'static data of its module and to the
// module itself; the core reads it while the patch is registered and writes
// only the `UnsafeCell` fields of its objects.
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
// words; the only fields written after initialisation are the objects'
// `UnsafeCell`s, which livegraft writes under its registry lock.
unsafe impl<T, const N: usize> Sync for Table<T, N> {}

extern "C" {
    /// Exported by livegraft.ko (see include/livegraft.h).
    pub(crate) fn livegraft_enable_patch(patch: *mut Patch) -> c_int;
}

extern "C" {
    /// Exported by livegraft.ko: the state of `id` in `patch`, or null.
    pub(crate) fn livegraft_get_state(patch: *mut Patch, id: c_ulong) -> *mut State;
    /// Exported by livegraft.ko: the newest earlier patch's state of `id`
    /// during a transition (from callbacks), or null.
    pub(crate) fn livegraft_get_prev_state(id: c_ulong) -> *mut State;
}

const _: () = assert!(core::mem::size_of::<Func>() == 32);
const _: () = assert!(core::mem::size_of::<Callbacks>() == 40);
const _: () = assert!(core::mem::size_of::<Object>() == 72);
const _: () = assert!(core::mem::size_of::<State>() == 24);
const _: () = assert!(core::mem::size_of::<Patch>() == 56);
