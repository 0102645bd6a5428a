// SPDX-License-Identifier: GPL-2.0

//! The stack check's verdict and the code it looks for, as pure functions.
//!
//! Lifted from `src/stack.rs` (`judge`, `check_stable`) and `src/transition.rs`
//! (`Active::affected`) with the same semantics, so that the model test judges its simulated
//! stacks with the kernel's rule. The kernel produces the trace (return addresses, ORC unwinder);
//! what it must contain to be complete is discussed in `src/stack.rs` and issue 13, item 3.

use super::task_table::Universe;

/// What a stack check found. `T` is a return address (`usize` in the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict<T> {
    /// None of the affected functions is on the stack.
    Clean,
    /// This return address lies in one of the affected functions.
    Affected(T),
    /// The stack could not be read completely.
    Unreliable,
}

/// The verdict on a trace: the first entry that `affected` claims, else `Unreliable` if the trace
/// filled the whole buffer (`full`: frames beyond it were not seen), else `Clean`.
pub fn judge<T: Copy>(entries: &[T], full: bool, affected: impl Fn(T) -> bool) -> Verdict<T> {
    for &ret in entries {
        if affected(ret) {
            return Verdict::Affected(ret);
        }
    }
    if full {
        Verdict::Unreliable
    } else {
        Verdict::Clean
    }
}

/// The verdict on the trace of a task that cannot run meanwhile (pinned, or every CPU stopped):
/// an empty trace is `Clean` for a dead task (its stack is gone, it never runs again) and
/// `Unreliable` for a live one; otherwise [`judge`].
pub fn judge_stable<T: Copy>(
    entries: &[T],
    full: bool,
    dead: impl FnOnce() -> bool,
    affected: impl Fn(T) -> bool,
) -> Verdict<T> {
    if entries.is_empty() {
        if dead() {
            Verdict::Clean
        } else {
            Verdict::Unreliable
        }
    } else {
        judge(entries, full, affected)
    }
}

/// The code a task must not have on its stack to switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affected {
    /// The code tasks run before the patch in transition: for each of its functions the version
    /// below the patch's (or the original), plus the trampolines.
    OldCode,
    /// The patch's new functions, plus the trampolines.
    NewCode,
}

/// The affected code for a switch to `target`: the code of the universe the task leaves.
pub const fn affected_for(target: Universe) -> Affected {
    match target {
        Universe::Patched => Affected::OldCode,
        Universe::Unpatched => Affected::NewCode,
    }
}
