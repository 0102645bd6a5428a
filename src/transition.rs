// SPDX-License-Identifier: GPL-2.0

//! The per-task side of a transition: the task table, the probes' entry
//! points, stack-check passes, nudges, reversal and force.
//!
//! Protocol (one transition at a time; the registry mutex in `core.rs`
//! serialises everything here except the probe entry points):
//!
//!  1. [`Transition::begin`] allocates the table (every task starts in the
//!     initial universe), publishes it in `ACTIVE` (Release; pairs with the
//!     Acquire in [`active`]), registers fork/free tracking, then walks all
//!     threads under RCU and inserts them, plus one entry per possible CPU
//!     for the idle tasks (keyed by [`idle_key`], which no task pointer can
//!     equal).
//!  2. `core.rs` marks the versions in transition and pushes them (see
//!     `patch.rs` for that ordering).
//!  3. [`Transition::start`] registers the switching safe points and opens
//!     the table (`start_switching`, Release; pairs with the Acquire in
//!     `TaskTable::switch_task`).
//!  4. Tasks switch in the probes; the one that takes `pending` to zero
//!     queues the transition work, which [`Transition::verify`]s the count by
//!     a full task walk (tasks the fork hook could not see, e.g. io_uring
//!     workers created without `sched_process_fork`, are inserted in the
//!     initial universe there) and lets `core.rs` complete. The idle task
//!     of a CPU that is offline is switched by the work's
//!     [`Transition::pass`] (CPU hotplug, see there).
//!  5. Teardown ([`Transition::unhook`], then dropping the transition after
//!     `core.rs` synchronised every context) unregisters every probe,
//!     waits for them, clears `ACTIVE` and frees the table.
//!
//! Reversal mirrors upstream: stop switching, wait for a grace period so no
//! switcher with the old target is in flight, flip the target and recount
//! under the table lock, start switching again.

use crate::logic::decide::{self, Context, Forked, SafePoint};
use crate::logic::stack_verdict::{affected_for, Affected};
use crate::logic::task_table::{Removed, Slot, SwitchResult, TaskTable, Universe};
use crate::logic::task_table::{slots_for_tasks_min, MIN_SLOTS};
use crate::logic::transition::Direction;
use crate::safepoints::SafePoints;
use crate::stack::{self, Verdict};
use crate::symbols::Extent;
use crate::sys;
use core::ffi::c_void;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use kernel::prelude::*;

/// How a task reached the target universe, for the summary and benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum Kind {
    /// Left a syscall.
    Syscall = 0,
    /// Finished a work item.
    Workqueue,
    /// kthread loop head or cond_resched.
    Kthread,
    /// Idle task between idle-loop iterations, or parked off its busy CPU
    /// (stack-checked in either case).
    Idle,
    /// On its way back to user mode (a task_work queued by a pass).
    UserReturn,
    /// Stack check of a blocked task.
    StackCheck,
    /// Created by fork already in the target universe.
    Fork,
    /// Marked by `force`.
    Forced,
    /// Stack-checked while every CPU was stopped (`sweep`).
    Sweep,
    /// Entered the refrigerator (a freeze of every task, e.g. suspend).
    Freezer,
    /// Idle task of an offline CPU (its stack is abandoned: brought back
    /// online, the CPU restarts it on a fresh one).
    Offline,
}

/// Number of [`Kind`]s.
pub(crate) const KINDS: usize = 11;

/// Names of the [`Kind`]s, in order.
pub(crate) const KIND_NAMES: [&str; KINDS] = [
    "syscall",
    "workqueue",
    "kthread",
    "idle",
    "user_return",
    "stack_check",
    "fork",
    "forced",
    "sweep",
    "freezer",
    "offline",
];

/// The transition in progress, as the handler and probes see it.
pub(crate) struct Active {
    /// The current task table (a `TableBox`; Release-published, never
    /// null). A rebuild publishes a new one; earlier ones stay frozen and
    /// allocated (`Transition::retired_tables`) until the transition ends.
    current: AtomicPtr<TableBox>,
    /// Functions a task must not have on its stack to switch to Patched
    /// (`Affected::OldCode`: the versions it runs now, i.e. the old ones,
    /// and the originals; see `logic::stack_verdict::affected_code`).
    old_code: KVec<Extent>,
    /// ... and to switch to Unpatched (`Affected::NewCode`: the new
    /// functions of the patch, and the originals).
    new_code: KVec<Extent>,
    /// The code of objects that loaded during the transition (both sides).
    late: LateCode,
    /// Switches by kind.
    pub(crate) switched: [AtomicUsize; KINDS],
    /// Tasks the fork hook could not track (table full, reserve included).
    pub(crate) untracked_forks: AtomicUsize,
    /// ... of which the parent was in the other universe: their first unit
    /// of work may have mixed versions (`decide::Forked::Untracked`).
    pub(crate) mixed_forks: AtomicUsize,
}

/// Most functions of objects that load during one transition.
const LATE_MAX: usize = 64;

/// The code of objects (modules) that loaded during a transition: the
/// affected code is otherwise fixed when the transition begins. Upstream's
/// `klp_check_stack()` checks every *patched* object of the patch in
/// transition, one patched by `klp_module_coming()` meanwhile included.
/// Added under the registry mutex before the function's version is pushed,
/// read lock-free by the stack checks. Counted on both sides (a task must
/// have neither the late function's original, nor its versions on its
/// stack to switch either way): conservative, never a wrong switch.
struct LateCode {
    len: AtomicUsize,
    start: [AtomicUsize; LATE_MAX],
    end: [AtomicUsize; LATE_MAX],
}

impl LateCode {
    fn new() -> Self {
        LateCode {
            len: AtomicUsize::new(0),
            start: [const { AtomicUsize::new(0) }; LATE_MAX],
            end: [const { AtomicUsize::new(0) }; LATE_MAX],
        }
    }

    fn add(&self, e: Extent) -> Result {
        if self.contains(e.start) {
            return Ok(());
        }
        let n = self.len.load(Ordering::Relaxed);
        let (Some(s), Some(x)) = (self.start.get(n), self.end.get(n)) else {
            return Err(ENOSPC);
        };
        s.store(e.start, Ordering::Relaxed);
        x.store(e.end, Ordering::Relaxed);
        // Release: pairs with the Acquire in `contains`: an entry counted
        // is written. A task can only have the function on its stack after
        // the version was pushed (the module's init had not run, and ftrace
        // registration synchronises every CPU), which is after this store.
        self.len.store(n.wrapping_add(1), Ordering::Release);
        Ok(())
    }

    fn contains(&self, addr: usize) -> bool {
        // Acquire: pairs with the Release in `add`.
        let n = self.len.load(Ordering::Acquire).min(LATE_MAX);
        self.start
            .iter()
            .zip(self.end.iter())
            .take(n)
            .any(|(s, e)| s.load(Ordering::Relaxed) <= addr && addr < e.load(Ordering::Relaxed))
    }
}

/// The code that blocks a switch: fixed at the start of the transition,
/// plus the functions of objects that loaded since.
#[derive(Clone, Copy)]
pub(crate) struct Code<'a> {
    fixed: &'a [Extent],
    late: &'a LateCode,
}

impl Code<'_> {
    /// Whether `addr` is in affected code.
    pub(crate) fn contains(&self, addr: usize) -> bool {
        self.fixed.iter().any(|e| e.contains(addr)) || self.late.contains(addr)
    }
}

/// A task table with the memory it borrows.
pub(crate) struct TableBox {
    /// Universe of every tracked task.
    table: TaskTable<'static>,
    /// The table's memory; `table` borrows it (see `Transition::begin`).
    _slots: KVVec<Slot>,
}

// SAFETY: the tables are owned memory only freed after every user is gone;
// everything else is atomics or immutable after publication.
unsafe impl Send for Active {}
// SAFETY: see `Send`.
unsafe impl Sync for Active {}

impl Drop for Active {
    fn drop(&mut self) {
        let b = self.current.load(Ordering::Relaxed);
        if !b.is_null() {
            // SAFETY: `current` owns the box it points to (from
            // `KBox::into_raw`); the owner drops `Active` only after every
            // user is gone.
            drop(unsafe { KBox::from_raw(b) });
        }
    }
}

impl Active {
    /// The current task table. Mutations (insert, remove, force, reverse)
    /// must call this *inside* the table lock, which a rebuild holds while
    /// it copies and publishes, so that none lands in a frozen table.
    #[inline(always)]
    pub(crate) fn table(&self) -> &TaskTable<'static> {
        // Acquire: pairs with the Release stores in `Transition::begin` and
        // `Transition::rebuild`: the table is initialised when seen.
        let b = self.current.load(Ordering::Acquire);
        // SAFETY: never null after `begin` published the first table, and a
        // table stays allocated until the transition (owner of `Active`)
        // is dropped after every user is gone.
        unsafe { &(*b).table }
    }

    /// The functions that block a switch to the current target.
    pub(crate) fn affected(&self) -> Code<'_> {
        let fixed = match affected_for(self.table().target()) {
            Affected::OldCode => &self.old_code,
            Affected::NewCode => &self.new_code,
        };
        Code { fixed, late: &self.late }
    }

    /// Adds the code of a function of an object that loads during the
    /// transition (`objects.rs`; registry mutex held: the only writer).
    pub(crate) fn add_late_code(&self, e: Extent) -> Result {
        self.late.add(e)
    }

    /// The universe of task `key`, tracking it first in `initial` if the
    /// table does not know it (the fork hook did not see it: it has run in
    /// the initial universe so far, which is safe for a new task).
    fn tracked_universe(&self, key: usize, initial: Universe) -> Universe {
        self.table().lookup(key).unwrap_or_else(|| {
            let _ = locked(|| self.table().insert(key, initial));
            initial
        })
    }

    fn count(&self, kind: Kind) {
        if let Some(c) = self.switched.get(kind as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Task `key` reached safe point `point` in `context`: the switch rule
    /// (`decide::switch_at`; `verdict` is the stack check, run only if the
    /// rule asks for it), then the accounting. The caller that switches the
    /// last pending task kicks the transition work through an irq_work (any
    /// lock may be held here: p->pi_lock in a stack check, scheduler or pool
    /// locks around a probe), unless `kick` is false because the caller is
    /// the work itself, which checks `pending` after its pass.
    fn switch_at(&self, key: usize, point: SafePoint, context: Context, verdict: impl FnOnce() -> Verdict, kick: bool) {
        let Some(res) = decide::switch_at(self.table(), key, point, context, verdict) else { return };
        let kind = kind_of(point);
        match res {
            SwitchResult::Switched => self.count(kind),
            SwitchResult::SwitchedLast => {
                self.count(kind);
                if kick {
                    // SAFETY: plain call; irq_work_queue() is safe in any context.
                    unsafe { sys::lg_kick_transition_work() };
                }
            }
            _ => {}
        }
    }
}

/// The transition published for the handler and the probes.
static ACTIVE: AtomicPtr<Active> = AtomicPtr::new(core::ptr::null_mut());

/// The published transition, if any. Callers run with preemption disabled
/// (probes, handler) or hold the registry mutex.
fn active() -> Option<&'static Active> {
    // Acquire: pairs with the Release store in `Transition::begin`.
    let a = ACTIVE.load(Ordering::Acquire);
    // SAFETY: `Active` is freed only after ACTIVE was cleared and every
    // context that could have loaded it was synchronised.
    unsafe { a.as_ref() }
}

/// Key of CPU `cpu`'s idle task: small, 16-aligned, never a task pointer,
/// never EMPTY or TOMBSTONE.
pub(crate) fn idle_key(cpu: u32) -> usize {
    ((cpu as usize).wrapping_add(1)) << 4
}

/// Key of the current task (the glue computes [`idle_key`] for idle tasks).
pub(crate) fn current_key() -> usize {
    // SAFETY: plain call, valid in any context.
    unsafe { sys::lg_current_key() as usize }
}

/// The universe of the task with table key `key` for the decision
/// (`decide::universe_of` of the published table, if any).
#[inline(always)]
pub(crate) fn universe_of(key: usize) -> Universe {
    decide::universe_of(active().map(Active::table), key)
}

/// How a switch at `point` is counted.
fn kind_of(point: SafePoint) -> Kind {
    match point {
        SafePoint::SyscallExit => Kind::Syscall,
        SafePoint::ReturnToUser => Kind::UserReturn,
        SafePoint::WorkItemEnd => Kind::Workqueue,
        SafePoint::KthreadLoopHead | SafePoint::CondResched => Kind::Kthread,
        SafePoint::Freezer => Kind::Freezer,
        SafePoint::IdleLoop | SafePoint::IdleParked => Kind::Idle,
        SafePoint::Blocked => Kind::StackCheck,
        SafePoint::Sweep => Kind::Sweep,
        SafePoint::OfflineIdle => Kind::Offline,
    }
}

/// The context the current code runs in (`lg_context()` in the glue).
fn current_context() -> Context {
    // SAFETY: plain call, valid in any context.
    match unsafe { sys::lg_context() } as u32 {
        sys::LG_CTX_TASK => Context::Task,
        sys::LG_CTX_SOFTIRQ => Context::SoftIrq,
        _ => Context::HardIrq,
    }
}

/// Probe entry: the current task is at safe point `point`.
///
/// The rule refuses any context but task context: a probe that fires in an
/// interrupt or softirq (a BH workqueue's `workqueue_execute_end`) runs on
/// top of a task that is at no safe point of its own, and sees that task's
/// stack only through an interrupt frame.
pub(crate) fn switch_current(point: SafePoint) {
    let Some(a) = active() else { return };
    a.switch_at(current_key(), point, current_context(), || stack::check_current(a.affected()), true);
}

/// The loop head of livegraft's own workers: called by the glue before each
/// job the transition worker or the setup worker runs, with preemption
/// disabled, from `kthread_worker_fn()`. The worker's stack then holds
/// `kthread()`, `kthread_worker_fn()` and the glue's job function only, all
/// known, and the job about to run is the worker's unit of work, so this is
/// a safe point in task context, as a kworker's work item boundary is
/// (kthread workers run no `workqueue_execute_end`). The stack is still
/// checked (a patch of `kthread_worker_fn()` itself keeps them from
/// switching, as it does any kthread whose main function is patched).
///
/// Without it the transition waited for the very task doing its work: the
/// pass runs on the transition worker, which it therefore always finds
/// running, and on a preemptible kernel nothing else made it pass a loop
/// head the hooks see (scenario 27).
pub(crate) fn switch_worker_self() {
    switch_current(SafePoint::KthreadLoopHead);
}

/// Probe entry: the current task begins an iteration of the idle loop
/// (`arch_cpu_idle_enter()`, called by `do_idle()` in task context, outside
/// cpuidle), which is where the previous iteration ended: the idle task
/// switches there after a check of its whole stack.
pub(crate) fn switch_idle_current() {
    if is_idle_key(current_key()) {
        switch_current(SafePoint::IdleLoop);
    }
}

/// Runs `f` under the table's mutation lock (a raw spinlock with IRQs
/// off: mutations come from process context, probes and an RCU callback).
fn locked<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: plain call; paired with the unlock below.
    let flags = unsafe { sys::lg_table_lock() };
    let r = f();
    // SAFETY: `flags` came from `lg_table_lock` above.
    unsafe { sys::lg_table_unlock(flags) };
    r
}

/// Probe entry: `child` was forked by `parent` and has not run yet.
pub(crate) fn task_forked(parent: usize, child: usize) {
    let Some(a) = active() else { return };
    // The insert reloads the current table inside the lock (a rebuild may
    // have published another since `a.table()` was loaded here).
    // `insert_fork`: the fork hook may use the table's reserve, so that it
    // is the last insert to fail.
    match decide::task_forked(a.table(), parent, child, |k, u| locked(|| a.table().insert_fork(k, u))) {
        Forked::Untracked { mixed } => {
            // The child runs in the initial universe and the verification
            // walk inserts it; the transition cannot complete before. Safe
            // only while the parent is in the initial universe too
            // (Documentation/design.rst, "Fork and exit").
            a.untracked_forks.fetch_add(1, Ordering::Relaxed);
            if mixed {
                a.mixed_forks.fetch_add(1, Ordering::Relaxed);
            }
        }
        Forked::Tracked { in_target: true, .. } => a.count(Kind::Fork),
        Forked::Tracked { in_target: false, .. } | Forked::AlreadyTracked => {}
    }
    if a.table().needs_rebuild() {
        // SAFETY: plain call; safe in any context. The work rebuilds.
        unsafe { sys::lg_kick_transition_work() };
    }
}

/// Probe entry: `task`'s task_struct is being freed (RCU callback).
pub(crate) fn task_freed(task: usize) {
    let Some(a) = active() else { return };
    let res = locked(|| a.table().remove(task));
    if res == Removed::RemovedLast {
        // SAFETY: plain call; safe in any context.
        unsafe { sys::lg_kick_transition_work() };
    }
}

/// The user_return safe point, from the task_work a pass queued on a
/// pending user task (`lg_user_return_work` in the glue, preemption
/// disabled): the task is on its way back to user mode (or exiting), in task
/// context, and its stack holds only that return path. The task_work may run
/// long after its transition ended or reversed, or during another one: it
/// touches a transition only while the switching safe points are armed
/// (`safepoints::user_return_armed`), and then only the one published now,
/// whose target is right for a task at this point whatever it is. The stack
/// check keeps the few other callers of `task_work_run()` (signal delivery,
/// exit) honest if one of their functions is patched.
pub(crate) fn user_return() {
    if !crate::safepoints::user_return_armed() {
        return;
    }
    let Some(a) = active() else { return };
    switch_current(SafePoint::ReturnToUser);
    // After the attempt: a task still pending (not accepting, or an affected
    // function on the stack) gets another request at the next pass.
    a.table().clear_user_return(current_key());
}

/// Asks pending user task `task` (valid: the pass's RCU walk) to switch on
/// its way back to user mode, once until that request ran: a task spinning in
/// user space makes no syscall, and no interrupt can switch it (the tick and
/// the IPI see its stack only through an interrupt frame). The pass's IPI to
/// its CPU then kicks it into the kernel, whose return to user mode runs the
/// request.
fn request_user_return(a: &Active, key: usize, task: *mut sys::task_struct) {
    if !a.table().mark_user_return(key) {
        return;
    }
    // SAFETY: `task` is valid under the walk's RCU read lock; the call only
    // allocates (GFP_NOWAIT) and queues a task_work.
    let ret = unsafe { sys::lg_queue_user_return(task) };
    // -ESRCH: the task passed exit_task_work() and never returns to user
    // mode: keep the mark, asking again is pointless (it leaves at its free).
    if ret != 0 && ret != -(sys::ESRCH as i32) {
        a.table().clear_user_return(key);
    }
}

/// IPI handler sent to CPUs running pending tasks and to CPUs whose idle
/// task is pending. For a pending user task the interrupt is the kick that
/// takes it through the user_return safe point (the return from the IPI
/// runs its task_work); nothing is switched from here for it. An idle CPU
/// wakes and its idle task switches itself at its next loop iteration
/// (`switch_idle_current`); on a busy CPU the idle task is parked off the
/// CPU in schedule_idle() and cannot run while this CPU is in the IPI: it is
/// stack-checked here, pinned, as a blocked task is (a CPU that never idles
/// would otherwise stall the transition forever).
unsafe extern "C" fn ipi_switch(_info: *mut c_void) {
    let Some(a) = active() else { return };
    if !is_idle_key(current_key()) {
        // SAFETY: plain call from the IPI (interrupts off).
        switch_parked_idle(a, unsafe { sys::lg_cpu() });
    }
}

/// Switches the parked idle task of this CPU (`cpu`) if its stack is clean.
fn switch_parked_idle(a: &Active, cpu: u32) {
    let key = idle_key(cpu);
    let table = a.table();
    // The rule's own pre-check (`decide::wants_switch`), before the pin and
    // the walk.
    if !decide::wants_switch(table.lookup(key), table.target(), table.accepting()) {
        return;
    }
    // The idle task is asleep in schedule_idle(): task context, whatever
    // this IPI runs in.
    stack::check_parked_idle(a.affected(), |v| a.switch_at(key, SafePoint::IdleParked, Context::Task, || v, true));
}

/// Whether `key` is an idle task's key (see [`idle_key`]).
fn is_idle_key(key: usize) -> bool {
    key != 0 && key < 0x10_0000
}

/// Resolves `idle_task()` (not exported) for the parked idle check (module
/// init, process context). Without it an idle task switches only in its
/// own loop, so a CPU that never idles stalls transitions.
pub(crate) fn resolve_idle_task() {
    use crate::logic::symbols::Resolution;
    match crate::symbols::find(None, kernel::c_str!("idle_task"), 0) {
        // SAFETY: plain call; `idle_task` is `struct task_struct *(int)`
        // (include/linux/sched.h), which is what the glue calls it as.
        Resolution::Found(addr) => unsafe { sys::lg_set_idle_task_fn(addr as _) },
        _ => pr_warn!("idle_task() not found: busy CPUs' idle tasks switch only when they idle\n"),
    }
}

/// A task still pending, for reports.
pub(crate) struct Pending {
    /// Its table key (to drop it from a report once it switched).
    pub(crate) key: usize,
    /// Its pid.
    pub(crate) pid: i32,
    /// Its command name.
    pub(crate) comm: [u8; 16],
    /// Why it has not switched.
    pub(crate) why: Why,
}

/// Why a task has not switched yet.
#[derive(Clone, Copy)]
pub(crate) enum Why {
    /// It runs on a CPU (or is runnable).
    Running,
    /// It sleeps with an affected function on its stack (return address).
    SleepingOn(usize),
    /// Its stack could not be read reliably.
    Unreliable,
}

/// One transition's task-side state. Dropping it unpublishes and frees it.
pub(crate) struct Transition {
    active: KBox<Active>,
    hooks: SafePoints,
    /// Universe before the transition, for every task.
    pub(crate) initial: Universe,
    /// Number of `pass`es run, for the nudge schedule.
    pub(crate) passes: u32,
    /// The owner synchronised every context already (`dispose_synchronized`).
    synchronized: bool,
    /// The table-full warning was printed.
    pub(crate) full_reported: bool,
    /// The mixed-fork error was printed.
    pub(crate) mixed_reported: bool,
    /// Tables replaced by `rebuild` (from `KBox::into_raw`): frozen, still
    /// readable by decisions that loaded them, freed with the transition.
    retired_tables: KVec<*mut TableBox>,
}

struct WalkInsert<'a> {
    table: &'a TaskTable<'static>,
    universe: Universe,
    inserted: usize,
    full: bool,
}

unsafe extern "C" fn visit_insert(task: *mut sys::task_struct, data: *mut c_void) -> bool {
    // SAFETY: `data` is the `WalkInsert` of the caller, alive for the walk.
    let w = unsafe { &mut *data.cast::<WalkInsert<'_>>() };
    let res = locked(|| w.table.insert(task as usize, w.universe));
    match res {
        Ok(crate::logic::task_table::Inserted::New) => w.inserted = w.inserted.wrapping_add(1),
        Ok(_) => {}
        Err(_) => {
            w.full = true;
            return false;
        }
    }
    true
}

unsafe extern "C" fn visit_count(_task: *mut sys::task_struct, data: *mut c_void) -> bool {
    // SAFETY: `data` is the caller's counter.
    let n = unsafe { &mut *data.cast::<usize>() };
    *n = n.wrapping_add(1);
    true
}

/// Slots for the current number of threads (`slots_for_tasks`, with the
/// floor lowered by the module parameter `min_table_slots`, which tests use
/// to force rebuilds):
/// the vector, and a `'static` view of it.
fn alloc_slots() -> Result<(KVVec<Slot>, &'static [Slot])> {
    let mut threads = 0usize;
    // SAFETY: `visit_count` matches `lg_task_visit_fn`; `threads` outlives the walk.
    unsafe { sys::lg_for_each_thread(Some(visit_count), (&mut threads as *mut usize).cast()) };
    let tasks = threads.saturating_add(nr_cpu_ids() as usize);
    // SAFETY: plain call reading a module parameter.
    let floor = (unsafe { sys::lg_min_table_slots() } as usize).clamp(64, MIN_SLOTS);
    let nslots = slots_for_tasks_min(tasks, floor);
    let mut slots = KVVec::with_capacity(nslots, GFP_KERNEL)?;
    for _ in 0..nslots {
        slots.push(Slot::new(), GFP_KERNEL)?;
    }
    // SAFETY: the buffer holds `nslots` initialised slots; it is owned by the
    // `TableBox` the caller builds and freed only when that is dropped, after
    // every user of the slice is gone (see `Transition::drop`). Moving the
    // vector does not move its buffer.
    let slice: &'static [Slot] = unsafe { core::slice::from_raw_parts(slots.as_ptr(), nslots) };
    Ok((slots, slice))
}

fn cpu_online(cpu: u32) -> bool {
    // SAFETY: plain call.
    unsafe { sys::lg_cpu_online(cpu) }
}

/// Every possible CPU (online or not), in order.
fn possible_cpus() -> impl Iterator<Item = u32> {
    // SAFETY: plain call; the possible mask is fixed after boot.
    (0..nr_cpu_ids()).filter(|&c| unsafe { sys::lg_cpu_possible(c) })
}

fn nr_cpu_ids() -> u32 {
    // SAFETY: `nr_cpu_ids` is set during boot and read-only afterwards.
    unsafe { sys::nr_cpu_ids }
}

impl Transition {
    /// Builds and publishes the task table for `direction`. `old_code` and
    /// `new_code` are the function ranges a switching task must not be in.
    pub(crate) fn begin(direction: Direction, old_code: KVec<Extent>, new_code: KVec<Extent>) -> Result<Self> {
        if !ACTIVE.load(Ordering::Relaxed).is_null() {
            return Err(EBUSY);
        }
        let (slots, slice) = alloc_slots()?;
        let nslots = slice.len();
        let initial = direction.initial_universe();
        let table = TaskTable::new(slice, initial).map_err(|_| EINVAL)?;
        let first = KBox::into_raw(KBox::new(TableBox { table, _slots: slots }, GFP_KERNEL)?);
        let active = KBox::new(
            Active {
                current: AtomicPtr::new(first),
                old_code,
                new_code,
                late: LateCode::new(),
                switched: Default::default(),
                untracked_forks: AtomicUsize::new(0),
                mixed_forks: AtomicUsize::new(0),
            },
            GFP_KERNEL,
        )?;
        // Release: pairs with the Acquire in `active()`: the probes and the
        // handler see an initialised table.
        ACTIVE.store((&*active as *const Active).cast_mut(), Ordering::Release);
        let mut t = Transition { active, hooks: SafePoints::new(), initial, passes: 0, synchronized: false, full_reported: false, mixed_reported: false, retired_tables: KVec::new() };
        // Fork/free tracking first, so that no task created or freed during
        // the walk is missed (see the argument in Documentation/design.rst).
        t.hooks.register_lifecycle()?;
        let mut walk = WalkInsert { table: t.active.table(), universe: initial, inserted: 0, full: false };
        // SAFETY: `visit_insert` matches `lg_task_visit_fn`; `walk` outlives the walk.
        unsafe { sys::lg_for_each_thread(Some(visit_insert), (&mut walk as *mut WalkInsert<'_>).cast()) };
        if walk.full {
            pr_err!("task table full ({} slots): refusing the transition\n", nslots);
            return Err(ENOMEM);
        }
        // Every possible CPU's idle task, online or not (upstream's
        // `klp_init_transition`): a CPU brought online mid-transition runs
        // its idle task in the universe its key says, never untracked; an
        // offline CPU's is switched by the next `pass`.
        for cpu in possible_cpus() {
            let res = locked(|| t.active.table().insert(idle_key(cpu), initial));
            res.map_err(|_| ENOMEM)?;
        }
        Ok(t)
    }

    /// Registers the switching safe points and lets tasks switch.
    pub(crate) fn start(&mut self) -> Result {
        self.hooks.register_switching()?;
        self.active.table().start_switching();
        Ok(())
    }

    /// The table (read-only views for reports).
    pub(crate) fn active(&self) -> &Active {
        &self.active
    }

    /// One pass over all threads: stack-check blocked pending tasks (switching
    /// the clean ones while they are pinned), ask running pending user tasks
    /// to switch on their way back to user mode and IPI their CPUs to kick
    /// them there, and, if `nudge`, wake pending tasks
    /// from interruptible sleeps (a fake signal for user tasks). Tasks the
    /// table does not know are inserted in the initial universe. `report`
    /// receives every task still pending after its check.
    pub(crate) fn pass(&mut self, nudge: bool, report: &mut dyn FnMut(Pending)) -> usize {
        self.passes = self.passes.wrapping_add(1);
        // CPUs running a pending task; without memory we IPI every CPU.
        let mut cpus = KVec::new();
        let all = cpus.extend_with(nr_cpu_ids() as usize, false, GFP_KERNEL).is_err();
        let mut ctx = PassCtx { active: &self.active, nudge, cpus: &mut cpus, report, initial: self.initial };
        // SAFETY: `visit_pass` matches `lg_task_visit_fn`; `ctx` outlives the walk.
        unsafe { sys::lg_for_each_thread(Some(visit_pass), (&mut ctx as *mut PassCtx<'_>).cast()) };
        let target = self.active.table().target();
        // CPU hotplug (upstream's `klp_try_complete_transition`): with the
        // hotplug lock held no CPU is half-way down or up, so an offline
        // CPU's idle task has reached `play_dead()` (the CPU reported dead
        // before `cpu_down` released the lock) and never returns from it: an
        // x86 CPU brought back online restarts its idle task on a fresh stack
        // (`start_secondary` -> `cpu_startup_entry`). Its old stack is
        // abandoned, so the task switches at once, whatever is on it; its
        // next life starts in the target universe. A CPU brought online
        // after the unlock with its key still pending starts afresh in the
        // other universe and switches in its idle loop like any online one.
        // Lock order: registry mutex, then the hotplug lock, as `sweep`'s
        // stop_machine() and the hooks' unregistration in `core.rs`'s
        // `retire` (tracepoint static keys) already take it under the
        // mutex; nothing takes the registry mutex under the hotplug lock
        // (livegraft has no hotplug callback).
        // SAFETY: plain call in process context (the transition worker),
        // paired with the unlock below.
        unsafe { sys::lg_cpus_read_lock() };
        for cpu in possible_cpus() {
            let idle_pending = self.active.table().lookup(idle_key(cpu)) != Some(target);
            if !cpu_online(cpu) {
                if idle_pending {
                    // Context::Task: the rule's view of a task that does
                    // not run (it never returns from play_dead()); the rule
                    // asks for no walk of its abandoned stack.
                    let no_walk = || Verdict::Unreliable;
                    self.active.switch_at(idle_key(cpu), SafePoint::OfflineIdle, Context::Task, no_walk, false);
                }
                continue;
            }
            // A CPU running a pending task: the IPI takes a user-mode one
            // into the kernel, and its return to user mode through the
            // user_return safe point. A CPU whose idle task is pending: an
            // idle CPU wakes and its idle task switches at its next loop
            // iteration, a busy one checks its parked idle task in the IPI.
            let running = all || cpus.get(cpu as usize).copied().unwrap_or(false);
            if running || idle_pending {
                // SAFETY: `ipi_switch` matches `smp_call_func_t`; wait=0 from
                // process context with IRQs enabled is allowed.
                unsafe { sys::smp_call_function_single(cpu as i32, Some(ipi_switch), core::ptr::null_mut(), 0) };
            }
        }
        // SAFETY: paired with the lock above.
        unsafe { sys::lg_cpus_read_unlock() };
        self.active.table().pending()
    }

    /// Replaces the task table by a fresh one without tombstones, sized for
    /// the current number of threads, once its load passed half of its
    /// capacity (fork/exit churn leaves a tombstone per freed task; inserts
    /// are refused above 3/4, which would stall the transition).
    ///
    /// Protocol (`TaskTable::rebuild_into`): stop switching and wait out
    /// in-flight switchers (they run with preemption disabled), copy and
    /// publish the new table under the table lock (inserts and removals
    /// load the current table inside that lock, so none lands in the old
    /// one), then switch on the new table. Lock-free readers that loaded the
    /// old table read a frozen copy of the same states; it is freed only
    /// with the transition.
    pub(crate) fn rebuild(&mut self) -> Result {
        let old = self.active.table();
        if !old.needs_rebuild() {
            return Ok(());
        }
        let (slots, slice) = alloc_slots()?;
        let boxed = KBox::<TableBox>::new_uninit(GFP_KERNEL)?;
        // Room for the old table, so that keeping it cannot fail later.
        self.retired_tables.reserve(1, GFP_KERNEL)?;
        let accepting = old.accepting();
        old.stop_switching();
        // SAFETY: plain call in process context (the transition worker).
        unsafe { sys::synchronize_rcu() };
        let from = old.capacity();
        let current = &self.active.current;
        // The closure only moves pointers and copies entries: no allocation
        // or freeing under the raw spinlock.
        let res = locked(move || match old.rebuild_into(slice) {
            Ok(table) => {
                let b = KBox::into_raw(KBox::write(boxed, TableBox { table, _slots: slots }));
                // Release: pairs with the Acquire in `Active::table`.
                let prev = current.swap(b, Ordering::AcqRel);
                Ok(prev)
            }
            Err(_) => Err((boxed, slots)),
        });
        match res {
            Ok(prev) => {
                if accepting {
                    self.active.table().start_switching();
                }
                let live = self.active.table().live();
                let to = self.active.table().capacity();
                // `prev` is no longer published but readers may still use
                // it: kept (room reserved above; were that to fail, leaked
                // rather than freed early).
                let _ = self.retired_tables.push(prev, GFP_KERNEL);
                pr_info!("task table rebuilt: {} live entries, {} -> {} slots\n", live, from, to);
                Ok(())
            }
            Err((boxed, slots)) => {
                if accepting {
                    old.start_switching();
                }
                drop(boxed);
                drop(slots);
                Err(ENOMEM)
            }
        }
    }

    /// The optional stop_machine sweep (module parameter `sweep`): with
    /// every CPU stopped no task runs, so every task but the stoppers has a
    /// stable stack, runnable ones included (a module cannot take the
    /// runqueue lock that pins one runnable task, as upstream's
    /// `task_call_func()` does). Switches every pending task whose stack is
    /// clean, in one go, at the cost of stopping the machine for one walk
    /// of all threads, as kpatch's consistency check did.
    pub(crate) fn sweep(&mut self) {
        let mut ctx = SweepCtx { active: &self.active, initial: self.initial, stopped_ns: 0 };
        // SAFETY: `sweep_stopped` matches the callback type; `ctx` outlives
        // the call, which returns after the callback ran.
        let ret = unsafe { sys::lg_stop_machine(Some(sweep_stopped), (&mut ctx as *mut SweepCtx<'_>).cast()) };
        if ret != 0 {
            pr_warn!("stop_machine sweep failed ({})\n", ret);
        } else {
            let switched = self.active.switched.get(Kind::Sweep as usize).map_or(0, |c| c.load(Ordering::Relaxed));
            pr_info!("sweep: {} tasks switched, every CPU stopped for {} us\n", switched, ctx.stopped_ns / 1000);
        }
    }

    /// Whether every thread and every possible CPU's idle task (the thread
    /// walk does not see idle tasks) is tracked and in the target universe.
    /// Inserts untracked ones (in the initial universe; `begin` tracks every
    /// idle task, so a missing one would be a bug, not a reason to complete).
    pub(crate) fn verify(&mut self) -> bool {
        let mut ctx = VerifyCtx { active: &self.active, initial: self.initial, ok: true };
        // SAFETY: `visit_verify` matches `lg_task_visit_fn`; `ctx` outlives the walk.
        unsafe { sys::lg_for_each_thread(Some(visit_verify), (&mut ctx as *mut VerifyCtx<'_>).cast()) };
        let target = self.active.table().target();
        let idle_ok = possible_cpus().all(|cpu| self.active.tracked_universe(idle_key(cpu), self.initial) == target);
        ctx.ok && idle_ok && self.active.table().pending() == 0
    }

    /// Reverses the direction (caller logs it).
    pub(crate) fn reverse(&mut self) -> Result {
        self.active.table().stop_switching();
        // SAFETY: plain call in process context: waits for every probe that
        // may still switch with the old target (they run preempt-disabled).
        unsafe { sys::synchronize_rcu() };
        let res = locked(|| self.active.table().reverse());
        self.active.table().start_switching();
        res.map(|_| ()).map_err(|_| EINVAL)
    }

    /// Marks every task switched (`force`).
    pub(crate) fn force(&mut self) {
        let moved = locked(|| self.active.table().force_all());
        if let Some(c) = self.active.switched.get(Kind::Forced as usize) {
            c.fetch_add(moved, Ordering::Relaxed);
        }
        // Untracked tasks are in the initial universe: track them in the target.
        self.initial = self.active.table().target();
    }

    /// Lets no task switch any more (completion).
    pub(crate) fn stop_switching(&self) {
        self.active.table().stop_switching();
    }

    /// Unregisters every probe and safe point; on return none runs.
    pub(crate) fn unhook(&mut self) {
        self.active.table().stop_switching();
        self.hooks.unregister_all();
    }
}

impl Transition {
    /// Drops the transition without the grace period `drop` waits for: the
    /// caller has synchronised every context (probes and decisions) since
    /// the last version stopped consulting the table.
    pub(crate) fn dispose_synchronized(mut self) {
        self.synchronized = true;
    }
}

impl Drop for Transition {
    /// The caller must have synchronised every context (decisions) since the
    /// last version stopped consulting the table; see `core.rs`. The tables
    /// (current and retired) are freed after the body, with the fields.
    fn drop(&mut self) {
        self.hooks.unregister_all();
        // Release: pairs with the Acquire in `active()`; nobody loads it any
        // more once the caller synchronised.
        ACTIVE.store(core::ptr::null_mut(), Ordering::Release);
        if !self.synchronized {
            // SAFETY: plain call: wait out any reader that loaded ACTIVE
            // before the store above (a decision of a version still in
            // transition, if a caller got the order wrong; this makes that
            // merely slow).
            unsafe { sys::synchronize_rcu() };
        }
        for &b in self.retired_tables.iter() {
            // SAFETY: from `KBox::into_raw` in `rebuild`, unpublished since,
            // and every reader is gone (see above).
            drop(unsafe { KBox::from_raw(b) });
        }
    }
}

struct PassCtx<'a> {
    active: &'a Active,
    nudge: bool,
    cpus: &'a mut KVec<bool>,
    report: &'a mut dyn FnMut(Pending),
    initial: Universe,
}

fn pending_info(task: *mut sys::task_struct, why: Why) -> Pending {
    let mut comm = [0u8; 16];
    // SAFETY: `task` is valid under the walk's RCU read lock; `comm` has
    // TASK_COMM_LEN (16) bytes.
    let pid = unsafe {
        sys::lg_task_comm(task, comm.as_mut_ptr());
        sys::lg_task_pid(task)
    };
    Pending { key: task as usize, pid, comm, why }
}

unsafe extern "C" fn visit_pass(task: *mut sys::task_struct, data: *mut c_void) -> bool {
    // SAFETY: `data` is the caller's `PassCtx`, alive for the walk.
    let ctx = unsafe { &mut *data.cast::<PassCtx<'_>>() };
    let a = ctx.active;
    let key = task as usize;
    let target = a.table().target();
    if a.tracked_universe(key, ctx.initial) == target {
        return true;
    }
    let mut verdict = None;
    // SAFETY: `task` is valid under the walk's RCU read lock.
    let pinned = unsafe {
        stack::check_blocked(task, a.affected(), |v| {
            verdict = Some(v);
            // A blocked task sleeps in task context.
            a.switch_at(key, SafePoint::Blocked, Context::Task, || v, false);
        })
    };
    let why = match verdict {
        Some(Verdict::Clean) => return true,
        Some(Verdict::Affected(ret)) => Why::SleepingOn(ret),
        Some(Verdict::Unreliable) => Why::Unreliable,
        None => Why::Running,
    };
    if !pinned {
        // SAFETY: `task` is valid under RCU.
        if unsafe { sys::lg_task_returns_to_user(task) } {
            request_user_return(a, key, task);
        }
        // SAFETY: `task` is valid under RCU.
        let cpu = unsafe { sys::lg_task_cpu(task) };
        if let Some(slot) = usize::try_from(cpu).ok().and_then(|c| ctx.cpus.get_mut(c)) {
            *slot = true;
        }
    }
    if ctx.nudge {
        // SAFETY: `task` is valid under RCU; both helpers only wake
        // interruptible sleepers.
        unsafe {
            if sys::lg_task_is_kthread(task) {
                sys::lg_wake_interruptible(task);
            } else {
                sys::lg_nudge_user_task(task);
            }
        }
    }
    (ctx.report)(pending_info(task, why));
    true
}

struct SweepCtx<'a> {
    active: &'a Active,
    initial: Universe,
    /// How long the walk ran with every CPU stopped.
    stopped_ns: u64,
}

/// Runs on one CPU with every other CPU stopped and interrupts off.
unsafe extern "C" fn sweep_stopped(data: *mut c_void) -> i32 {
    // SAFETY: `data` is the caller's `SweepCtx`, alive for the call.
    let ctx = unsafe { &mut *data.cast::<SweepCtx<'_>>() };
    // SAFETY: plain call, safe in any context.
    let t0 = unsafe { sys::ktime_get_mono_fast_ns() };
    // SAFETY: `visit_sweep` matches `lg_task_visit_fn`; `ctx` outlives the walk.
    unsafe { sys::lg_for_each_thread(Some(visit_sweep), (ctx as *mut SweepCtx<'_>).cast()) };
    // SAFETY: as above.
    ctx.stopped_ns = unsafe { sys::ktime_get_mono_fast_ns() }.wrapping_sub(t0);
    0
}

unsafe extern "C" fn visit_sweep(task: *mut sys::task_struct, data: *mut c_void) -> bool {
    // SAFETY: `data` is the `SweepCtx` of `sweep_stopped`.
    let ctx = unsafe { &mut *data.cast::<SweepCtx<'_>>() };
    let a = ctx.active;
    let key = task as usize;
    if a.tracked_universe(key, ctx.initial) == a.table().target() {
        return true;
    }
    // SAFETY: every CPU is stopped: a task not on a CPU now cannot run
    // before the sweep ends, so its stack is stable (the stopper threads of
    // the other CPUs are on a CPU and skipped).
    if let Some(v) = unsafe { stack::check_stopped(task, a.affected()) } {
        // A task off its CPU sleeps (or was preempted) in task context.
        a.switch_at(key, SafePoint::Sweep, Context::Task, || v, false);
    }
    true
}

struct VerifyCtx<'a> {
    active: &'a Active,
    initial: Universe,
    ok: bool,
}

unsafe extern "C" fn visit_verify(task: *mut sys::task_struct, data: *mut c_void) -> bool {
    // SAFETY: `data` is the caller's `VerifyCtx`, alive for the walk.
    let ctx = unsafe { &mut *data.cast::<VerifyCtx<'_>>() };
    let a = ctx.active;
    if a.tracked_universe(task as usize, ctx.initial) != a.table().target() {
        ctx.ok = false;
    }
    true
}

/// The user_return request's entry from the glue (`lg_user_return_work`),
/// in task context with preemption disabled.
#[no_mangle]
extern "C" fn lg_rust_user_return() {
    user_return();
}
