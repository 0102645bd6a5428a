//! Unit tests of `transition`: the state machine, the sysfs error mapping, `choose`.

use livegraft_logic::task_table::Universe;
use livegraft_logic::transition::{
    choose, enabled_write, next, Choice, Direction, Event, Patch, PatchId, PatchState, Step,
    TransitionError, TransitionState,
};

const A: PatchId = PatchId(1);
const B: PatchId = PatchId(2);

fn running(patch: PatchId, direction: Direction) -> TransitionState {
    TransitionState::Running { patch, direction }
}

fn patch(state: PatchState) -> Patch {
    Patch {
        state,
        forced: false,
    }
}

/// Drives a fresh patch through enable -> started -> all switched -> done.
fn enabled_patch() -> Patch {
    let mut t = TransitionState::Idle;
    let mut p = Patch::new();
    for e in [
        Event::Enable,
        Event::Started,
        Event::AllSwitched,
        Event::CompletionDone,
    ] {
        let s = next(t, A, p, e).unwrap();
        t = s.transition;
        p = s.patch;
    }
    assert_eq!(t, TransitionState::Idle);
    p
}

#[test]
fn directions() {
    assert_eq!(Direction::Patching.target_universe(), Universe::Patched);
    assert_eq!(Direction::Patching.initial_universe(), Universe::Unpatched);
    assert_eq!(Direction::Unpatching.target_universe(), Universe::Unpatched);
    assert_eq!(Direction::Unpatching.initial_universe(), Universe::Patched);
    assert_eq!(Direction::Patching.opposite(), Direction::Unpatching);
    assert_eq!(Universe::Patched.opposite(), Universe::Unpatched);
    assert_eq!(Universe::Patched.patch_state(), 1);
    assert_eq!(Universe::Unpatched.patch_state(), 0);
}

#[test]
fn full_patch_lifecycle() {
    let p0 = Patch::new();
    assert!(!p0.enabled());
    let s = next(TransitionState::Idle, A, p0, Event::Enable).unwrap();
    assert_eq!(
        s.transition,
        TransitionState::Initializing {
            patch: A,
            direction: Direction::Patching
        }
    );
    assert!(s.patch.enabled());
    let s = next(s.transition, A, s.patch, Event::Started).unwrap();
    assert_eq!(s.transition, running(A, Direction::Patching));
    assert!(s.transition.is_in_transition(A));
    assert!(!s.transition.is_in_transition(B));
    let s = next(s.transition, A, s.patch, Event::AllSwitched).unwrap();
    assert!(matches!(s.transition, TransitionState::Completing { .. }));
    let s = next(s.transition, A, s.patch, Event::CompletionDone).unwrap();
    assert_eq!(s.transition, TransitionState::Idle);
    assert_eq!(s.patch.state, PatchState::Enabled);
    assert!(!s.patch.may_unload(s.transition, A));

    // Disable: unpatching transition, then retired.
    let s = enabled_write(s.transition, A, s.patch, false).unwrap();
    assert_eq!(
        s.transition,
        TransitionState::Initializing {
            patch: A,
            direction: Direction::Unpatching
        }
    );
    assert_eq!(s.patch.state, PatchState::Disabled);
    let s = next(s.transition, A, s.patch, Event::Started).unwrap();
    let s = next(s.transition, A, s.patch, Event::AllSwitched).unwrap();
    let s = next(s.transition, A, s.patch, Event::CompletionDone).unwrap();
    assert_eq!(s.transition, TransitionState::Idle);
    assert!(s.patch.may_unload(s.transition, A));
    // A disabled patch cannot be enabled again.
    assert_eq!(
        enabled_write(s.transition, A, s.patch, true),
        Err(TransitionError::CannotReenable)
    );
    assert_eq!(
        next(s.transition, A, s.patch, Event::Enable),
        Err(TransitionError::CannotReenable)
    );
}

#[test]
fn writing_the_current_value_is_einval() {
    let p = enabled_patch();
    let e = enabled_write(TransitionState::Idle, A, p, true).unwrap_err();
    assert_eq!(e, TransitionError::AlreadyInState);
    assert_eq!(e.errno(), -22);
    assert_eq!(
        enabled_write(TransitionState::Idle, A, Patch::new(), false),
        Err(TransitionError::AlreadyInState)
    );
    assert_eq!(
        enabled_write(running(A, Direction::Patching), A, p, true),
        Err(TransitionError::AlreadyInState)
    );
    assert_eq!(
        next(
            TransitionState::Idle,
            A,
            patch(PatchState::Disabled),
            Event::Disable
        ),
        Err(TransitionError::AlreadyInState)
    );
}

#[test]
fn reversal_by_writing_the_opposite_value() {
    let t = running(A, Direction::Patching);
    let p = patch(PatchState::Enabled);
    let s = enabled_write(t, A, p, false).unwrap();
    assert_eq!(s.transition, running(A, Direction::Unpatching));
    assert_eq!(s.patch.state, PatchState::Disabled);
    // ... and back: re-enabling is allowed while its own unpatching is in transition.
    let s = enabled_write(s.transition, A, s.patch, true).unwrap();
    assert_eq!(s.transition, running(A, Direction::Patching));
    assert_eq!(s.patch.state, PatchState::Enabled);
    // The explicit event does the same.
    assert_eq!(
        next(t, A, p, Event::Reverse),
        Ok(Step {
            transition: running(A, Direction::Unpatching),
            patch: patch(PatchState::Disabled)
        })
    );
    // Reversal after a completed reversal: patching reversed, unpatching completed -> retired.
    let s = next(t, A, p, Event::Reverse).unwrap();
    let s = next(s.transition, A, s.patch, Event::AllSwitched).unwrap();
    let s = next(s.transition, A, s.patch, Event::CompletionDone).unwrap();
    assert_eq!(
        enabled_write(s.transition, A, s.patch, true),
        Err(TransitionError::CannotReenable)
    );
}

#[test]
fn busy_and_not_in_transition() {
    let t = running(A, Direction::Patching);
    let b = enabled_patch();
    // Disable while another patch is in transition.
    let e = enabled_write(t, B, b, false).unwrap_err();
    assert_eq!(e, TransitionError::Busy);
    assert_eq!(e.errno(), -16);
    // Enable a fresh patch while another is in transition.
    assert_eq!(
        next(t, B, Patch::new(), Event::Enable),
        Err(TransitionError::Busy)
    );
    // Force / reverse on a patch not in transition.
    assert_eq!(
        next(t, B, b, Event::Force),
        Err(TransitionError::NotInTransition)
    );
    assert_eq!(
        next(TransitionState::Idle, B, b, Event::Force),
        Err(TransitionError::NotInTransition)
    );
    assert_eq!(
        next(t, B, b, Event::Reverse),
        Err(TransitionError::NotInTransition)
    );
    // Sysfs requests during this patch's own initialization or completion.
    let init = TransitionState::Initializing {
        patch: A,
        direction: Direction::Patching,
    };
    let compl = TransitionState::Completing {
        patch: A,
        direction: Direction::Patching,
    };
    let p = patch(PatchState::Enabled);
    for st in [init, compl] {
        assert_eq!(next(st, A, p, Event::Reverse), Err(TransitionError::Busy));
        assert_eq!(next(st, A, p, Event::Force), Err(TransitionError::Busy));
        assert_eq!(enabled_write(st, A, p, false), Err(TransitionError::Busy));
    }
}

#[test]
fn force_marks_the_patch() {
    let t = running(A, Direction::Unpatching);
    let s = next(t, A, patch(PatchState::Disabled), Event::Force).unwrap();
    assert_eq!(s.transition, t);
    assert!(s.patch.forced);
    let s = next(s.transition, A, s.patch, Event::AllSwitched).unwrap();
    let s = next(s.transition, A, s.patch, Event::CompletionDone).unwrap();
    assert!(s.patch.forced);
    assert!(
        !s.patch.may_unload(s.transition, A),
        "forced patch never unloads"
    );
}

#[test]
fn internal_events_out_of_place_are_errors() {
    let p = patch(PatchState::Enabled);
    for (t, e) in [
        (TransitionState::Idle, Event::Started),
        (TransitionState::Idle, Event::AllSwitched),
        (TransitionState::Idle, Event::CompletionDone),
        (running(A, Direction::Patching), Event::Started),
        (running(A, Direction::Patching), Event::CompletionDone),
        (running(B, Direction::Patching), Event::AllSwitched),
    ] {
        assert_eq!(
            next(t, A, p, e),
            Err(TransitionError::InvalidEvent),
            "{t:?} {e:?}"
        );
    }
}

#[test]
fn choose_table() {
    assert_eq!(choose(true, Universe::Unpatched), Choice::UseOlder);
    assert_eq!(choose(true, Universe::Patched), Choice::UseThisVersion);
    assert_eq!(choose(false, Universe::Unpatched), Choice::UseThisVersion);
    assert_eq!(choose(false, Universe::Patched), Choice::UseThisVersion);
}

/// Every guard on the patch's identity: an event about patch B while patch A is in each state
/// of its transition must not act on A's transition (two patches whose identity matters).
#[test]
fn events_about_another_patch_do_not_touch_the_transition() {
    let fresh = Patch::new();
    let en = patch(PatchState::Enabled);
    let dis = patch(PatchState::Disabled);
    for direction in [Direction::Patching, Direction::Unpatching] {
        let init = TransitionState::Initializing {
            patch: A,
            direction,
        };
        let run = running(A, direction);
        let compl = TransitionState::Completing {
            patch: A,
            direction,
        };
        for t in [init, run, compl] {
            // B is not in transition: no reversal, no force, no internal event applies to it.
            for p in [en, dis] {
                assert_eq!(
                    next(t, B, p, Event::Reverse),
                    Err(TransitionError::NotInTransition),
                    "{t:?} {p:?}"
                );
            }
            assert_eq!(
                next(t, B, en, Event::Force),
                Err(TransitionError::NotInTransition),
                "{t:?}"
            );
            for e in [Event::Started, Event::AllSwitched, Event::CompletionDone] {
                assert_eq!(
                    next(t, B, en, e),
                    Err(TransitionError::InvalidEvent),
                    "{t:?} {e:?}"
                );
            }
            // Enabling or disabling B while A is in transition: busy; a disabled B stays
            // disabled.
            assert_eq!(next(t, B, fresh, Event::Enable), Err(TransitionError::Busy));
            assert_eq!(next(t, B, en, Event::Disable), Err(TransitionError::Busy));
            assert_eq!(
                next(t, B, dis, Event::Enable),
                Err(TransitionError::CannotReenable)
            );
        }
        // The same events about A itself do act.
        assert!(next(run, A, en, Event::Force).is_ok());
        assert!(next(init, A, en, Event::Started).is_ok());
        assert!(next(run, A, en, Event::AllSwitched).is_ok());
        assert!(next(compl, A, en, Event::CompletionDone).is_ok());
    }
}

/// `Enable` on a patch whose own unpatching runs, and `Disable` on a patch whose own patching
/// runs, are reversals (the raw events, not only through `enabled_write`).
#[test]
fn enable_and_disable_events_on_the_patch_in_transition_reverse_it() {
    let s = next(
        running(A, Direction::Unpatching),
        A,
        patch(PatchState::Disabled),
        Event::Enable,
    )
    .unwrap();
    assert_eq!(s.transition, running(A, Direction::Patching));
    assert_eq!(s.patch.state, PatchState::Enabled);
    let s = next(
        running(A, Direction::Patching),
        A,
        patch(PatchState::Enabled),
        Event::Disable,
    )
    .unwrap();
    assert_eq!(s.transition, running(A, Direction::Unpatching));
    assert_eq!(s.patch.state, PatchState::Disabled);
    // During its own initialization or completion: busy, not "cannot re-enable".
    for t in [
        TransitionState::Initializing {
            patch: A,
            direction: Direction::Unpatching,
        },
        TransitionState::Completing {
            patch: A,
            direction: Direction::Unpatching,
        },
    ] {
        assert_eq!(
            next(t, A, patch(PatchState::Disabled), Event::Enable),
            Err(TransitionError::Busy)
        );
    }
    // A forced flag survives a reversal.
    let forced = Patch {
        state: PatchState::Enabled,
        forced: true,
    };
    let s = next(running(A, Direction::Patching), A, forced, Event::Reverse).unwrap();
    assert!(s.patch.forced);
}
