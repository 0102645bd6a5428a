// SPDX-License-Identifier: GPL-2.0

//! System states (`struct livegraft_state`, upstream's `klp_state`;
//! Documentation/livepatch/system-state.rst): `livegraft_get_state()`,
//! `livegraft_get_prev_state()` and the compatibility check of a new patch
//! against the installed ones. The rules are `logic::compat` (host-tested);
//! this file walks the patch modules' descriptors.
//!
//! `livegraft_get_prev_state()` is called from callbacks, which run with the
//! registry mutex held (by the caller's own thread), so it must not take
//! that mutex: the registered descriptors, in registration order, and the
//! one in transition are kept here under a mutex of their own (the glue's
//! `lg_states_lock()`), always taken after the registry's.

use crate::logic::compat::{self, StateRef};
use crate::sys;
use core::cell::UnsafeCell;
use kernel::ffi::c_ulong;
use kernel::prelude::*;

struct List {
    /// Descriptors of the registered patches, oldest first.
    patches: KVec<usize>,
    /// The descriptor of the patch in transition, or 0.
    transition: usize,
}

struct Guarded(UnsafeCell<List>);

// SAFETY: `List` is only accessed in `with_list`, under the glue's mutex.
unsafe impl Sync for Guarded {}

static LIST: Guarded = Guarded(UnsafeCell::new(List { patches: KVec::new(), transition: 0 }));

fn with_list<R>(f: impl FnOnce(&mut List) -> R) -> R {
    // SAFETY: plain call; process context.
    unsafe { sys::lg_states_lock() };
    // SAFETY: the mutex serialises every access to `LIST`.
    let r = f(unsafe { &mut *LIST.0.get() });
    // SAFETY: pairs with the lock.
    unsafe { sys::lg_states_unlock() };
    r
}

/// The states of a descriptor (an array ending with id 0, or null).
///
/// # Safety
///
/// `desc` is a registered (or being registered) patch's descriptor, whose
/// module is pinned.
unsafe fn states_of(desc: *const sys::livegraft_patch) -> impl Iterator<Item = *mut sys::livegraft_state> {
    // SAFETY: per the function's contract.
    let mut s = unsafe { (*desc).states };
    core::iter::from_fn(move || {
        // SAFETY: the array ends with an entry whose id is 0.
        if s.is_null() || unsafe { (*s).id } == 0 {
            return None;
        }
        let cur = s;
        // SAFETY: not past the terminating entry.
        s = unsafe { s.add(1) };
        Some(cur)
    })
}

fn state_ref(s: *mut sys::livegraft_state) -> StateRef {
    // SAFETY: `s` comes from `states_of`, inside a live array.
    unsafe { StateRef { id: (*s).id as u64, version: (*s).version } }
}

/// `klp_get_state()`.
#[no_mangle]
extern "C" fn lg_rust_get_state(patch: *mut sys::livegraft_patch, id: c_ulong) -> *mut sys::livegraft_state {
    if patch.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: the caller passes its own descriptor.
    unsafe { states_of(patch) }.find(|&s| state_ref(s).id == id as u64).unwrap_or(core::ptr::null_mut())
}

/// `klp_get_prev_state()`: for callbacks, during a transition.
#[no_mangle]
extern "C" fn lg_rust_get_prev_state(id: c_ulong) -> *mut sys::livegraft_state {
    with_list(|l| {
        let transition = l.patches.iter().position(|&p| p == l.transition && p != 0);
        let get = |i: usize| -> *mut sys::livegraft_state {
            match l.patches.get(i) {
                Some(&p) => lg_rust_get_state(p as *mut sys::livegraft_patch, id),
                None => core::ptr::null_mut(),
            }
        };
        match compat::prev_state_owner(l.patches.len(), transition, |i| !get(i).is_null()) {
            Some(i) => get(i),
            None => core::ptr::null_mut(),
        }
    })
}

/// Whether a new patch may be installed next to the registered ones
/// (`klp_is_patch_compatible()`); it is not registered yet.
///
/// # Safety
///
/// `desc` is the descriptor of the patch module being enabled.
pub(crate) unsafe fn compatible(desc: *const sys::livegraft_patch, replace: bool) -> Result<bool> {
    let mut new = KVec::new();
    // SAFETY: per the function's contract.
    for s in unsafe { states_of(desc) } {
        new.push(state_ref(s), GFP_KERNEL)?;
    }
    Ok(with_list(|l| {
        l.patches.iter().all(|&p| {
            // SAFETY: registered descriptors' modules are pinned.
            let old = unsafe { states_of(p as *const sys::livegraft_patch) }.map(state_ref);
            compat::patch_compatible(&new, replace, old)
        })
    }))
}

/// Adds a patch at the end of the registration order.
pub(crate) fn register(desc: *mut sys::livegraft_patch) -> Result {
    with_list(|l| l.patches.push(desc as usize, GFP_KERNEL))?;
    Ok(())
}

/// Removes a patch (it is being freed).
pub(crate) fn unregister(desc: *mut sys::livegraft_patch) {
    with_list(|l| {
        if let Some(i) = l.patches.iter().position(|&p| p == desc as usize) {
            // Keep the order: shift the newer ones down.
            let s = l.patches.as_mut_slice();
            if let Some(tail) = s.get_mut(i..) {
                tail.rotate_left(1);
            }
            let len = l.patches.len().saturating_sub(1);
            // SAFETY: shrinking over `usize`s, which need no drop.
            unsafe { l.patches.set_len(len) };
        }
        if l.transition == desc as usize {
            l.transition = 0;
        }
    });
}

/// The patch in transition (null: none), for `livegraft_get_prev_state()`.
pub(crate) fn set_transition(desc: *mut sys::livegraft_patch) {
    with_list(|l| l.transition = desc as usize);
}
