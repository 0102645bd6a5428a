// SPDX-License-Identifier: GPL-2.0

//! Thin wrapper around kernel tracepoints, which the 6.12 `kernel` crate does
//! not cover.
//!
//! A module cannot reference `__tracepoint_<name>` symbols that are not
//! exported, so tracepoints are found by name with
//! `for_each_kernel_tracepoint()`. Probes are registered with a data pointer;
//! the probe's prototype must match the tracepoint's `TP_PROTO` exactly
//! (with `void *data` first), which each typed caller states in its SAFETY
//! comment. After unregistering, `lg_tracepoint_synchronize_unregister()`
//! must run before the probe's data or code may go away.

use crate::sys;
use core::ffi::c_void;
use kernel::error::{code::ENOENT, to_result, Result};
use kernel::str::CStr;

/// A kernel tracepoint found by name.
#[derive(Clone, Copy)]
pub(crate) struct Tracepoint(*mut sys::tracepoint);

// SAFETY: a `struct tracepoint` of the core kernel lives forever; registration
// is serialised by the tracepoint core.
unsafe impl Send for Tracepoint {}
// SAFETY: see `Send`.
unsafe impl Sync for Tracepoint {}

struct Search {
    name: &'static CStr,
    found: *mut sys::tracepoint,
}

unsafe extern "C" fn match_name(tp: *mut sys::tracepoint, data: *mut c_void) {
    // SAFETY: `data` is the `Search` passed by `find` below, alive for the
    // whole walk; `tp` is a valid tracepoint of the core kernel.
    let (search, tp_name) = unsafe { (&mut *data.cast::<Search>(), (*tp).name) };
    if search.found.is_null() && !tp_name.is_null() {
        // SAFETY: tracepoint names are NUL-terminated static strings.
        let name = unsafe { CStr::from_char_ptr(tp_name) };
        if name.as_bytes() == search.name.as_bytes() {
            search.found = tp;
        }
    }
}

impl Tracepoint {
    /// Finds the core-kernel tracepoint `name` (e.g. `sys_exit`).
    pub(crate) fn find(name: &'static CStr) -> Result<Self> {
        let mut search = Search { name, found: core::ptr::null_mut() };
        // SAFETY: `match_name` has the prototype the walker expects and
        // `search` outlives the call.
        unsafe {
            sys::for_each_kernel_tracepoint(Some(match_name), (&mut search as *mut Search).cast())
        };
        if search.found.is_null() {
            Err(ENOENT)
        } else {
            Ok(Tracepoint(search.found))
        }
    }

    /// Registers `probe` with `data`.
    ///
    /// # Safety
    ///
    /// `probe` must point to a function whose prototype is the tracepoint's
    /// `TP_PROTO` preceded by `void *data`, and it and `data` must stay valid
    /// until [`Tracepoint::unregister`] and the following
    /// `lg_tracepoint_synchronize_unregister()` have returned.
    pub(crate) unsafe fn register(&self, probe: *mut c_void, data: *mut c_void) -> Result {
        // SAFETY: `self.0` is a live tracepoint; the caller vouches for the probe.
        to_result(unsafe { sys::tracepoint_probe_register(self.0, probe, data) })
    }

    /// Unregisters a probe registered with the same `probe` and `data`.
    pub(crate) fn unregister(&self, probe: *mut c_void, data: *mut c_void) {
        // SAFETY: `self.0` is a live tracepoint; unregistering a probe that is
        // not registered just returns -ENOENT.
        unsafe { sys::tracepoint_probe_unregister(self.0, probe, data) };
    }
}
