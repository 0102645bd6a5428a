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

/// One piece of code of a patched function: a version (`V`: the kernel's `Version`) or the
/// original function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeOf<V> {
    /// A patch's replacement.
    Version(V),
    /// The original function.
    Original,
}

/// The code of one function of the patch in transition that a task switching away from
/// `affected` must not have on its stack: `below` is the version under the patch's own
/// (`None`: the original), `this` the patch's version.
///
/// Besides the version the task runs, the **original** is always included: a replacement may
/// enter the original past its fentry call (the explicit call of the original that replaces
/// the return-address rule), and after a *tail* call no frame of the replacement is left, only
/// the original's, which then runs as the rest of the replacement's work. A task running it in
/// the patched universe (it can get there no other way) that switched would finish that body
/// calling the other universe's versions: the model's seeded bug `AffectedWithoutOriginal`
/// shows the mix. In the unpatched universe the original is the old code anyway.
pub fn affected_code<V: Copy>(affected: Affected, below: Option<V>, this: V) -> [CodeOf<V>; 2] {
    let own = match affected {
        Affected::OldCode => match below {
            Some(v) => CodeOf::Version(v),
            None => CodeOf::Original,
        },
        Affected::NewCode => CodeOf::Version(this),
    };
    [own, CodeOf::Original]
}
