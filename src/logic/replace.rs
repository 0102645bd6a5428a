// SPDX-License-Identifier: GPL-2.0

//! Atomic replace and stack order, as pure functions (upstream's
//! `kernel/livepatch/core.c`: `klp_add_nops`, `stack_order_show`;
//! `Documentation/livepatch/cumulative-patches.rst`).
//!
//! Pure logic (`core` only), compiled into the kernel module as a `#[path]` submodule and into
//! the host crate `livegraft-logic` for `cargo test`.
//!
//! A cumulative patch replaces every patch enabled before it in one transition. The functions
//! those patches replace but the cumulative patch does not must go back to their original code
//! for the tasks that switch: livegraft pushes, on each of them, a *nop* version whose code is
//! the original (upstream's `klp_func.nop`). [`reverted`] says which functions get one.
//! During the transition a task in the unpatched universe skips the new top (the new version or
//! the nop) and runs the version below it, which is the top before the transition: the stacks
//! as they were. When it completes, the replaced patches' versions and the nops leave the
//! stacks, and a function with only a nop left is unhooked.

/// The functions (keys: their original's address) that the replaced patches touch and the
/// cumulative patch does not, each once, in the order first seen in `older`: the functions that
/// get a nop version. `older` lists every function of every patch being replaced (duplicates
/// allowed: stacked patches replace the same functions), `new` those of the cumulative patch.
pub fn reverted<'a, K: PartialEq + Copy>(older: &'a [K], new: &'a [K]) -> impl Iterator<Item = K> + 'a {
    older
        .iter()
        .enumerate()
        .filter(move |&(i, k)| !new.contains(k) && !older.get(..i).unwrap_or(&[]).contains(k))
        .map(|(_, k)| *k)
}

/// The `stack_order` of the patch `id` among the registered patches `ids` (in any order): its
/// 1-based position in enable order, which the monotonic ids give (`stack_order_show`: the
/// position in `klp_patches`, oldest first). `None` if `id` is not registered.
pub fn stack_order(ids: impl IntoIterator<Item = u32> + Clone, id: u32) -> Option<usize> {
    if !ids.clone().into_iter().any(|i| i == id) {
        return None;
    }
    Some(ids.into_iter().filter(|&i| i < id).count().wrapping_add(1))
}

/// What the end of an atomic replace does with one function of the cumulative patch, once every
/// task runs its top versions (`replace.rs`'s `finish_replace`, and the model test).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplaceEnd {
    /// A nop's function: every task runs the original already, so the whole stack goes (the
    /// replaced patches' versions and the nop) and the function is unhooked.
    Unhook,
    /// A version of the cumulative patch: the replaced versions below it are cut off.
    CutOlder,
}

/// [`ReplaceEnd`] for a function of the cumulative patch (`nop`: its version is a nop).
pub const fn at_replace_end(nop: bool) -> ReplaceEnd {
    if nop {
        ReplaceEnd::Unhook
    } else {
        ReplaceEnd::CutOlder
    }
}

/// What a module's COMING does with one function of a registered patch's object of that module
/// (`objects.rs`, upstream's `klp_module_coming()`; the model test loads its module with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coming {
    /// Nothing: a nop of a replace that is over (it only exists during its replace transition).
    Skip,
    /// Resolve the function and attach it to its site, but push nothing: the patch's versions are
    /// not pushed (yet), its own transition's setup pushes them.
    Attach,
    /// Push the version before the module's init runs, marked in transition if its patch is the
    /// one in transition (tasks then run it or the version below by their universe, as for the
    /// patch's other functions); otherwise every task runs it at once, as every other function of
    /// the patch.
    Push {
        /// Mark it in transition (before the push: `patch.rs`, ordering 2).
        in_transition: bool,
    },
}

/// [`Coming`] for a function: `nop`, its version is a nop and `replacing`, its patch's replace
/// transition is not over (it still has patches to replace); `pushed`, the patch's versions are
/// on the stacks (from its patching setup until its unpatching completes); `in_transition`, the
/// patch is the one in transition. Patches are visited oldest first, so the stacks of the
/// module's functions come out in enable order as everywhere else.
pub const fn coming(nop: bool, replacing: bool, pushed: bool, in_transition: bool) -> Coming {
    if nop && !replacing {
        Coming::Skip
    } else if !pushed {
        Coming::Attach
    } else {
        Coming::Push { in_transition }
    }
}

/// One function of a patch to be unpatched, for [`newer_on_top`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncTop<V> {
    /// A function with a site: the top of its stack (`None`: empty) and the patch's version.
    Live(Option<V>, V),
    /// A function whose object (a module) is not loaded: whether a newer registered patch
    /// replaces it too. When the module loads, its stack is built oldest first, that patch's
    /// version on top of this one's: a disable that ignored it would leave, during its
    /// unpatching transition, a newer version out of transition above the one in transition,
    /// which every task runs (a mix, found by the model test), and at the completion a pop of a
    /// version not on top.
    Unloaded(bool),
}

/// The stack-order rule of a disable (`core.rs`'s `check_stack_order`, upstream's refusal to
/// disable a patch that is not the newest): a patch may be unpatched only if its version is on
/// top of the stack of each of its functions, loaded or not. Returns the index of the first
/// function where another version is (or will be) on top, if any (the kernel names it in its
/// -EBUSY message).
pub fn newer_on_top<V: PartialEq>(funcs: impl IntoIterator<Item = FuncTop<V>>) -> Option<usize> {
    funcs.into_iter().position(|f| match f {
        FuncTop::Live(top, own) => top.is_some_and(|t| t != own),
        FuncTop::Unloaded(newer) => newer,
    })
}
