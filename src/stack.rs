// SPDX-License-Identifier: GPL-2.0

//! Stack checks: does a task have one of the transition's affected functions
//! on its kernel stack?
//!
//! Upstream livepatch uses `stack_trace_save_tsk_reliable()`, which is not
//! exported. We use `stack_trace_save{,_tsk}()` with the ORC unwinder and
//! compensate for what "reliable" would add:
//! - the task is pinned while it is unwound and switched (see
//!   `lg_call_if_blocked()` in the glue), so the stack cannot change under
//!   the unwinder and the task cannot run between the check and the switch;
//! - a trace that fills the whole buffer is treated as unreliable (frames
//!   beyond it were not seen), as is an empty trace of a live task;
//! - running tasks are never unwound from another CPU.
//! What remains unproven is the absence of unwinder errors in the middle of a
//! stack (an ORC gap); Documentation/design.rst discusses that trade-off.

use crate::symbols::Extent;
use crate::sys;
use core::ffi::c_void;

/// Frames saved per check; a deeper stack counts as unreliable.
const MAX_ENTRIES: usize = 64;

/// What a stack check found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// None of the functions is on the stack.
    Clean,
    /// This return address lies in one of the functions.
    Affected(usize),
    /// The stack could not be read completely.
    Unreliable,
}

fn judge(entries: &[usize], affected: &[Extent], full: bool) -> Verdict {
    for &ret in entries {
        if affected.iter().any(|e| e.contains(ret)) {
            return Verdict::Affected(ret);
        }
    }
    if full {
        Verdict::Unreliable
    } else {
        Verdict::Clean
    }
}

/// Checks the current task's stack (from a safe-point hook).
pub(crate) fn check_current(affected: &[Extent]) -> Verdict {
    let mut buf = [0usize; MAX_ENTRIES];
    // SAFETY: `buf` has room for MAX_ENTRIES entries of `unsigned long`.
    let n = unsafe { sys::stack_trace_save(buf.as_mut_ptr().cast(), MAX_ENTRIES as u32, 0) } as usize;
    let entries = buf.get(..n).unwrap_or(&buf);
    judge(entries, affected, n >= MAX_ENTRIES)
}

struct Blocked<'a, F: FnMut(Verdict)> {
    affected: &'a [Extent],
    on_verdict: F,
}

/// The verdict on the stack of a task that cannot run meanwhile (pinned
/// blocked, or every CPU stopped).
///
/// # Safety
///
/// `task` must be valid and unable to run for the duration of the call.
unsafe fn check_stable(task: *mut sys::task_struct, affected: &[Extent]) -> Verdict {
    let mut buf = [0usize; MAX_ENTRIES];
    // SAFETY: the caller keeps the task from running, so its stack is
    // stable; `buf` has MAX_ENTRIES room.
    let n = unsafe { sys::stack_trace_save_tsk(task, buf.as_mut_ptr().cast(), MAX_ENTRIES as u32, 0) }
        as usize;
    if n == 0 {
        // SAFETY: `task` is valid (the caller's promise).
        let dead = unsafe { sys::lg_task_is_dead(task) };
        // A dead task whose stack is already freed never runs again.
        if dead {
            Verdict::Clean
        } else {
            Verdict::Unreliable
        }
    } else {
        judge(buf.get(..n).unwrap_or(&buf), affected, n >= MAX_ENTRIES)
    }
}

unsafe extern "C" fn unwind_blocked<F: FnMut(Verdict)>(task: *mut sys::task_struct, data: *mut c_void) -> i32 {
    // SAFETY: `data` is the `Blocked<F>` passed by `check_blocked`, alive for
    // the duration of `lg_call_if_blocked`.
    let ctx = unsafe { &mut *data.cast::<Blocked<'_, F>>() };
    // SAFETY: `task` is pinned blocked by the caller (pi_lock held, off any
    // runqueue and CPU) and valid (reference under RCU).
    let verdict = unsafe { check_stable(task, ctx.affected) };
    (ctx.on_verdict)(verdict);
    0
}

/// Checks a task that is not running. `on_verdict` runs while the task is
/// still pinned, so a switch decided there cannot race with the task waking
/// up. Returns `false` (and does not call `on_verdict`) when the task is
/// running or runnable.
///
/// # Safety
///
/// `task` must stay valid for the call (the caller is in an RCU read-side
/// section of the task walk or holds a reference).
pub(crate) unsafe fn check_blocked<F: FnMut(Verdict)>(
    task: *mut sys::task_struct,
    affected: &[Extent],
    on_verdict: F,
) -> bool {
    let mut ctx = Blocked { affected, on_verdict };
    // SAFETY: `unwind_blocked::<F>` matches `lg_task_call_fn` and `ctx`
    // outlives the call; the caller keeps `task` alive.
    let ret = unsafe {
        sys::lg_call_if_blocked(task, Some(unwind_blocked::<F>), (&mut ctx as *mut Blocked<'_, F>).cast())
    };
    ret == 0
}

/// Checks a task while every CPU is stopped (`stop_machine`): `None` when
/// the task is on a CPU (the stoppers), else the verdict on its stack.
///
/// # Safety
///
/// Must run inside a `stop_machine` callback, with `task` valid (RCU walk).
pub(crate) unsafe fn check_stopped(task: *mut sys::task_struct, affected: &[Extent]) -> Option<Verdict> {
    // SAFETY: `task` is valid under the walk's RCU read lock.
    if unsafe { sys::lg_task_on_cpu(task) } {
        return None;
    }
    // SAFETY: the caller stopped every CPU, so a task off its CPU cannot run.
    Some(unsafe { check_stable(task, affected) })
}
