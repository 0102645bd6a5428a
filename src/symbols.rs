// SPDX-License-Identifier: GPL-2.0

//! Symbol resolution without `kallsyms_lookup_name()` (not exported to
//! modules since 5.7), with upstream livepatch's exact semantics.
//!
//! Name to address: [`find`] walks the symbols of one name in one object
//! with the very kernel functions upstream's `klp_find_object_symbol()` uses
//! (`kallsyms_on_each_match_symbol()` for vmlinux, and
//! `module_kallsyms_on_each_symbol()` for a module), and counts them with
//! `logic::symbols::Search`, a copy of upstream's callback: sympos 0 requires a
//! unique name, N selects the Nth, and a vmlinux name never falls back to a
//! module's symbol. Those two functions are not exported either: [`init`]
//! resolves their own addresses once, with a disabled kprobe by name (the
//! kprobes core looks names up with kallsyms), checks them against kallsyms,
//! and binds them to static calls in `glue.c` (which says why not a function
//! pointer).
//!
//! Address to extent: `sprint_symbol()` prints `name+0xoff/0xsize`, which
//! gives the function's start and size for stack checks.

use crate::logic::symbols::{Resolution, Search};
use crate::sys;
use kernel::ffi::{c_char, c_int, c_ulong, c_void};
use kernel::c_str;
use kernel::error::{code::EINVAL, code::ENOENT, Error, Result};
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

/// The kernel's own walkers, bound by [`init`].
const WALKERS: [&CStr; 2] = [c_str!("kallsyms_on_each_match_symbol"), c_str!("module_kallsyms_on_each_symbol")];

/// Binds the kernel's symbol walkers (module init, process context, before
/// any [`find`]). Costs one RCU grace period (the kprobes' unregistration).
pub(crate) fn init() -> Result {
    let mut addrs = KVec::new();
    let lookups = match addresses_of(&WALKERS, &mut addrs) {
        Ok(l) => l,
        Err((i, e)) => {
            let name = WALKERS.get(i).copied().unwrap_or(c_str!("?"));
            pr_err!("cannot resolve the kernel's symbol walker {} ({})\n", name, e.to_errno());
            return Err(e);
        }
    };
    drop(lookups);
    let mut starts = [0usize; 2];
    for ((name, &addr), start) in WALKERS.iter().zip(addrs.iter()).zip(starts.iter_mut()) {
        *start = vmlinux_function_start(name, addr)?;
    }
    // SAFETY: each address is the start of the vmlinux function of that
    // name; glue.c's static calls give them the prototypes of the kernel
    // headers' declarations of those very functions.
    unsafe { sys::lg_kallsyms_bind(starts[0] as c_ulong, starts[1] as c_ulong) };
    Ok(())
}

/// The start of the vmlinux function `name` that `addr` lies in, checked
/// with kallsyms: `addr` must be inside a symbol of exactly that name that
/// is not a module's.
fn vmlinux_function_start(name: &CStr, addr: usize) -> Result<usize> {
    let mut buf = [0u8; 1024];
    // SAFETY: `buf` is larger than KSYM_SYMBOL_LEN, as sprint_symbol requires.
    let len = unsafe { sys::sprint_symbol(buf.as_mut_ptr().cast(), addr as _) };
    let text = usize::try_from(len).ok().and_then(|n| buf.get(..n)).unwrap_or(&[]);
    let n = name.as_bytes();
    let named = text.len() > n.len() && text.starts_with(n) && text.get(n.len()) == Some(&b'+');
    match parse_extent(text, addr) {
        Some(e) if named && !text.contains(&b'[') => Ok(e.start),
        _ => {
            pr_err!(
                "{} resolved to {}, not to vmlinux's function of that name\n",
                name,
                core::str::from_utf8(text).unwrap_or("?")
            );
            Err(ENOENT)
        }
    }
}

/// One walk: the wanted name and upstream's counting.
struct Walk<'a> {
    name: &'a CStr,
    search: Search,
}

/// `kallsyms_on_each_match_symbol()`'s callback: one vmlinux symbol of the
/// wanted name (upstream's `klp_match_callback`).
unsafe extern "C" fn on_match(data: *mut c_void, addr: c_ulong) -> c_int {
    // SAFETY: `data` is the `Walk` that `find` passed along, alive and not
    // otherwise borrowed during the walk.
    let walk = unsafe { &mut *data.cast::<Walk<'_>>() };
    c_int::from(walk.search.visit(addr as usize))
}

/// `module_kallsyms_on_each_symbol()`'s callback: any symbol of the module
/// (upstream's `klp_find_callback`).
unsafe extern "C" fn on_module_symbol(data: *mut c_void, name: *const c_char, addr: c_ulong) -> c_int {
    // SAFETY: as in `on_match`.
    let walk = unsafe { &mut *data.cast::<Walk<'_>>() };
    // SAFETY: kallsyms passes a NUL-terminated name valid during the call.
    let name = unsafe { CStr::from_char_ptr(name) };
    if name.as_bytes() != walk.name.as_bytes() {
        return 0;
    }
    c_int::from(walk.search.visit(addr as usize))
}

/// Resolves `name` at position `sympos` in `object` (`None`: vmlinux), with
/// upstream livepatch's semantics. Process context; may sleep (a module
/// walk takes `module_mutex`).
pub(crate) fn find(object: Option<&CStr>, name: &CStr, sympos: u64) -> Resolution {
    let mut walk = Walk { name, search: Search::new(sympos) };
    let data = (&mut walk as *mut Walk<'_>).cast::<c_void>();
    match object {
        // SAFETY: `data` outlives the walk; `on_match` has the callback's
        // prototype; `name` is NUL-terminated.
        None => unsafe { sys::lg_kallsyms_on_each_match_symbol(Some(on_match), name.as_char_ptr(), data) },
        // SAFETY: as above, for a module walk.
        Some(m) => unsafe { sys::lg_module_kallsyms_on_each_symbol(m.as_char_ptr(), Some(on_module_symbol), data) },
    };
    walk.search.verdict()
}

/// `module_kallsyms_on_each_symbol()`'s callback for `module_loaded`: the
/// first symbol is enough.
unsafe extern "C" fn on_any_symbol(data: *mut c_void, _name: *const c_char, _addr: c_ulong) -> c_int {
    // SAFETY: `data` is the `bool` that `module_loaded` passed along.
    unsafe { *data.cast::<bool>() = true };
    1
}

/// Whether a module of that name is loaded (it has symbols): the walk of an
/// unknown module's symbols visits none. Process context; may sleep.
pub(crate) fn module_loaded(name: &CStr) -> bool {
    let mut seen = false;
    let data = (&mut seen as *mut bool).cast::<c_void>();
    // SAFETY: `data` outlives the walk; `on_any_symbol` has the callback's
    // prototype; `name` is NUL-terminated.
    unsafe { sys::lg_module_kallsyms_on_each_symbol(name.as_char_ptr(), Some(on_any_symbol), data) };
    seen
}

/// The disabled kprobes that resolved a batch of names. Unregistering them
/// waits for an RCU grace period.
struct Lookups {
    /// Never grows after registration: the kprobes do not move.
    kps: KVec<sys::kprobe>,
    ptrs: KVec<*mut sys::kprobe>,
    registered: usize,
}

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
/// disabled kprobe each (the kprobes core resolves the name with
/// `kallsyms_lookup_name()`, vmlinux first). Fails with the index of the
/// first name that does not resolve. The kprobes are unregistered when the
/// returned value is dropped: one grace period for the whole batch.
fn addresses_of(names: &[&CStr], out: &mut KVec<usize>) -> core::result::Result<Lookups, (usize, Error)> {
    let mut lookups = Lookups { kps: KVec::new(), ptrs: KVec::new(), registered: 0 };
    for name in names {
        let mut kp = sys::kprobe::default();
        kp.symbol_name = name.as_char_ptr();
        // Registered disabled: the kprobes core resolves and validates the
        // address but never arms it, so no kernel text is modified.
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
        if kp.addr.is_null() {
            return Err((0, ENOENT));
        }
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
