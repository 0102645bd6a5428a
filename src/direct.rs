// SPDX-License-Identifier: GPL-2.0

//! Direct calls: how patched functions are entered.
//!
//! Every patched function's call site is pointed, once, at a small
//! trampoline of livegraft's (`register_ftrace_direct`), one per slot of a
//! pool of 128 in the C glue, which returns into the version it picks. What
//! it picks is data (the function's slot), so transitions never touch ftrace
//! for the function again:
//!
//! ```text
//!   fast      target = top.new_addr       retired: a call costs the trampoline's
//!                                         few instructions, no handler at all
//!   decide    target 0 (site = the Site)  during a transition (and before
//!                                         retirement): the per-task decision,
//!                                         `lg_rust_redirect_target`, as the
//!                                         ftrace handler would make it
//! ```
//!
//! A mode change is one store of one word, `target` (issue 13, item 8: a
//! reader can never combine two publications); `site` is written once,
//! before the trampoline is attached (`register_ftrace_direct()`'s text
//! patching publishes it), and never while it is attached. Nothing in the
//! slot depends on who calls: a replacement reaches the original through
//! its own `LIVEGRAFT_ORIGINAL` stub, which enters the original past the
//! ftrace call site and so never reaches a trampoline.
//!
//! Protocol (the registry mutex serialises the writers):
//!  * a site is registered in decide mode, when its first version is pushed;
//!  * `begin` puts every site of the transition in decide mode before the
//!    table accepts switches; a CPU that still follows the fast path it read
//!    just before runs the version every task runs before switching starts,
//!    and a task inside a trampoline cannot switch: it is at no safe point,
//!    and stack checks treat trampoline text as patched code;
//!  * after retirement a site whose top is not in transition gets the fast
//!    path to the top (the decision returned the top for everyone already);
//!  * a site without versions is unregistered before "unpatching complete".
//!
//! A function that gets no slot (pool exhausted) falls back to an IPMODIFY
//! ftrace ops running the same decision (`patch.rs`). The direct ops has no
//! `ops_func`, so it refuses to share a function with any IPMODIFY ops:
//! upstream livepatch gets `-EBUSY` on a function livegraft patches and
//! livegraft gets it on one upstream patches, whoever comes first.

use crate::ftrace::{self, FtraceOps};
use crate::sys;
use core::sync::atomic::{AtomicBool, Ordering};
use core::ffi::c_void;
use kernel::error::to_result;
use kernel::prelude::*;

/// Keeps `kernel.ftrace_enabled` from being turned off while livegraft
/// patches anything (see `src/anchor.c`): a PERMANENT ops on a function
/// that is never called. Direct ops cannot be PERMANENT themselves.
pub(crate) struct PermanentAnchor {
    _ops: FtraceOps,
}

unsafe extern "C" fn anchor_handler(_ip: usize, _pip: usize, _op: *mut sys::ftrace_ops, _fregs: *mut sys::ftrace_regs) {}

impl PermanentAnchor {
    /// Registers the anchor.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: plain call.
        let addr = unsafe { sys::lg_permanent_anchor_addr() } as usize;
        let mut ops = FtraceOps::new(anchor_handler, core::ptr::null_mut(), ftrace::FLAGS_OBSERVE, addr)?;
        ops.register()?;
        Ok(PermanentAnchor { _ops: ops })
    }
}

/// Which slots are taken.
static TAKEN: [AtomicBool; 128] = [const { AtomicBool::new(false) }; 128];

fn slot_count() -> usize {
    // SAFETY: plain call.
    let n = unsafe { sys::lg_direct_slot_count() } as usize;
    n.min(TAKEN.len())
}

/// Whether retired functions get the fast path (module parameter
/// `fast_path`, read at each retirement).
pub(crate) fn enabled() -> bool {
    // SAFETY: plain call.
    unsafe { sys::lg_fast_path_enabled() }
}

/// The trampolines' text, which stack checks treat as patched code.
pub(crate) fn text() -> (usize, usize) {
    let (mut start, mut end) = (0usize, 0usize);
    // SAFETY: both pointers are valid for writes.
    unsafe { sys::lg_direct_text(&mut start, &mut end) };
    (start, end)
}

/// One function's direct call: a trampoline slot and a direct ftrace ops.
pub(crate) struct Direct {
    slot: u32,
    tramp: usize,
    ops: KBox<sys::ftrace_ops>,
    registered: bool,
    fast: bool,
}

// SAFETY: mutated only through `&mut self` (under the registry mutex);
// ftrace synchronises its own accesses to the ops.
unsafe impl Send for Direct {}
// SAFETY: no `&self` method mutates anything.
unsafe impl Sync for Direct {}

impl Direct {
    /// Takes a free slot and prepares a direct ops for the function at
    /// `addr`, in decide mode for `site`; `None` when the pool is exhausted
    /// or ftrace refuses the filter.
    ///
    /// # Safety
    ///
    /// `site` must stay valid while the direct call is registered (the site
    /// owns it and drops it first).
    pub(crate) unsafe fn new(addr: usize, site: *mut c_void) -> Option<Self> {
        let slot = (0..slot_count()).find(|&i| {
            TAKEN.get(i).map_or(false, |t| t.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok())
        })?;
        let release = || {
            if let Some(t) = TAKEN.get(slot) {
                t.store(false, Ordering::Release);
            }
        };
        let slot = slot as u32;
        // SAFETY: plain call with an index below the slot count.
        let tramp = unsafe { sys::lg_direct_tramp(slot) } as usize;
        let Ok(mut ops) = KBox::new(sys::ftrace_ops::default(), GFP_KERNEL) else {
            release();
            return None;
        };
        // SAFETY: `ops` is valid and exclusively owned.
        if tramp == 0 || unsafe { sys::ftrace_set_filter_ip(&mut *ops, addr as _, 0, 0) } != 0 {
            release();
            return None;
        }
        // SAFETY: the slot is ours and its trampoline unattached, which is
        // when `site` may be written; its validity is the caller's promise.
        unsafe { sys::lg_direct_slot_init(slot, site) };
        Some(Direct { slot, tramp, ops, registered: false, fast: false })
    }

    /// The fast path: every call runs `target`.
    pub(crate) fn fast(&mut self, target: usize) {
        // SAFETY: plain call on our slot: one word, see the module comment.
        unsafe { sys::lg_direct_slot_target(self.slot, target as _) };
        self.fast = true;
    }

    /// The per-task decision for the site given to [`Direct::new`].
    pub(crate) fn decide(&mut self) {
        // SAFETY: plain call on our slot: one word, see the module comment.
        unsafe { sys::lg_direct_slot_target(self.slot, 0) };
        self.fast = false;
    }

    /// Whether the fast path is on.
    pub(crate) fn is_fast(&self) -> bool {
        self.fast && self.registered
    }

    /// Attaches the trampoline to the call site.
    pub(crate) fn register(&mut self) -> Result {
        if self.registered {
            return Ok(());
        }
        // SAFETY: the ops is filtered, initialised by the filter call, not
        // registered, and stays at this address until `unregister`.
        to_result(unsafe { sys::register_ftrace_direct(&mut *self.ops, self.tramp as _) })?;
        self.registered = true;
        Ok(())
    }

    /// Detaches the trampoline; on return no CPU runs it for this function.
    pub(crate) fn unregister(&mut self) {
        if !self.registered {
            return;
        }
        // SAFETY: registered by `register` with this address; the filter is
        // kept so that the ops can be registered again.
        let ret = unsafe { sys::unregister_ftrace_direct(&mut *self.ops, self.tramp as _, false) };
        if ret != 0 {
            pr_err!("failed to unregister a direct call ({})\n", ret);
        }
        self.registered = false;
    }

}

impl Drop for Direct {
    fn drop(&mut self) {
        self.unregister();
        // SAFETY: the ops is not registered any more.
        unsafe { sys::ftrace_free_filter(&mut *self.ops) };
        if let Some(t) = TAKEN.get(self.slot as usize) {
            t.store(false, Ordering::Release);
        }
    }
}
