// SPDX-License-Identifier: GPL-2.0

//! Stack checks: does a task have one of the transition's affected functions
//! on its kernel stack?
//!
//! Upstream livepatch uses `stack_trace_save_tsk_reliable()`, which is not
//! exported. The glue's `lg_stack_walk()` is its walk
//! (`arch_stack_walk_reliable()`) rebuilt from the exported ORC unwinder
//! API: every frame, scheduler and lock functions included (the exported
//! `stack_trace_save_tsk()` drops those), and an unwinder error, a return
//! address outside kernel text or an overlong stack make the walk
//! unreliable. What upstream adds around the walk, livegraft does too:
//! - the task is pinned while it is unwound and switched, blocked or
//!   runnable, by `task_call_func()` as upstream pins it (see
//!   `lg_call_if_not_running()` in the glue: pi_lock, and the runqueue lock
//!   of a runnable task), so the stack cannot change under the unwinder and
//!   the task cannot run between the check and the switch;
//!   an idle task is pinned by its own CPU (`lg_call_if_idle_parked()`);
//! - a task in `TASK_DEAD` is not unwound (its stack may be gone) and never
//!   runs again;
//! - running tasks are never unwound from another CPU.

use crate::logic::stack_verdict::{self, Judge};
use crate::logic::symbols::Resolution;
use crate::transition::Code;
use crate::sys;
use core::ffi::c_void;
use kernel::prelude::*;

/// Binds `task_call_func()` (not exported) for [`check_blocked`] (module
/// init, process context). Without it only blocked tasks can be pinned:
/// dmesg says so, and runnable ones switch at their own safe points.
pub(crate) fn resolve_pinning() {
    match crate::symbols::find(None, kernel::c_str!("task_call_func"), 0) {
        // SAFETY: the address is vmlinux's unique `task_call_func`, whose
        // prototype (include/linux/wait.h) is what the glue's static call
        // declares.
        Resolution::Found(addr) => unsafe { sys::lg_task_call_func_bind(addr as _) },
        _ => pr_warn!("task_call_func() not found: runnable tasks are not stack-checked\n"),
    }
}

/// What a stack check found (`logic::stack_verdict`, the rule the model test judges with).
pub(crate) type Verdict = stack_verdict::Verdict<usize>;

/// `lg_stack_consume_fn`: one return address for the walk's verdict in the
/// making; stops the walk at the first affected frame.
unsafe extern "C" fn consume<F: Fn(usize) -> bool>(cookie: *mut c_void, addr: usize) -> bool {
    // SAFETY: `cookie` is the `Judge<usize, F>` of `walk`, alive for the walk.
    let judge = unsafe { &mut *cookie.cast::<Judge<usize, F>>() };
    judge.frame(addr)
}

/// Walks `task`'s whole kernel stack.
///
/// # Safety
///
/// `task` must be the current task, or a task that cannot run for the
/// duration of the call and is not `TASK_DEAD`.
unsafe fn walk(task: *mut sys::task_struct, affected: Code<'_>) -> Verdict {
    let is_affected = |addr: usize| affected.contains(addr);
    // SAFETY: the caller's promise.
    unsafe { walk_judged(task, is_affected) }
}

/// [`walk`] with the affected test as a type of its own, for `consume`.
///
/// # Safety
///
/// As [`walk`].
unsafe fn walk_judged<F: Fn(usize) -> bool>(task: *mut sys::task_struct, is_affected: F) -> Verdict {
    let mut judge = Judge::new(is_affected);
    // SAFETY: `consume::<F>` matches `lg_stack_consume_fn` and `judge`
    // outlives the walk; the caller's promise makes the stack stable and
    // alive.
    let ret = unsafe { sys::lg_stack_walk(task, Some(consume::<F>), (&mut judge as *mut Judge<usize, F>).cast()) };
    // LG_WALK_STOPPED: `consume` found an affected frame, which the verdict
    // reports whatever the rest of the stack holds.
    judge.verdict(i64::from(ret) == i64::from(sys::LG_WALK_COMPLETE))
}

/// Checks the current task's stack (from a safe-point hook).
pub(crate) fn check_current(affected: Code<'_>) -> Verdict {
    // SAFETY: plain call.
    let me = unsafe { sys::lg_current_task() };
    // SAFETY: the current task's stack is its own, alive while it runs this.
    unsafe { walk(me, affected) }
}

struct Blocked<'a, F: FnMut(Verdict)> {
    affected: Code<'a>,
    on_verdict: F,
}

/// The verdict on the stack of a task that cannot run meanwhile (pinned
/// blocked, every CPU stopped, or a parked idle task of this CPU).
///
/// # Safety
///
/// `task` must be valid and unable to run for the duration of the call.
unsafe fn check_stable(task: *mut sys::task_struct, affected: Code<'_>) -> Verdict {
    // SAFETY: `task` is valid (the caller's promise).
    let dead = unsafe { sys::lg_task_is_dead(task) };
    // A dead task is not walked: it never runs again, and its stack may
    // already be freed.
    // SAFETY: the task cannot run (the caller's promise) and, when walked,
    // is not dead.
    stack_verdict::judge_stable(dead, || unsafe { walk(task, affected) })
}

unsafe extern "C" fn unwind_blocked<F: FnMut(Verdict)>(task: *mut sys::task_struct, data: *mut c_void) -> i32 {
    // SAFETY: `data` is the `Blocked<F>` passed by `check_blocked` or
    // `check_parked_idle`, alive for the duration of the glue call.
    let ctx = unsafe { &mut *data.cast::<Blocked<'_, F>>() };
    // SAFETY: `task` is pinned by the glue caller (blocked: pi_lock held,
    // off any runqueue and CPU; idle: off this CPU, which is in an IPI) and
    // valid (reference under RCU, or an idle task, never freed).
    let verdict = unsafe { check_stable(task, ctx.affected) };
    (ctx.on_verdict)(verdict);
    0
}

/// Checks a task that is not on a CPU, blocked or runnable (only blocked
/// ones if `task_call_func()` could not be resolved at load). `on_verdict`
/// runs while the task is still pinned, so a switch decided there cannot
/// race with the task running. Returns `false` (and does not call
/// `on_verdict`) when the task is on a CPU.
///
/// Checking runnable tasks matters: a kernel thread with no hooked loop
/// head that is woken by the same tick as the transition work (the RCU
/// grace-period kthread on a preemptible kernel under load) was runnable at
/// every pass and kept a transition waiting for tens of seconds (scenario
/// 29).
///
/// # Safety
///
/// `task` must stay valid for the call (the caller is in an RCU read-side
/// section of the task walk or holds a reference).
pub(crate) unsafe fn check_blocked<F: FnMut(Verdict)>(
    task: *mut sys::task_struct,
    affected: Code<'_>,
    on_verdict: F,
) -> bool {
    let mut ctx = Blocked { affected, on_verdict };
    // SAFETY: `unwind_blocked::<F>` matches `lg_task_call_fn` and `ctx`
    // outlives the call; the caller keeps `task` alive.
    let ret = unsafe {
        sys::lg_call_if_not_running(task, Some(unwind_blocked::<F>), (&mut ctx as *mut Blocked<'_, F>).cast())
    };
    ret == 0
}

/// From an IPI callback: checks this CPU's idle task when another task runs
/// here (the idle task is then parked off the CPU in `schedule_idle()` and
/// cannot run before the callback returns). `on_verdict` runs while it is
/// pinned. Returns `false` (and does not call `on_verdict`) when the idle
/// task is the one running, or cannot be found.
pub(crate) fn check_parked_idle<F: FnMut(Verdict)>(affected: Code<'_>, on_verdict: F) -> bool {
    let mut ctx = Blocked { affected, on_verdict };
    // SAFETY: `unwind_blocked::<F>` matches `lg_task_call_fn` and `ctx`
    // outlives the call; the glue checks the context (interrupts off, the
    // idle task off this CPU) before it calls back.
    let ret = unsafe { sys::lg_call_if_idle_parked(Some(unwind_blocked::<F>), (&mut ctx as *mut Blocked<'_, F>).cast()) };
    ret == 0
}

/// Checks a task while every CPU is stopped (`stop_machine`): `None` when
/// the task is on a CPU (the stoppers), else the verdict on its stack.
///
/// # Safety
///
/// Must run inside a `stop_machine` callback, with `task` valid (RCU walk).
pub(crate) unsafe fn check_stopped(task: *mut sys::task_struct, affected: Code<'_>) -> Option<Verdict> {
    // SAFETY: `task` is valid under the walk's RCU read lock.
    if unsafe { sys::lg_task_on_cpu(task) } {
        return None;
    }
    // SAFETY: the caller stopped every CPU, so a task off its CPU cannot run.
    Some(unsafe { check_stable(task, affected) })
}
