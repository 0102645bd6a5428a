// SPDX-License-Identifier: GPL-2.0

//! `livegraft_resolve_symbols()`: the non-exported kernel symbols a patch
//! module's replacements use (`include/livegraft_symbols.h`).
//!
//! Each declaration is resolved exactly like a function target
//! ([`symbols::find`], upstream's `klp_find_object_symbol()` semantics:
//! one object only, sympos 0 requires a unique name, N the Nth), all of
//! them before any slot is written, with one message per declaration that
//! does not resolve, so that a patch module's init fails with nothing
//! stored and nothing registered.

use crate::logic::symbols::Resolution;
use crate::symbols;
use crate::sys;
use kernel::c_str;
use kernel::error::{code::EINVAL, code::ENOENT, Error, Result};
use kernel::ffi::{c_char, c_ulong, c_void};
use kernel::prelude::*;
use kernel::str::CStr;

/// A NUL-terminated string of the calling module, or `None` for NULL.
fn cstr_at<'a>(p: *const c_char) -> Option<&'a CStr> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the ABI requires NUL-terminated strings of the calling
    // module, which is in its init function for the whole call.
    Some(unsafe { CStr::from_char_ptr(p) })
}

/// Resolves `syms` for `module`; see the module documentation.
///
/// # Safety
///
/// `module` is the caller's `THIS_MODULE`, in its init function; `syms`
/// points to an array that ends with an entry whose `name` is NULL.
unsafe fn resolve(module: *mut sys::module, syms: *mut sys::livegraft_symbol) -> Result {
    if module.is_null() || syms.is_null() {
        pr_err!("livegraft_resolve_symbols: no module or no symbol table\n");
        return Err(EINVAL);
    }
    // SAFETY: `module` is a live module (the caller's own, during its init).
    let who = cstr_at(unsafe { sys::lg_module_name(module) }).unwrap_or(c_str!("?"));
    let mut found: KVec<(*mut *mut c_void, usize)> = KVec::new();
    let mut first_err: Option<Error> = None;
    let mut s = syms;
    loop {
        // SAFETY: the array ends with an entry whose name is NULL; `s` has
        // not passed it.
        let sym = unsafe { &*s };
        let Some(name) = cstr_at(sym.name) else { break };
        let object = cstr_at(sym.object).filter(|o| o.as_bytes() != b"vmlinux");
        let objname = object.unwrap_or(c_str!("vmlinux"));
        let sympos = u64::try_from(sym.sympos).unwrap_or(u64::MAX);
        let slot = sym.addr;
        let size = core::mem::size_of::<*mut c_void>() as c_ulong;
        // SAFETY: plain call; the module is loading, its layout is stable.
        let err = if slot.is_null() || !unsafe { sys::lg_within_module_data(slot as c_ulong, size, module) } {
            pr_err!("'{}': the address slot of symbol '{}' is not data of the module\n", who, name);
            Some(EINVAL)
        } else if name.as_bytes().is_empty() || name.as_bytes().len() > 511 {
            pr_err!("'{}': invalid symbol name of {} bytes (1 to 511)\n", who, name.as_bytes().len());
            Some(EINVAL)
        } else if object.map_or(false, |m| !symbols::module_loaded(m)) {
            pr_err!("'{}': object '{}' of symbol '{}' is not loaded\n", who, objname, name);
            Some(ENOENT)
        } else {
            match symbols::find(object, name, sympos) {
                Resolution::Found(addr) => {
                    found.push((slot, addr), GFP_KERNEL)?;
                    None
                }
                Resolution::NotFound => {
                    pr_err!("'{}': symbol '{}' not found in symbol table of object '{}'\n", who, name, objname);
                    Some(ENOENT)
                }
                Resolution::Ambiguous => {
                    pr_err!(
                        "'{}': unresolvable ambiguity for symbol '{}' in object '{}' (give its sympos)\n",
                        who,
                        name,
                        objname
                    );
                    Some(EINVAL)
                }
                Resolution::NoSuchPosition => {
                    pr_err!(
                        "'{}': symbol position {} for symbol '{}' in object '{}' not found\n",
                        who,
                        sympos,
                        name,
                        objname
                    );
                    Some(ENOENT)
                }
            }
        };
        if first_err.is_none() {
            first_err = err;
        }
        // SAFETY: still inside the terminated array.
        s = unsafe { s.add(1) };
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    for &(slot, addr) in found.iter() {
        // SAFETY: `slot` is pointer-sized data of the calling module, checked
        // above, writable during its init (also .data..ro_after_init).
        unsafe { slot.write_volatile(addr as *mut c_void) };
    }
    Ok(())
}

/// `livegraft_resolve_symbols()`, called from a patch module's init.
#[no_mangle]
extern "C" fn lg_rust_resolve_symbols(module: *mut sys::module, syms: *mut sys::livegraft_symbol) -> i32 {
    // SAFETY: the exported C function passes the caller's arguments, which
    // the ABI defines as `resolve` requires.
    match unsafe { resolve(module, syms) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}
