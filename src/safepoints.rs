// SPDX-License-Identifier: GPL-2.0

//! Safe points: where a task may switch universe. Registered only while a
//! transition runs, all removed at its completion.
//!
//! | safe point | hook | stack check |
//! |---|---|---|
//! | user task leaves a syscall | `raw_syscalls:sys_exit` | no: the kernel stack is empty |
//! | kworker finished a work item | `workqueue:workqueue_execute_end` | yes |
//! | kthread loop head | ftrace on `kthread_should_stop`, `kthread_freezable_should_stop` | yes |
//! | freezer (any task that freezes) | ftrace on `__refrigerator` | yes |
//! | CPU-bound kernel code | ftrace on `__cond_resched` | yes |
//! | idle task between idle-loop iterations | ftrace on `arch_cpu_idle_enter` (in `do_idle()`, outside cpuidle) | yes |
//! | idle task parked off its busy CPU | stack check in the transition's IPI on that CPU | yes, pinned by its CPU |
//! | idle task of an offline CPU | the transition work's pass, under `cpus_read_lock()` (`Transition::pass`) | no: its stack is abandoned, an onlined CPU restarts it on a fresh one |
//! | user task returns to user mode | a task_work a pass queues (`transition::request_user_return`), run by `task_work_run()` | yes (the stack holds only the return path) |
//! | blocked task | stack check from the transition work | yes, pinned (see `stack.rs`) |
//!
//! Hooks marked optional in `HOOKED` may be absent from a kernel
//! configuration; a missing required one fails the module load.
//! Each safe point is a `logic::decide::SafePoint`, whose switch rule
//! (`decide::switch_check`) the model test runs too. Every switch happens in
//! task context (the rule refuses anything else): a work item of a BH workqueue runs in softirq context on
//! top of whatever task it interrupted, so `workqueue_execute_end` there is no
//! safe point of that task, and an interrupt handler sees the interrupted
//! stack only through an interrupt frame, which upstream's reliable unwinder
//! refuses too.
//!
//! Fork (ftrace on `wake_up_new_task`: the child inherits the parent's
//! universe before it first runs) and free (ftrace on `__put_task_struct`:
//! the entry is released) are registered first and removed last. The entry
//! is released at free and not at `sched_process_exit`: an exiting task
//! still runs kernel code (the rest of `do_exit`) and must keep its universe
//! until it can run no more.
//!
//! Every ftrace-hooked function shares one ftrace ops and every hook that
//! can be an ftrace hook is one: registering a tracepoint flips a static key
//! and registering an ops rewrites call sites, each costing several rounds
//! of cross-CPU synchronisation, which dominated the transition latency.
//!
//! Every probe runs with preemption disabled and reads `ACTIVE` once; the
//! transition is torn down only after the probes are unregistered and
//! `tracepoint_synchronize_unregister()` / ftrace unregistration returned.

use crate::ftrace::{self, FtraceOps};
use crate::logic::symbols::{check_hooks, Need, Resolution};
use crate::sys;
use crate::tracepoint::Tracepoint;
use crate::logic::decide::SafePoint;
use crate::transition;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;

/// Whether return-to-user requests may switch tasks: true from the
/// registration of the switching safe points to the start of their
/// unregistration. A request is a task_work queued on a task, which no module
/// can cancel (`task_work_cancel()` is not exported): it may run at any
/// later time, long after its transition ended, so it loads this flag first
/// (with preemption disabled) and touches the published transition only if
/// it is set; `SafePoints::unregister_all` clears it before the grace period
/// that precedes freeing the transition.
static USER_RETURN_ARMED: AtomicBool = AtomicBool::new(false);

/// See [`USER_RETURN_ARMED`]; the caller runs with preemption disabled.
pub(crate) fn user_return_armed() -> bool {
    // Acquire: pairs with the Release stores in `register_switching` and
    // `unregister_all`.
    USER_RETURN_ARMED.load(Ordering::Acquire)
}

unsafe extern "C" fn on_sys_exit(_data: *mut c_void, _regs: *mut sys::pt_regs, _ret: isize) {
    transition::switch_current(SafePoint::SyscallExit);
}

unsafe extern "C" fn on_work_end(_data: *mut c_void, _work: *mut sys::work_struct, _func: *mut c_void) {
    transition::switch_current(SafePoint::WorkItemEnd);
}

/// What a hooked kernel function is to livegraft.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Hook {
    /// A kernel thread's loop head: a safe point for the current task,
    /// after a stack check.
    LoopHead,
    /// `__cond_resched()`: CPU-bound kernel code, mid-unit; a safe point
    /// for the current task after a stack check (upstream's guarantee).
    CondResched,
    /// `__refrigerator()`: the current task freezes (suspend, hibernation,
    /// `pm_test`); a kthread that calls `try_to_freeze()` in its loop gets
    /// there with nothing of its loop body on the stack. A safe point after
    /// a stack check, counted apart from the loop heads.
    Freezer,
    /// `wake_up_new_task(p)`: `p` was forked by the current task and has
    /// not run yet (also covers io_uring workers, which bypass the
    /// sched_process_fork tracepoint).
    Fork,
    /// `__put_task_struct(p)`: the last reference to `p` is gone.
    Free,
    /// `arch_cpu_idle_enter()`: the idle task starts an idle-loop
    /// iteration, in task context, with only the idle loop on its stack
    /// (`power:cpu_idle` fires inside cpuidle, mid-iteration).
    IdleLoop,
}

/// The kernel functions hooked with the one observing ftrace ops, and
/// whether livegraft can work without them (see `logic::symbols::Need`).
/// Required: fork and free tracking (without them a new task has no
/// universe, or a freed task's entry is handed to the next task allocated
/// at that address), and the kernel threads' loop heads, present in every
/// 6.12 configuration. Optional: the safe points some configurations lack:
/// `__refrigerator` (`CONFIG_FREEZER`), `__cond_resched` (not with full or
/// dynamic-full preemption); the tasks they would switch then switch at
/// their loop head or by stack check.
/// The idle loop's safe point is required too: without it an idle CPU's
/// idle task would never switch.
const HOOKED: [(&CStr, Hook, Need); 7] = [
    (c_str!("kthread_should_stop"), Hook::LoopHead, Need::Required),
    (c_str!("kthread_freezable_should_stop"), Hook::LoopHead, Need::Required),
    (c_str!("__refrigerator"), Hook::Freezer, Need::Optional),
    (c_str!("__cond_resched"), Hook::CondResched, Need::Optional),
    (c_str!("wake_up_new_task"), Hook::Fork, Need::Required),
    (c_str!("__put_task_struct"), Hook::Free, Need::Required),
    (c_str!("arch_cpu_idle_enter"), Hook::IdleLoop, Need::Required),
];

/// Their text ranges, resolved once at module load (start 0: an absent
/// optional hook).
static HOOKED_START: [AtomicUsize; 7] = [const { AtomicUsize::new(0) }; 7];
static HOOKED_END: [AtomicUsize; 7] = [const { AtomicUsize::new(0) }; 7];

/// Resolves the hooked functions (module init, process context), each a
/// unique vmlinux name; fails, and with it the module load, when a required
/// one is missing or any is ambiguous. Resolving per transition cost a full
/// search of ftrace's records by name.
pub(crate) fn resolve() -> Result {
    let found: [(Need, Resolution); 7] =
        core::array::from_fn(|i| HOOKED.get(i).map_or((Need::Required, Resolution::NotFound), |&(name, _, need)| {
            (need, crate::symbols::find(None, name, 0))
        }));
    let starts = match check_hooks(&found) {
        Ok(starts) => starts,
        Err(i) => {
            if let (Some((name, _, need)), Some((_, r))) = (HOOKED.get(i), found.get(i)) {
                let what = if *r == Resolution::Ambiguous { "is ambiguous" } else { "was not found" };
                let role = if *need == Need::Required { "required " } else { "" };
                pr_err!("{}hook '{}' {} in vmlinux: refusing to load\n", role, name, what);
            }
            return Err(ENOENT);
        }
    };
    for (i, &start) in starts.iter().enumerate() {
        let end = if start != 0 {
            crate::symbols::extent_of(start)?.end
        } else {
            if let Some((name, _, _)) = HOOKED.get(i) {
                pr_info!("optional safe point '{}' is not in this kernel: not hooked\n", name);
            }
            0
        };
        if let (Some(s), Some(e)) = (HOOKED_START.get(i), HOOKED_END.get(i)) {
            s.store(start, Ordering::Relaxed);
            e.store(end, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Which hook `ip` (an ftrace call site) belongs to.
fn hook_of(ip: usize) -> Option<Hook> {
    HOOKED.iter().zip(HOOKED_START.iter().zip(HOOKED_END.iter())).find_map(|((_, hook, _), (s, e))| {
        let (s, e) = (s.load(Ordering::Relaxed), e.load(Ordering::Relaxed));
        (s != 0 && s <= ip && ip < e).then_some(*hook)
    })
}

/// The ftrace callback of every hooked kernel function.
unsafe extern "C" fn on_hooked_function(
    ip: usize,
    parent_ip: usize,
    _op: *mut sys::ftrace_ops,
    fregs: *mut sys::ftrace_regs,
) {
    // SAFETY: plain call of the glue wrapper (also disables preemption).
    let bit = unsafe { sys::lg_ftrace_test_recursion_trylock(ip as _, parent_ip as _) };
    if bit < 0 {
        return;
    }
    match hook_of(ip) {
        Some(Hook::LoopHead) => transition::switch_current(SafePoint::KthreadLoopHead),
        Some(Hook::CondResched) => transition::switch_current(SafePoint::CondResched),
        Some(Hook::Freezer) => transition::switch_current(SafePoint::Freezer),
        // SAFETY: with DYNAMIC_FTRACE_WITH_ARGS `fregs` holds the arguments;
        // the first one of wake_up_new_task() is the new task.
        Some(Hook::Fork) => transition::task_forked(transition::current_key(), unsafe { sys::lg_ftrace_arg0(fregs) } as usize),
        // SAFETY: as above; the first argument is the task being freed.
        Some(Hook::Free) => transition::task_freed(unsafe { sys::lg_ftrace_arg0(fregs) } as usize),
        Some(Hook::IdleLoop) => transition::switch_idle_current(),
        None => {}
    }
    // SAFETY: `bit` came from the successful trylock above.
    unsafe { sys::lg_ftrace_test_recursion_unlock(bit) };
}

/// A typed tracepoint probe registration.
struct Probe {
    tp: Tracepoint,
    func: *mut c_void,
}

/// Registers the probes in `list`, all or none.
///
/// # Safety
///
/// Each `(name, func)` must pair a tracepoint with a probe of its exact
/// prototype (preceded by `void *data`).
unsafe fn register_all(list: &[(&'static CStr, *mut c_void)], out: &mut KVec<Probe>) -> Result {
    for &(name, func) in list {
        let tp = match Tracepoint::find(name) {
            Ok(tp) => tp,
            Err(e) => {
                pr_err!("tracepoint {} not found\n", name);
                return Err(e);
            }
        };
        // SAFETY: the caller vouches for the prototype; the probes are
        // functions of this module, unregistered (and synchronised) before
        // it can be unloaded.
        unsafe { tp.register(func, core::ptr::null_mut())? };
        out.push(Probe { tp, func }, GFP_KERNEL)?;
    }
    Ok(())
}

/// The hooks of one transition.
pub(crate) struct SafePoints {
    switching: KVec<Probe>,
    kernel_ops: KVec<FtraceOps>,
    /// Something was registered since the last `unregister_all`.
    armed: bool,
}

impl SafePoints {
    /// Nothing registered yet.
    pub(crate) fn new() -> Self {
        SafePoints { switching: KVec::new(), kernel_ops: KVec::new(), armed: false }
    }

    /// Registers the hooked kernel functions (fork and free tracking, and
    /// the kernel-thread and idle-loop safe points, which refuse to
    /// switch until the table accepts switches): before the task walk. One
    /// ftrace ops for all of them: one code update instead of one per hook.
    pub(crate) fn register_lifecycle(&mut self) -> Result {
        let addrs: [usize; 7] = core::array::from_fn(|i| HOOKED_START.get(i).map_or(0, |a| a.load(Ordering::Relaxed)));
        let mut ops =
            FtraceOps::for_addresses(on_hooked_function, core::ptr::null_mut(), ftrace::FLAGS_OBSERVE, &addrs)?;
        self.armed = true;
        ops.register()?;
        self.kernel_ops.push(ops, GFP_KERNEL)?;
        Ok(())
    }

    /// Registers every switching safe point.
    pub(crate) fn register_switching(&mut self) -> Result {
        let list = [
            // void (*)(void *, struct pt_regs *regs, long ret)
            (c_str!("sys_exit"), on_sys_exit as *mut c_void),
            // void (*)(void *, struct work_struct *work, work_func_t function)
            (c_str!("workqueue_execute_end"), on_work_end as *mut c_void),
        ];
        self.armed = true;
        // SAFETY: the prototypes above match include/trace/events/{syscalls,
        // workqueue}.h.
        unsafe { register_all(&list, &mut self.switching)? };
        // Release: pairs with the Acquire in `user_return_armed()`.
        USER_RETURN_ARMED.store(true, Ordering::Release);
        Ok(())
    }

    /// Removes everything; on return no probe of ours runs, and every
    /// context that was inside a preemption-disabled section when this was
    /// called has left it (the ftrace unregistration forces a schedule on
    /// every CPU and waits for Tasks RCU; the tracepoint sync adds RCU and
    /// the tracepoints' SRCU), which is what `core.rs` relies on to free
    /// the table after completion.
    pub(crate) fn unregister_all(&mut self) {
        if !self.armed {
            return;
        }
        self.armed = false;
        // Before the synchronisation below: a return-to-user request that
        // still sees `true` runs in a preemption-disabled section that began
        // before it, so `tracepoint_synchronize_unregister()` (which includes
        // synchronize_rcu()) waits for it; one that begins later sees
        // `false` and does not touch the transition (see `user_return_armed`).
        USER_RETURN_ARMED.store(false, Ordering::Release);
        for p in core::mem::replace(&mut self.switching, KVec::new()).iter() {
            p.tp.unregister(p.func, core::ptr::null_mut());
        }
        let had_ops = !self.kernel_ops.is_empty();
        // Dropping an FtraceOps unregisters it and waits for its handlers.
        self.kernel_ops = KVec::new();
        // SAFETY: plain calls; waits until no probe of ours runs.
        unsafe {
            sys::lg_tracepoint_synchronize_unregister();
            if !had_ops {
                sys::lg_synchronize_all_contexts();
            }
        }
    }
}

impl Drop for SafePoints {
    fn drop(&mut self) {
        self.unregister_all();
    }
}



