// SPDX-License-Identifier: GPL-2.0

//! Where livegraft's own work runs: two kthread workers, SCHED_FIFO at the
//! lowest real-time priority (`sched_set_fifo_low`, as e.g. drivers' latency
//! critical workers), created at module load.
//!
//! Why not the system workqueues, as upstream livepatch uses: on a loaded
//! machine every sleep and every `cond_resched()` of a fair-class worker
//! costs it a full wait for its turn behind every runnable task. Rewriting
//! kernel text (`text_poke_bp_batch()`, under every ftrace ops registration
//! and every static key or static call update) calls `cond_resched()` per
//! batch, so with 1000 busy tasks in a 2-vCPU guest a single registration
//! took about 10 s, and the transition's mixed state lasted as long. The
//! work itself is short and bounded (registrations, task walks, stack
//! checks); real-time priority only removes the queueing. The module
//! parameter `fifo_workers=0` keeps both workers in the fair class.
//!
//! * `livegraft` runs the transition work (passes, completion, retirement),
//!   queued by [`crate::core`] and kicked from probes through an irq_work.
//! * `livegraft-setup` runs [`on_setup_worker`] calls: a caller (the patch
//!   module's init, a sysfs write) hands it the text-rewriting steps of a
//!   transition's setup and sleeps until they are done, so it still returns
//!   their result. Jobs run one at a time, never take the registry mutex and
//!   never remove sysfs files, so a caller may wait for them while holding
//!   the registry mutex or a sysfs file's active reference.

use crate::sys;
use core::ffi::c_void;
use kernel::prelude::*;

/// Creates both workers (module init).
pub(crate) fn create() -> Result {
    // SAFETY: plain call, once, before anything can queue work.
    kernel::error::to_result(unsafe { sys::lg_workers_create() })
}

/// Destroys both workers (module exit, after the transition work was cancelled).
pub(crate) fn destroy() {
    // SAFETY: plain call; nothing is queued or can be queued any more.
    unsafe { sys::lg_workers_destroy() };
}

struct Call<F> {
    f: Option<F>,
    result: Option<Result>,
}

unsafe extern "C" fn run_call<F: FnOnce() -> Result>(arg: *mut c_void) {
    // SAFETY: `arg` is the `Call<F>` of `on_setup_worker`, whose caller is
    // blocked until this function has returned.
    let call = unsafe { &mut *arg.cast::<Call<F>>() };
    if let Some(f) = call.f.take() {
        call.result = Some(f());
    }
}

/// Runs `f` on the setup worker and returns its result once it has run.
///
/// `f` may borrow the caller's data (the caller sleeps until `f` returned,
/// as with a scoped thread), but it must not depend on which task runs it
/// (`current`), take the registry mutex, or remove sysfs files.
pub(crate) fn on_setup_worker<F: FnOnce() -> Result>(f: F) -> Result {
    let mut call = Call { f: Some(f), result: None };
    // SAFETY: `run_call::<F>` matches the callback type and receives `call`,
    // which outlives the call: the glue returns only after the worker
    // finished running it.
    unsafe { sys::lg_run_on_setup_worker(Some(run_call::<F>), (&mut call as *mut Call<F>).cast()) };
    call.result.unwrap_or(Err(EINVAL))
}

/// Called by the glue before every job of either worker, with preemption
/// disabled: the worker's loop head (see [`crate::transition::switch_worker_self`]).
#[no_mangle]
extern "C" fn lg_rust_worker_safe_point() {
    crate::transition::switch_worker_self();
}
