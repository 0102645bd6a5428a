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
