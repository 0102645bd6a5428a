// SPDX-License-Identifier: GPL-2.0

//! The stack check's verdict and the code it looks for, as pure functions.
//!
//! The kernel module (`src/stack.rs`, `src/core.rs`, `src/transition.rs`) and the model test judge
//! stacks with these very functions. The kernel produces the trace (return addresses, one at a
//! time, from the ORC unwinder in `lg_stack_walk()`); what a walk must see to be complete is
//! discussed in `src/stack.rs` and `Documentation/design.rst`.

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

/// A verdict in the making, fed one return address at a time (innermost first) by a stack walk
/// that cannot hand out the whole trace (the kernel's walk calls back per frame).
pub struct Judge<T, F> {
    affected: F,
    found: Option<T>,
}

impl<T: Copy, F: Fn(T) -> bool> Judge<T, F> {
    /// A judge looking for return addresses that `affected` claims.
    pub fn new(affected: F) -> Self {
        Judge {
            affected,
            found: None,
        }
    }

    /// One return address of the walk: whether the walk should go on (it stops at the first
    /// affected one: nothing further out can change the verdict).
    pub fn frame(&mut self, ret: T) -> bool {
        if (self.affected)(ret) {
            self.found = Some(ret);
            false
        } else {
            true
        }
    }

    /// The verdict once the walk ended. `complete`: it reached the bottom of the stack reliably
    /// (the user-mode registers of a user task, the end of a kernel thread's stack); a walk that
    /// stopped at an affected frame needs no more.
    pub fn verdict(self, complete: bool) -> Verdict<T> {
        match self.found {
            Some(ret) => Verdict::Affected(ret),
            None if complete => Verdict::Clean,
            None => Verdict::Unreliable,
        }
    }
}

/// The verdict on a whole trace (`complete`: the walk that produced it reached the bottom of the
/// stack reliably): [`Judge`] over `entries`.
pub fn judge<T: Copy>(entries: &[T], complete: bool, affected: impl Fn(T) -> bool) -> Verdict<T> {
    let mut j = Judge::new(affected);
    for &ret in entries {
        if !j.frame(ret) {
            break;
        }
    }
    j.verdict(complete)
}

/// The verdict on a task that cannot run meanwhile (pinned, parked, or every CPU stopped): a dead
/// task (`TASK_DEAD`) is clean without a walk (it never runs again, and its stack may already be
/// freed); any other is `walk`ed.
pub fn judge_stable<T>(dead: bool, walk: impl FnOnce() -> Verdict<T>) -> Verdict<T> {
    if dead {
        Verdict::Clean
    } else {
        walk()
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
/// (`None`: the original), `this` the patch's version. Two pieces, the second always the
/// original; the first is the original too when patching a function no other patch replaces
/// (the kernel lists it once).
///
/// Besides the version the task runs, the **original** is always included: a replacement enters
/// the original past its fentry call through its `LIVEGRAFT_ORIGINAL` stub, and after a *tail*
/// call no frame of the replacement is left, only the original's, which then runs as the rest of
/// the replacement's work. A task running it in the patched universe that switched would finish
/// that body calling the other universe's versions: the model's seeded bug
/// `AffectedWithoutOriginal` shows the mix, VM scenario 55 the kernel's. In the unpatched
/// universe the original is the old code anyway (or, below a stacked patch, that patch's own
/// tail call target).
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

/// The code of a function that becomes patched *during* a transition (its module loaded then):
/// the kernel cannot tell which side a task's frames of it belong to any more, so the code of
/// both sides goes on one list that both directions check (`Active::add_late_code`): `this`,
/// the version below it (or the original) and the original, i.e. both [`affected_code`] sets.
/// Without it a task asleep in the module's old code would switch (the model's seeded bug
/// `LateCodeUnchecked`).
pub fn late_code<V: Copy>(below: Option<V>, this: V) -> [CodeOf<V>; 3] {
    let [old, orig] = affected_code(Affected::OldCode, below, this);
    let [new, _] = affected_code(Affected::NewCode, below, this);
    [new, old, orig]
}
