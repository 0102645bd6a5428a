// SPDX-License-Identifier: GPL-2.0

//! The kernel side's decisions, as pure functions: which version a call runs (the redirect),
//! which universe a forked child gets, and when a task may switch at a safe point.
//!
//! Pure logic (`core` only), compiled into the kernel module as a `#[path]` submodule (sibling of
//! `task_table`) and into the host crate `livegraft-logic`, where the model test
//! (`crates/livegraft-logic/tests/model.rs`) drives its simulated kernel through these very
//! functions. The module calls them at every decision: `lg_rust_redirect_target` (`src/patch.rs`)
//! is [`select_version`] over the site's version stack and [`universe_of`] the published table;
//! every safe point (`src/transition.rs`, `src/safepoints.rs`) is [`switch_at`] with its
//! [`SafePoint`] and the real execution [`Context`]; the fork hook is [`task_forked`]. So what the
//! model proves is what the module runs; the model's seeded bugs replay earlier kernel rules
//! (a switch in the tick's hard interrupt, at a BH work item's end, at `cpu_idle`, the
//! return-address rule for calls of the original) by calling these rules at the wrong place or
//! with the wrong context, or by a rule of their own.

use super::stack_verdict::Verdict;
use super::task_table::{InsertError, Inserted, SwitchResult, TaskTable, Universe};
use super::transition::{choose, Choice};

/// The universe the decision assumes for every task when no transition is published. It is
/// right only because a version is marked in transition *after* the table is published
/// (`patch.rs`, ordering 1): during an unpatching transition every task starts `Patched`, and a
/// decision that saw a version in transition without a table would send it to the older code
/// (the model's seeded bug `MarkBeforePublish` shows that mix).
pub const NO_TABLE_UNIVERSE: Universe = Universe::Unpatched;

/// The universe of task `key` for the decision: its entry in the published table, the table's
/// default universe if it is untracked, [`NO_TABLE_UNIVERSE`] if no table is published.
#[inline(always)]
pub fn universe_of(table: Option<&TaskTable<'_>>, key: usize) -> Universe {
    match table {
        Some(t) => t.universe_of(key),
        None => NO_TABLE_UNIVERSE,
    }
}

/// The version a call of a patched function runs for the current task: the top of the
/// function's version stack, or the next older one (`None`: the original function) when the top
/// belongs to the patch in transition and the task is still in the unpatched universe.
///
/// `in_transition` reads the top's flag (Acquire in the kernel), `universe` looks the task up
/// (only called when the top is in transition: the retired and the untouched paths make no
/// lookup), `older` reads the version below. Inlined: the kernel's decision makes no call.
#[inline(always)]
pub fn select_version<V: Copy>(
    top: Option<V>,
    in_transition: impl FnOnce(V) -> bool,
    universe: impl FnOnce() -> Universe,
    older: impl FnOnce(V) -> Option<V>,
) -> Option<V> {
    let v = top?;
    if in_transition(v) && choose(true, universe()) == Choice::UseOlder {
        older(v)
    } else {
        Some(v)
    }
}

/// What a forked child got from [`task_forked`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forked {
    /// The child is tracked in its parent's universe; `in_target`: that is the target already
    /// (the kernel counts it as switched "by fork").
    Tracked {
        /// The child's universe.
        universe: Universe,
        /// Whether it is the table's target.
        in_target: bool,
    },
    /// An entry for the child's key existed (the free of an earlier task at that address was not
    /// seen); it keeps its universe.
    AlreadyTracked,
    /// The table is full, the fork hook's reserve included: the child is untracked, so it runs
    /// in the table's default universe (the initial universe of the transition) until a
    /// verification walk inserts it there. The kernel counts these (`untracked_forks`).
    Untracked {
        /// The parent is in the other universe: the child, which returns from the same fork,
        /// finishes the parent's unit of work there, a mix (the model's
        /// `model_untracked_fork_fallback` finds exactly these; `Documentation/design.rst`,
        /// "Fork and exit"). Otherwise the child runs where its parent ran: safe.
        mixed: bool,
    },
}

/// The fork rule (`wake_up_new_task()` hook, before the child first runs): the child inherits
/// its parent's universe. `insert` adds the child's key with [`TaskTable::insert_fork`] (the
/// reserve: a fork fails last) under the table's mutation lock (the kernel reloads the current
/// table inside the lock, see `transition.rs`).
pub fn task_forked(
    table: &TaskTable<'_>,
    parent: usize,
    child: usize,
    insert: impl FnOnce(usize, Universe) -> Result<Inserted, InsertError>,
) -> Forked {
    let universe = table.universe_of(parent);
    match insert(child, universe) {
        Ok(Inserted::New) => Forked::Tracked {
            universe,
            in_target: universe == table.target(),
        },
        Ok(Inserted::AlreadyPresent) => Forked::AlreadyTracked,
        Err(_) => Forked::Untracked {
            mixed: universe != table.default_universe(),
        },
    }
}

/// Where a task may switch universe (the safe-point table of `Documentation/design.rst`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SafePoint {
    /// A user task leaves a syscall (`raw_syscalls:sys_exit`): its kernel stack is empty.
    SyscallExit,
    /// A user task returns to user mode by another path than a syscall exit: the `task_work` a
    /// pass queued on it (`user_return` in the kernel), run by `task_work_run()` on the return
    /// path, or by `get_signal()` or `do_exit()`. The stack holds only that path; it is checked
    /// for the other callers' sake.
    ReturnToUser,
    /// A kworker finished a work item (`workqueue:workqueue_execute_end`). The tracepoint also
    /// fires for a BH work item in softirq, on top of an unrelated task: refused by context.
    WorkItemEnd,
    /// A kthread's loop head (`kthread_should_stop`, `kthread_freezable_should_stop`).
    KthreadLoopHead,
    /// The freezer (`__refrigerator`): a task that freezes, with nothing of its loop body on the
    /// stack if it froze in `try_to_freeze()` at its loop head.
    Freezer,
    /// CPU-bound kernel code (`__cond_resched`): mid-unit, so only upstream's guarantee.
    CondResched,
    /// The idle task between two iterations of its loop (`arch_cpu_idle_enter()`, which
    /// `do_idle()` calls once per iteration, outside cpuidle). Checked: a patch of `do_idle()`
    /// itself must not be switched under it.
    IdleLoop,
    /// A busy CPU's idle task, parked off the CPU in `schedule_idle()`, from an IPI on that CPU
    /// (which pins it as a blocked task is pinned).
    IdleParked,
    /// A task off its CPU, blocked or runnable, from the transition work's pass, pinned
    /// (`task_call_func()`, as upstream).
    Blocked,
    /// Any task off a CPU while every CPU is stopped (`sweep`).
    Sweep,
    /// The idle task of an offline CPU, from the transition work's pass under the CPU hotplug
    /// lock: it has reached `play_dead()` and never returns; a CPU brought back online restarts
    /// it on a fresh stack (x86 `start_secondary()`), so its old stack holds nothing it will run.
    OfflineIdle,
}

/// Where the task to be switched executes.
///
/// For the current task at a probe, the probe's context (`in_task()`, `in_hardirq()`). A pinned,
/// parked or stopped task is asleep in `schedule()`, called in task context: `Task`, whatever
/// context the code checking it runs in (the IPI of [`SafePoint::IdleParked`], for one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Task context: the task's whole kernel stack is its own.
    Task,
    /// Softirq (a BH work item, softirq processing on interrupt exit), nested on a task.
    SoftIrq,
    /// Hard interrupt or NMI, nested on a task.
    HardIrq,
}

/// What a switch at a safe point requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// No switch here.
    Refuse,
    /// Switch: the point itself proves that no affected function will run (an empty kernel
    /// stack, or one that is abandoned).
    None,
    /// Switch if a stack check of the current task is clean.
    CurrentStack,
    /// Switch if a stack check of the pinned (or stopped) task is clean; the task cannot run
    /// between the check and the switch.
    PinnedStack,
}

/// The switch rule of each safe point.
///
/// A switch happens only in task context, where the whole kernel stack is the task's and is
/// known: a switch from an interrupt would change the universe of the interrupted task in the
/// middle of whatever it was doing, and that of the interrupt's remaining code (issue 13,
/// item 6; the model's seeded bugs `TickSwitchInHardirq` and `BhWorkItemSwitch` replay the
/// rules that did, and show the mix). Every point but the syscall exit and an offline CPU's idle
/// task checks the stack.
pub const fn switch_check(point: SafePoint, context: Context) -> Check {
    match context {
        Context::SoftIrq | Context::HardIrq => return Check::Refuse,
        Context::Task => {}
    }
    match point {
        SafePoint::SyscallExit | SafePoint::OfflineIdle => Check::None,
        SafePoint::ReturnToUser
        | SafePoint::WorkItemEnd
        | SafePoint::KthreadLoopHead
        | SafePoint::Freezer
        | SafePoint::CondResched
        | SafePoint::IdleLoop => Check::CurrentStack,
        SafePoint::IdleParked | SafePoint::Blocked | SafePoint::Sweep => Check::PinnedStack,
    }
}

/// Whether a safe point should try to switch task `key` (`tracked`: its table entry): not when
/// it is already in the target, nor while the table refuses switches (before it starts, during
/// a reversal, a rebuild or the completion). Cheap pre-check before a stack check.
#[inline(always)]
pub fn wants_switch(tracked: Option<Universe>, target: Universe, accepting: bool) -> bool {
    tracked != Some(target) && accepting
}

/// A safe point reached by task `key`, in `context`: applies [`switch_check`], the
/// [`wants_switch`] pre-check, the stack check if one is required (`verdict` is only called
/// then), and switches to the table's target. `None`: no switch was attempted.
pub fn switch_at(
    table: &TaskTable<'_>,
    key: usize,
    point: SafePoint,
    context: Context,
    verdict: impl FnOnce() -> Verdict<usize>,
) -> Option<SwitchResult> {
    let check = switch_check(point, context);
    if check == Check::Refuse {
        return None;
    }
    let target = table.target();
    if !wants_switch(table.lookup(key), target, table.accepting()) {
        return None;
    }
    if matches!(check, Check::CurrentStack | Check::PinnedStack) && verdict() != Verdict::Clean {
        return None;
    }
    Some(table.switch_task(key, target))
}
