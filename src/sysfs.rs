// SPDX-License-Identifier: GPL-2.0

//! Thin safe wrapper around the kobjects livegraft exposes in sysfs.
//!
//! The 6.12 `kernel` crate has no sysfs abstraction; this module confines the
//! raw kobject calls so the rest of the engine never touches them.

use crate::sys;
use kernel::error::{code::ENOMEM, Result};
use kernel::str::CStr;

/// A kobject directory directly under `/sys/kernel/`, removed on drop.
pub(crate) struct Root {
    kobj: *mut sys::kobject,
}

// SAFETY: the kobject is only created and released through the kobject core,
// which does its own locking; `Root` holds no other state.
unsafe impl Send for Root {}
// SAFETY: `Root` offers no interior mutation; see `Send` above.
unsafe impl Sync for Root {}

impl Root {
    /// Creates `/sys/kernel/<name>/`.
    pub(crate) fn create(name: &'static CStr) -> Result<Self> {
        // SAFETY: `name` is a valid NUL-terminated string that outlives the
        // kobject (it is 'static) and `kernel_kobj` is the live /sys/kernel
        // kobject, initialised before any module loads.
        let kobj = unsafe { sys::kobject_create_and_add(name.as_char_ptr(), sys::kernel_kobj) };
        if kobj.is_null() {
            return Err(ENOMEM);
        }
        Ok(Root { kobj })
    }

    /// The kobject, for creating children.
    pub(crate) fn as_ptr(&self) -> *mut sys::kobject {
        self.kobj
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        // SAFETY: `self.kobj` came from `kobject_create_and_add` and this is
        // the only reference we hold; dropping it removes the directory.
        unsafe { sys::kobject_put(self.kobj) };
    }
}
