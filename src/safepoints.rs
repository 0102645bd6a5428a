// SPDX-License-Identifier: GPL-2.0

//! Safe points: where a task may switch universe. Registered only while a
//! transition runs, all removed at its completion.
//!
//! | safe point | hook | stack check |
//! |---|---|---|
//! | user task leaves a syscall | `raw_syscalls:sys_exit` | no: the kernel stack is empty |
//! | kworker finished a work item | `workqueue:workqueue_execute_end` | yes |
//! | kthread loop head | ftrace on `kthread_should_stop`, `kthread_freezable_should_stop` | yes |
//! | freezer | ftrace on `__refrigerator` | yes |
//! | CPU-bound kernel code | ftrace on `__cond_resched` | yes |
//! | idle task enters idle | `power:cpu_idle` (state != exit) | no: the idle loop holds no patched state |
//! | task interrupted in user mode | `irq_vectors:local_timer_entry` (the tick) | no: the kernel stack is empty |
//! | blocked task | stack check from the transition work | yes, pinned (see `stack.rs`) |
//!
//! Fork (`sched:sched_process_fork`, the child inherits the parent's
//! universe) and free (`sched:sched_process_free`, the entry is released)
//! are registered first and removed last. The entry is released at free and
//! not at `sched_process_exit`: an exiting task still runs kernel code (the
//! rest of `do_exit`) and must keep its universe until it can run no more.
//!
//! Every probe runs with preemption disabled and reads `ACTIVE` once; the
//! transition is torn down only after the probes are unregistered and
//! `tracepoint_synchronize_unregister()` / ftrace unregistration returned.

use crate::ftrace::{self, FtraceOps};
use crate::sys;
use crate::tracepoint::Tracepoint;
use crate::transition::{self, Kind};
use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::c_str;
use kernel::prelude::*;
use kernel::str::CStr;

/// `PWR_EVENT_EXIT`: the cpu_idle event of leaving idle.
const PWR_EVENT_EXIT: u32 = u32::MAX;

unsafe extern "C" fn on_sys_exit(_data: *mut c_void, _regs: *mut sys::pt_regs, _ret: isize) {
    transition::switch_current(Kind::Syscall, false);
}

unsafe extern "C" fn on_work_end(_data: *mut c_void, _work: *mut sys::work_struct, _func: *mut c_void) {
    transition::switch_current(Kind::Workqueue, true);
}

unsafe extern "C" fn on_cpu_idle(_data: *mut c_void, state: u32, cpu: u32) {
    if state != PWR_EVENT_EXIT {
        transition::switch_idle(cpu);
    }
}

unsafe extern "C" fn on_timer(_data: *mut c_void, _vector: i32) {
    transition::switch_if_user_interrupted();
}

unsafe extern "C" fn on_fork(_data: *mut c_void, parent: *mut sys::task_struct, child: *mut sys::task_struct) {
    transition::task_forked(parent as usize, child as usize);
}

unsafe extern "C" fn on_free(_data: *mut c_void, task: *mut sys::task_struct) {
    transition::task_freed(task as usize);
}

/// The ftrace callback on the kthread/freezer/cond_resched safe points.
unsafe extern "C" fn on_kernel_safe_point(
    ip: usize,
    parent_ip: usize,
    _op: *mut sys::ftrace_ops,
    _fregs: *mut sys::ftrace_regs,
) {
    // SAFETY: plain call of the glue wrapper (also disables preemption).
    let bit = unsafe { sys::lg_ftrace_test_recursion_trylock(ip as _, parent_ip as _) };
    if bit < 0 {
        return;
    }
    transition::switch_current(Kind::Kthread, true);
    // SAFETY: `bit` came from the successful trylock above.
    unsafe { sys::lg_ftrace_test_recursion_unlock(bit) };
}

/// The kernel-thread safe points hooked with ftrace.
const KERNEL_SAFE_POINTS: [&CStr; 4] = [
    c_str!("kthread_should_stop"),
    c_str!("kthread_freezable_should_stop"),
    c_str!("__refrigerator"),
    // Absent with some preemption models: then it is simply not hooked.
    c_str!("__cond_resched"),
];

/// Their addresses, resolved once at module load (0: absent).
static KERNEL_SAFE_POINT_ADDRS: [AtomicUsize; 4] =
    [AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0)];

/// Resolves the kernel-thread safe points (module init, process context):
/// resolving per transition cost a full search of ftrace's records by name.
pub(crate) fn resolve() {
    for (name, slot) in KERNEL_SAFE_POINTS.iter().zip(KERNEL_SAFE_POINT_ADDRS.iter()) {
        slot.store(crate::symbols::address_of(name).unwrap_or(0), Ordering::Relaxed);
    }
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
    lifecycle: KVec<Probe>,
    switching: KVec<Probe>,
    kernel_ops: KVec<FtraceOps>,
}

impl SafePoints {
    /// Nothing registered yet.
    pub(crate) fn new() -> Self {
        SafePoints { lifecycle: KVec::new(), switching: KVec::new(), kernel_ops: KVec::new() }
    }

    /// Registers fork and free tracking: before the task walk.
    pub(crate) fn register_lifecycle(&mut self) -> Result {
        let list = [
            // void (*)(void *, struct task_struct *parent, struct task_struct *child)
            (c_str!("sched_process_fork"), on_fork as *mut c_void),
            // void (*)(void *, struct task_struct *p)
            (c_str!("sched_process_free"), on_free as *mut c_void),
        ];
        // SAFETY: the prototypes above match include/trace/events/sched.h.
        unsafe { register_all(&list, &mut self.lifecycle) }
    }

    /// Registers every switching safe point.
    pub(crate) fn register_switching(&mut self) -> Result {
        let list = [
            // void (*)(void *, struct pt_regs *regs, long ret)
            (c_str!("sys_exit"), on_sys_exit as *mut c_void),
            // void (*)(void *, struct work_struct *work, work_func_t function)
            (c_str!("workqueue_execute_end"), on_work_end as *mut c_void),
            // void (*)(void *, unsigned int state, unsigned int cpu_id)
            (c_str!("cpu_idle"), on_cpu_idle as *mut c_void),
            // void (*)(void *, int vector): x86's local APIC timer, which
            // runs with get_irq_regs() describing the interrupted context.
            (c_str!("local_timer_entry"), on_timer as *mut c_void),
        ];
        // SAFETY: the prototypes above match include/trace/events/{syscalls,
        // workqueue,power}.h and arch/x86/include/asm/trace/irq_vectors.h.
        unsafe { register_all(&list, &mut self.switching)? };
        let addrs: [usize; 4] = core::array::from_fn(|i| {
            KERNEL_SAFE_POINT_ADDRS.get(i).map_or(0, |a| a.load(Ordering::Relaxed))
        });
        let mut ops =
            FtraceOps::for_addresses(on_kernel_safe_point, core::ptr::null_mut(), ftrace::FLAGS_OBSERVE, &addrs)?;
        ops.register()?;
        self.kernel_ops.push(ops, GFP_KERNEL)?;
        Ok(())
    }

    /// Removes the switching safe points; on return none of them runs.
    pub(crate) fn unregister_switching(&mut self) {
        // Dropping an FtraceOps unregisters it and waits for its handlers.
        self.kernel_ops = KVec::new();
        for p in core::mem::replace(&mut self.switching, KVec::new()).iter() {
            p.tp.unregister(p.func, core::ptr::null_mut());
        }
        // SAFETY: plain call; waits until no probe of ours runs.
        unsafe { sys::lg_tracepoint_synchronize_unregister() };
    }

    /// Removes everything; on return no probe of ours runs.
    pub(crate) fn unregister_all(&mut self) {
        self.unregister_switching();
        for p in core::mem::replace(&mut self.lifecycle, KVec::new()).iter() {
            p.tp.unregister(p.func, core::ptr::null_mut());
        }
        // SAFETY: plain call; waits until no probe of ours runs.
        unsafe { sys::lg_tracepoint_synchronize_unregister() };
    }
}

impl Drop for SafePoints {
    fn drop(&mut self) {
        self.unregister_all();
    }
}



