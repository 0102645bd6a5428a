// SPDX-License-Identifier: GPL-2.0

//! Upstream livepatch's rules for system states and callbacks
//! (kernel/livepatch/state.c, core.h, core.c, transition.c of 6.12), as
//! pure functions: `src/state.rs` and `src/callbacks.rs` call them.

/// A system state of a patch: `struct klp_state`'s id and version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateRef {
    /// Non-zero identifier.
    pub id: u64,
    /// Version of its handling.
    pub version: u32,
}

/// `klp_get_state()`: the first state of `id` in a patch's states.
pub fn find_state(states: &[StateRef], id: u64) -> Option<usize> {
    states.iter().position(|s| s.id == id)
}

/// `klp_is_state_compatible()`: can a new patch (its states, whether it
/// replaces) take over an installed patch's state?  A cumulative patch
/// must handle every state already modified; a patch that only adds to
/// the stack need not, but one that has the state needs at least its
/// version.
pub fn state_compatible(new: &[StateRef], replace: bool, old: StateRef) -> bool {
    match find_state(new, old.id) {
        None => !replace,
        Some(i) => new.get(i).map_or(false, |s| s.version >= old.version),
    }
}

/// `klp_is_patch_compatible()`: against every state of every installed patch.
pub fn patch_compatible(new: &[StateRef], replace: bool, installed: impl IntoIterator<Item = StateRef>) -> bool {
    installed.into_iter().all(|old| state_compatible(new, replace, old))
}

/// `klp_get_prev_state()`: among the registered patches in registration
/// order, the last one *before* the patch in transition whose states have
/// `id`; `has(i)` says whether patch `i` has it. None without a transition
/// (upstream warns then), or when no earlier patch has it.
pub fn prev_state_owner(count: usize, transition: Option<usize>, has: impl Fn(usize) -> bool) -> Option<usize> {
    let end = transition?;
    (0..count.min(end)).filter(|&i| has(i)).last()
}

/// Which callback runs at the end of a transition, by its final direction
/// (a reversed transition ends in the other one): upstream's
/// `klp_complete_transition()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// `post_patch` of every loaded object.
    PostPatch,
    /// `post_unpatch` of every loaded object whose `pre_patch` succeeded.
    PostUnpatch,
}

/// `klp_post_unpatch_callback()`'s rule: the post-unpatch callback runs
/// only if the pre-patch one ran and succeeded (`post_unpatch_enabled`),
/// and only once.
pub fn runs_post_unpatch(post_unpatch_enabled: bool) -> bool {
    post_unpatch_enabled
}

/// `klp_pre_patch_callback()`'s bookkeeping: post-unpatch is enabled iff
/// the pre-patch callback (or its absence) succeeded.
pub fn post_unpatch_enabled_after_pre_patch(ret: i32) -> bool {
    ret == 0
}

/// The objects whose pre-patch callback runs when enabling a patch with
/// `results[i]` the return of object i's pre-patch callback (0 for none):
/// upstream's `__klp_enable_patch()` stops at the first failure. Returns
/// how many ran and the index of the failing one, if any.
pub fn pre_patch_run(results: impl IntoIterator<Item = i32>) -> (usize, Option<usize>) {
    let mut ran = 0usize;
    for (i, r) in results.into_iter().enumerate() {
        ran = i.wrapping_add(1);
        if r != 0 {
            return (ran, Some(i));
        }
    }
    (ran, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn s(id: u64, version: u32) -> StateRef {
        StateRef { id, version }
    }

    #[test]
    fn missing_state_is_compatible_only_without_replace() {
        assert!(state_compatible(&[], false, s(1, 1)));
        assert!(!state_compatible(&[], true, s(1, 1)));
        assert!(state_compatible(&[s(2, 9)], false, s(1, 1)));
        assert!(!state_compatible(&[s(2, 9)], true, s(1, 1)));
    }

    #[test]
    fn version_must_not_go_down() {
        for replace in [false, true] {
            assert!(state_compatible(&[s(1, 2)], replace, s(1, 1)));
            assert!(state_compatible(&[s(1, 1)], replace, s(1, 1)));
            assert!(!state_compatible(&[s(1, 1)], replace, s(1, 2)));
        }
    }

    #[test]
    fn patch_checks_every_installed_state() {
        let installed = [s(1, 1), s(2, 3)];
        assert!(patch_compatible(&[s(1, 1), s(2, 3)], true, installed));
        assert!(!patch_compatible(&[s(1, 1)], true, installed));
        assert!(patch_compatible(&[s(1, 1)], false, installed));
        assert!(!patch_compatible(&[s(1, 1), s(2, 2)], false, installed));
        assert!(patch_compatible(&[], true, []));
    }

    #[test]
    fn first_state_of_an_id_wins() {
        assert_eq!(find_state(&[s(1, 1), s(2, 2), s(2, 3)], 2), Some(1));
        assert_eq!(find_state(&[s(1, 1)], 3), None);
    }

    #[test]
    fn prev_state_is_the_newest_before_the_transition_patch() {
        let has = [true, false, true, true];
        let f = |i: usize| has[i];
        assert_eq!(prev_state_owner(4, Some(3), f), Some(2));
        assert_eq!(prev_state_owner(4, Some(2), f), Some(0));
        assert_eq!(prev_state_owner(4, Some(0), f), None);
        assert_eq!(prev_state_owner(4, None, f), None);
        // The transition patch's own state never counts.
        assert_eq!(prev_state_owner(4, Some(1), |i| i == 1), None);
    }

    #[test]
    fn pre_patch_stops_at_the_first_failure() {
        assert_eq!(pre_patch_run([0, 0, 0]), (3, None));
        assert_eq!(pre_patch_run([0, -19, 0]), (2, Some(1)));
        assert_eq!(pre_patch_run([-22]), (1, Some(0)));
        assert_eq!(pre_patch_run(Vec::new()), (0, None));
    }

    #[test]
    fn post_unpatch_follows_pre_patch() {
        assert!(runs_post_unpatch(post_unpatch_enabled_after_pre_patch(0)));
        assert!(!runs_post_unpatch(post_unpatch_enabled_after_pre_patch(-19)));
    }
}
