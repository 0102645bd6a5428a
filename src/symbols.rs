// SPDX-License-Identifier: GPL-2.0

//! Symbol resolution without `kallsyms_lookup_name()` (not exported to
//! modules since 5.7).
//!
//! Name to address: a kprobe registered by symbol name is resolved by the
//! kprobes core with kallsyms; we read back its address and unregister it at
//! once. Address to extent: `sprint_symbol()` prints `name+0xoff/0xsize`,
//! which gives the function's start and size for stack checks.

use crate::sys;
use kernel::error::{code::EINVAL, code::ENOENT, to_result, Error, Result};
use kernel::prelude::*;
use kernel::str::CStr;

/// The text range `[start, end)` of one function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Extent {
    /// First byte of the function.
    pub(crate) start: usize,
    /// One past its last byte.
    pub(crate) end: usize,
}

impl Extent {
    /// Whether `addr` lies inside the function.
    pub(crate) fn contains(&self, addr: usize) -> bool {
        self.start <= addr && addr < self.end
    }
}

/// Resolves `name` (a vmlinux or loaded-module symbol) to its address.
pub(crate) fn address_of(name: &CStr) -> Result<usize> {
    let mut kp = sys::kprobe::default();
    kp.symbol_name = name.as_char_ptr();
    // Registered disabled: the kprobes core resolves and validates the
    // address but never arms it, so no kernel text is modified.
    kp.flags = sys::KPROBE_FLAG_DISABLED;
    // SAFETY: `kp` is a zeroed kprobe with only a symbol name and flags; it
    // lives on this stack frame until it is unregistered below.
    let ret = unsafe { sys::register_kprobe(&mut kp) };
    // -ENOENT: no such symbol; anything else: it exists but cannot be probed.
    to_result(ret)?;
    let addr = kp.addr as usize;
    // SAFETY: `kp` was registered just above.
    unsafe { sys::unregister_kprobe(&mut kp) };
    if addr == 0 {
        return Err(ENOENT);
    }
    Ok(addr)
}

/// The disabled kprobes that resolved a batch of names. Unregistering them
/// waits for an RCU grace period, which on a loaded machine waits for the
/// (fair-class) grace-period kthread: the owner drops this where that wait
/// does not delay anybody (livegraft's transition worker), not in `insmod`.
pub(crate) struct Lookups {
    /// Never grows after registration: the kprobes do not move.
    kps: KVec<sys::kprobe>,
    ptrs: KVec<*mut sys::kprobe>,
    registered: usize,
}

// SAFETY: the kprobes are only touched again by `drop`, from any task.
unsafe impl Send for Lookups {}

impl Drop for Lookups {
    fn drop(&mut self) {
        if self.registered > 0 {
            // SAFETY: the first `registered` pointers are kprobes registered
            // by `addresses_of`, still at the same address.
            unsafe { sys::unregister_kprobes(self.ptrs.as_mut_ptr(), self.registered as i32) };
        }
    }
}

/// Resolves every name in `names` at once into `out` (same order), with one
/// disabled kprobe each. Fails with the index of the first name that does
/// not resolve. The returned kprobes are unregistered when it is dropped:
/// one grace period for the whole batch, whenever the owner chooses.
pub(crate) fn addresses_of(names: &[&CStr], out: &mut KVec<usize>) -> core::result::Result<Lookups, (usize, Error)> {
    let mut lookups = Lookups { kps: KVec::new(), ptrs: KVec::new(), registered: 0 };
    for name in names {
        let mut kp = sys::kprobe::default();
        kp.symbol_name = name.as_char_ptr();
        kp.flags = sys::KPROBE_FLAG_DISABLED;
        lookups.kps.push(kp, GFP_KERNEL).map_err(|e| (0, e.into()))?;
    }
    for kp in lookups.kps.as_mut_slice() {
        lookups.ptrs.push(kp as *mut sys::kprobe, GFP_KERNEL).map_err(|e| (0, e.into()))?;
    }
    for i in 0..lookups.ptrs.len() {
        let Some(&kp) = lookups.ptrs.get(i) else { break };
        // SAFETY: `kp` points into `lookups.kps`, which is not resized any
        // more; a disabled kprobe only resolves its symbol.
        let ret = unsafe { sys::register_kprobe(kp) };
        if ret != 0 {
            return Err((i, Error::from_errno(ret)));
        }
        lookups.registered = lookups.registered.wrapping_add(1);
    }
    for kp in lookups.kps.as_mut_slice() {
        out.push(kp.addr as usize, GFP_KERNEL).map_err(|e| (0, e.into()))?;
        // The name is the caller's and does not outlive this call; a
        // registered kprobe only needs it while being registered.
        kp.symbol_name = core::ptr::null();
    }
    Ok(lookups)
}

/// Finds the function containing `addr`, from kallsyms.
pub(crate) fn extent_of(addr: usize) -> Result<Extent> {
    // KSYM_SYMBOL_LEN is about 700 bytes; this runs in process context only.
    let mut buf = [0u8; 1024];
    // SAFETY: `buf` is larger than KSYM_SYMBOL_LEN, as sprint_symbol requires.
    let len = unsafe { sys::sprint_symbol(buf.as_mut_ptr().cast(), addr as _) };
    let len = usize::try_from(len).map_err(|_| EINVAL)?;
    let text = buf.get(..len).ok_or(EINVAL)?;
    parse_extent(text, addr).ok_or(ENOENT)
}

/// Writes `name+0xoff/0xsize [module]` for `addr` (like `%pS`) to `out`.
/// Process context only.
pub(crate) fn describe(addr: usize, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
    let mut buf = [0u8; 1024];
    // SAFETY: `buf` is larger than KSYM_SYMBOL_LEN, as sprint_symbol requires.
    let len = unsafe { sys::sprint_symbol(buf.as_mut_ptr().cast(), addr as _) };
    let text = usize::try_from(len).ok().and_then(|n| buf.get(..n)).unwrap_or(&[]);
    match core::str::from_utf8(text) {
        Ok(t) if !t.is_empty() => out.write_str(t),
        _ => write!(out, "{:#x}", addr),
    }
}

/// Parses `name+0xOFF/0xSIZE [module]` as printed by `sprint_symbol()`.
fn parse_extent(text: &[u8], addr: usize) -> Option<Extent> {
    let plus = text.iter().rposition(|&c| c == b'+')?;
    let rest = text.get(plus + 1..)?;
    let slash = rest.iter().position(|&c| c == b'/')?;
    let offset = parse_hex(rest.get(..slash)?)?;
    let after = rest.get(slash + 1..)?;
    let end = after.iter().position(|&c| c == b' ').unwrap_or(after.len());
    let size = parse_hex(after.get(..end)?)?;
    let start = addr.checked_sub(offset)?;
    Some(Extent { start, end: start.checked_add(size)? })
}

fn parse_hex(s: &[u8]) -> Option<usize> {
    let digits = s.strip_prefix(b"0x")?;
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |acc, &c| {
        let d = (c as char).to_digit(16)? as usize;
        acc.checked_mul(16)?.checked_add(d)
    })
}
