// SPDX-License-Identifier: GPL-2.0

//! The kernel side's decisions, as pure functions: which version a call runs (the redirect),
//! which universe a forked child gets, and when a task may switch at a safe point.
//!
//! Pure logic (`core` only), compiled into the kernel module as a `#[path]` submodule (sibling of
//! `task_table`) and into the host crate `livegraft-logic`, where the model test
//! (`crates/livegraft-logic/tests/model.rs`) drives its simulated kernel through these very
//! functions, so that what the model proves is what the module runs.
//!
//! Semantics are those of the kernel code they were lifted from (`src/patch.rs`
//! `lg_rust_redirect_target`, `src/transition.rs` `switch_current`, `switch_idle`,
//! `task_forked`, `universe_of`), with one deliberate difference, documented at
//! [`switch_check`]: switching from interrupt context is refused (issue 13, item 6); the model
//! shows the mix today's switch in the tick's hard interrupt and at the end of a BH work item can
//! cause (its seeded bugs `TickSwitchInHardirq` and `BhWorkItemSwitch`).

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

/// Today's final step of the redirect: a call whose return address lies in the selected
/// version's own replacement runs the original function (`None`), so that a replacement that
/// calls the function it replaces does not call itself.
///
/// This return-address rule is wrong for a *tail* call (`return orig(x);` compiled to `jmp`):
/// the return address is then the replacement's caller, and the call loops back into the
/// replacement (issue 13, item 2; the model's seeded bug `TailCallViaReturnAddress` shows the
/// loop). It is being replaced by an explicit entry to the original past its fentry call; the
/// model calls the original that way (no decision at all) unless the seeded bug is on.
#[inline(always)]
pub fn redirect_by_caller<V: Copy>(
    selected: Option<V>,
    called_from: impl FnOnce(V) -> bool,
) -> Option<V> {
    match selected {
        Some(v) if !called_from(v) => Some(v),
        _ => None,
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
    /// The table is full: the child is untracked, so it runs in the table's default universe
    /// (the initial universe of the transition) until a verification walk inserts it there.
    /// The kernel counts these (`untracked_forks`). Why that is safe, and the one window where it
    /// is not, is argued in `Documentation/design.rst` ("Fork and exit") and checked by the model.
    Untracked,
}

/// The fork rule (`wake_up_new_task()` hook, before the child first runs): the child inherits
/// its parent's universe. `insert` adds the child's key under the table's mutation lock (the
/// kernel reloads the current table inside the lock, see `transition.rs`).
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
        Err(_) => Forked::Untracked,
    }
}

/// Where a task may switch universe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SafePoint {
    /// A user task leaves a syscall (`raw_syscalls:sys_exit`): its kernel stack is empty.
    SyscallExit,
    /// A user task returns to user mode by another path than a syscall exit (the task-work
    /// route of issue 13, item 4): its kernel stack is empty.
    ReturnToUser,
    /// An interrupt found the task running in user mode (the tick, the IPIs): today's kernel
    /// switches there, in the hard interrupt.
    UserModeInterrupt,
    /// A kworker finished a work item (`workqueue:workqueue_execute_end`).
    WorkItemEnd,
    /// A kthread's loop head (`kthread_should_stop`, `kthread_freezable_should_stop`).
    KthreadLoopHead,
    /// The freezer (`__refrigerator`).
    Freezer,
    /// CPU-bound kernel code (`__cond_resched`).
    CondResched,
    /// `power:cpu_idle`: fires inside `cpuidle_enter_state()`, in the middle of an idle-loop
    /// iteration (issue 13, item 7).
    IdleEntry,
    /// The end of an idle-loop iteration (the fix of issue 13, item 7).
    IdleLoopEnd,
    /// A blocked task, pinned, from the transition work.
    Blocked,
    /// Any task off a CPU while every CPU is stopped (`sweep`).
    Sweep,
}

/// Where the code that reaches a safe point runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Task context: the current task's whole kernel stack is its own.
    Task,
    /// Softirq (a BH work item, softirq processing on interrupt exit), nested on a task.
    SoftIrq,
    /// Hard interrupt, nested on a task.
    HardIrq,
}

/// What a switch at a safe point requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// No switch here.
    Refuse,
    /// Switch: the point itself proves that no affected function is running (empty kernel
    /// stack, or the idle loop between iterations).
    None,
    /// Switch if a stack check of the current task is clean.
    CurrentStack,
    /// Switch if a stack check of the pinned (or stopped) task is clean; the task cannot run
    /// between the check and the switch.
    PinnedStack,
}

/// The switch rule of each safe point (the safe-point table of `Documentation/design.rst`).
///
/// A switch happens only in task context, where the whole kernel stack is the task's and is
/// known: a switch from an interrupt would change the universe of the interrupted task in the
/// middle of whatever it was doing, and that of the interrupt's remaining code. Today's kernel
/// differs there: `UserModeInterrupt` switches in the tick's hard interrupt and `WorkItemEnd`
/// switches from a BH work item in softirq (issue 13, item 6); the model's seeded bugs
/// `TickSwitchInHardirq` and `BhWorkItemSwitch` replay those rules and show the mix.
/// `IdleEntry` is today's idle rule (no check, mid-iteration; seeded bug
/// `IdleSwitchMidIteration`); `IdleLoopEnd` is its fix.
pub const fn switch_check(point: SafePoint, context: Context) -> Check {
    match context {
        Context::SoftIrq | Context::HardIrq => return Check::Refuse,
        Context::Task => {}
    }
    match point {
        SafePoint::SyscallExit
        | SafePoint::ReturnToUser
        | SafePoint::UserModeInterrupt
        | SafePoint::IdleEntry
        | SafePoint::IdleLoopEnd => Check::None,
        SafePoint::WorkItemEnd
        | SafePoint::KthreadLoopHead
        | SafePoint::Freezer
        | SafePoint::CondResched => Check::CurrentStack,
        SafePoint::Blocked | SafePoint::Sweep => Check::PinnedStack,
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
