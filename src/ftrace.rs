// SPDX-License-Identifier: GPL-2.0

//! Thin safe wrapper around `struct ftrace_ops`.
//!
//! The 6.12 `kernel` crate has no ftrace abstraction. [`FtraceOps`] owns one
//! heap-allocated `ftrace_ops` (ftrace keeps pointers to it, so it must not
//! move), filtered to exactly one function address, and guarantees that it is
//! unregistered and its filter freed before the memory goes away.
//! `unregister_ftrace_function()` returns only after every CPU has left the
//! handler for this ops (ftrace synchronises dynamic ops with RCU-tasks), so
//! the `private` data may be freed right after [`FtraceOps::unregister`].

use crate::sys;
use core::ffi::c_void;
use kernel::error::{code::ENOENT, to_result, Result};
use kernel::prelude::*;

/// The C prototype of an ftrace callback (`ftrace_func_t`).
pub(crate) type Handler = unsafe extern "C" fn(
    ip: usize,
    parent_ip: usize,
    op: *mut sys::ftrace_ops,
    fregs: *mut sys::ftrace_regs,
);

/// Flags of an ops that redirects a function: only one `IPMODIFY` owner per
/// function, and `PERMANENT` so that `ftrace_enabled=0` cannot silently
/// disable a live patch (as upstream livepatch).
pub(crate) const FLAGS_REDIRECT: usize =
    (sys::FTRACE_OPS_FL_IPMODIFY | sys::FTRACE_OPS_FL_PERMANENT) as usize;
/// Flags of an ops that only observes calls (the kthread safe-point hooks).
pub(crate) const FLAGS_OBSERVE: usize = sys::FTRACE_OPS_FL_PERMANENT as usize;

/// One `ftrace_ops` bound to one function address.
pub(crate) struct FtraceOps {
    ops: KBox<sys::ftrace_ops>,
    filtered: bool,
    registered: bool,
}

// SAFETY: the ops is only mutated through `&mut self`; ftrace's own accesses
// are synchronised by ftrace_lock.
unsafe impl Send for FtraceOps {}
// SAFETY: no `&self` method mutates anything.
unsafe impl Sync for FtraceOps {}

impl FtraceOps {
    /// Prepares an ops calling `handler` with `private` for the function at `addr`.
    /// Fails with `-ENOENT` when `addr` has no ftrace call site (not traceable).
    pub(crate) fn new(handler: Handler, private: *mut c_void, flags: usize, addr: usize) -> Result<Self> {
        let mut this = Self::unfiltered(handler, private, flags)?;
        // SAFETY: `this.ops` is a valid, exclusively owned ops; ftrace
        // initialises its filter hash on first use.
        to_result(unsafe { sys::ftrace_set_filter_ip(&mut *this.ops, addr as _, 0, 0) })?;
        this.filtered = true;
        Ok(this)
    }

    /// Prepares one ops for every address in `addrs` (zeros are skipped).
    /// One ops for several functions costs one ftrace code update instead
    /// of one per function when it is registered and unregistered.
    pub(crate) fn for_addresses(handler: Handler, private: *mut c_void, flags: usize, addrs: &[usize]) -> Result<Self> {
        let mut this = Self::unfiltered(handler, private, flags)?;
        let mut ips: KVec<usize> = KVec::new();
        for &a in addrs.iter().filter(|&&a| a != 0) {
            ips.push(a, GFP_KERNEL)?;
        }
        if ips.is_empty() {
            return Err(ENOENT);
        }
        let cnt = u32::try_from(ips.len()).map_err(|_| EINVAL)?;
        // SAFETY: `this.ops` is a valid, exclusively owned ops and `ips`
        // holds `cnt` addresses.
        to_result(unsafe { sys::ftrace_set_filter_ips(&mut *this.ops, ips.as_mut_ptr(), cnt, 0, 0) })?;
        this.filtered = true;
        Ok(this)
    }

    fn unfiltered(handler: Handler, private: *mut c_void, flags: usize) -> Result<Self> {
        let mut ops = KBox::new(sys::ftrace_ops::default(), GFP_KERNEL)?;
        // SAFETY: `Handler` has exactly the ABI of `ftrace_func_t`'s pointee
        // (same argument types in the same order, C calling convention).
        ops.func = Some(unsafe { core::mem::transmute::<Handler, _>(handler) });
        ops.private = private;
        ops.flags = flags as _;
        Ok(FtraceOps { ops, filtered: false, registered: false })
    }

    /// Starts calling the handler on every call of the function.
    pub(crate) fn register(&mut self) -> Result {
        if self.registered {
            return Ok(());
        }
        // SAFETY: the ops is valid, filtered, and stays at this address until
        // `unregister` (called at the latest by `drop`).
        to_result(unsafe { sys::register_ftrace_function(&mut *self.ops) })?;
        self.registered = true;
        Ok(())
    }

    /// Stops the handler; on return no CPU runs it for this ops any more.
    pub(crate) fn unregister(&mut self) {
        if !self.registered {
            return;
        }
        // SAFETY: the ops was registered by `register`.
        let ret = unsafe { sys::unregister_ftrace_function(&mut *self.ops) };
        if ret != 0 {
            pr_err!("failed to unregister ftrace handler ({})\n", ret);
        }
        self.registered = false;
    }
}

impl Drop for FtraceOps {
    fn drop(&mut self) {
        self.unregister();
        if self.filtered {
            // SAFETY: the ops is no longer registered, so ftrace holds no
            // reference to its filter hash.
            unsafe { sys::ftrace_free_filter(&mut *self.ops) };
        }
    }
}
