// SPDX-License-Identifier: GPL-2.0

//! The retired fast path: ftrace direct calls.
//!
//! After a transition completes, upstream livepatch still enters ftrace's
//! generic handler path on every call of a patched function. livegraft
//! instead points the function's call site at a small trampoline of its own
//! (`register_ftrace_direct`), which returns into the replacement: a patched
//! call then costs the trampoline's few instructions. The trampolines, one
//! per slot of a fixed pool, are in the C glue (`lg_direct_slots`); a
//! function that gets no slot simply keeps the handler.
//!
//! Protocol, per patched function (the registry mutex serialises it):
//!
//! ```text
//!   retire (after a completed transition, top version not in transition):
//!     slot := (top.new_addr, top's text)       while our IPMODIFY ops is on
//!     register the direct ops (once; shares the function with our ops)
//!     unregister the IPMODIFY ops              -> calls: site -> trampoline -> top
//!   begin (a transition touches the function):
//!     register the IPMODIFY ops (shares with the direct ops)
//!     slot := pass-through                     -> calls: site -> regs caller ->
//!                                                 handler (per task) -> trampoline -> choice
//!     then tasks may switch (table opened after every site is set)
//!   the stack becomes empty: unregister both.
//! ```
//!
//! While both ops are on, the trampoline runs after the handler; both agree
//! whatever slot state a CPU observes, because every slot update happens
//! while the handler is on and before any task can switch (the transition
//! starts switching after the slot update; at retirement the handler already
//! redirects everyone to the top). A task cannot switch while inside a
//! trampoline: it is not at a safe point, and stack checks treat the
//! trampolines' text as patched code.
//!
//! Sharing a function between a direct ops and an IPMODIFY ops needs the
//! direct ops' consent (`ops_func`): the glue grants it only to the task
//! that announced its own registration, so another live patch (upstream
//! livepatch) still gets `-EBUSY` on a function livegraft patches.

use crate::ftrace::{self, FtraceOps};
use crate::sys;
use core::sync::atomic::{AtomicBool, Ordering};
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

/// Whether retired functions take direct calls (module parameter
/// `direct_calls`, read at each retirement).
pub(crate) fn enabled() -> bool {
    // SAFETY: plain call.
    unsafe { sys::lg_direct_calls_enabled() }
}

/// The trampolines' text, which stack checks treat as patched code.
pub(crate) fn text() -> (usize, usize) {
    let (mut start, mut end) = (0usize, 0usize);
    // SAFETY: both pointers are valid for writes.
    unsafe { sys::lg_direct_text(&mut start, &mut end) };
    (start, end)
}

/// Runs `f`, a registration of one of our own ops, allowing our direct ops
/// and our IPMODIFY ops to share a function for its duration.
pub(crate) fn sharing<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: plain calls; the glue records and clears the current task.
    unsafe { sys::lg_direct_share_begin() };
    let r = f();
    // SAFETY: as above.
    unsafe { sys::lg_direct_share_end() };
    r
}

/// One function's direct call: a trampoline slot and a direct ftrace ops.
pub(crate) struct Direct {
    slot: u32,
    tramp: usize,
    ops: KBox<sys::ftrace_ops>,
    registered: bool,
}

// SAFETY: mutated only through `&mut self` (under the registry mutex);
// ftrace synchronises its own accesses to the ops.
unsafe impl Send for Direct {}
// SAFETY: no `&self` method mutates anything.
unsafe impl Sync for Direct {}

impl Direct {
    /// Takes a free slot and prepares a direct ops for the function at
    /// `addr`; `None` when the pool is exhausted or ftrace refuses the filter.
    pub(crate) fn new(addr: usize) -> Option<Self> {
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
        ops.ops_func = Some(sys::lg_direct_ops_func);
        // SAFETY: `ops` is valid and exclusively owned.
        if tramp == 0 || unsafe { sys::ftrace_set_filter_ip(&mut *ops, addr as _, 0, 0) } != 0 {
            release();
            return None;
        }
        // SAFETY: plain call: the slot is ours and unregistered.
        unsafe { sys::lg_direct_slot_set(slot, 0, 0, 0) };
        Some(Direct { slot, tramp, ops, registered: false })
    }

    /// Points the trampoline at `target`, whose text is `[start, end)`.
    /// Only while the function's IPMODIFY ops is registered (see above).
    pub(crate) fn set_target(&mut self, target: usize, start: usize, end: usize) {
        // SAFETY: plain call on our slot.
        unsafe { sys::lg_direct_slot_set(self.slot, target as _, start as _, end.saturating_sub(start) as _) };
    }

    /// Makes the trampoline return to whatever the handler chose.
    pub(crate) fn pass_through(&mut self) {
        self.set_target(0, 0, 0);
    }

    /// Attaches the trampoline to the call site.
    pub(crate) fn register(&mut self) -> Result {
        if self.registered {
            return Ok(());
        }
        // SAFETY: the ops is filtered, initialised by the filter call, not
        // registered, and stays at this address until `unregister`.
        to_result(sharing(|| unsafe { sys::register_ftrace_direct(&mut *self.ops, self.tramp as _) }))?;
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

    /// Whether the trampoline is attached.
    pub(crate) fn is_registered(&self) -> bool {
        self.registered
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
