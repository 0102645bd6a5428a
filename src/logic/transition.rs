// SPDX-License-Identifier: GPL-2.0

//! The transition state machine and the ftrace handler's version decision.
//!
//! Pure logic (`core` only), compiled into the kernel module as a `#[path]` submodule (sibling of
//! `task_table`) and into the host crate `livegraft-logic` for `cargo test`.
//!
//! # Model
//!
//! At most one transition runs at a time ([`TransitionState`], global, protected by the
//! kernel's transition mutex). Each loaded patch has a [`Patch`] state. [`next`] applies an
//! [`Event`] concerning one patch and returns the new global and patch states, or the error the
//! sysfs write (or kernel step) must fail with. The rules mirror upstream livepatch's sysfs ABI:
//!
//! * writing the current value to `enabled` is `-EINVAL` ([`TransitionError::AlreadyInState`]);
//! * writing the opposite value while this patch is in transition reverses it ([`Event::Reverse`]);
//! * disabling while another patch is in transition is `-EBUSY` ([`TransitionError::Busy`]);
//! * a disabled patch cannot be enabled again ([`TransitionError::CannotReenable`]);
//! * `force` on a patch not in transition is `-EINVAL` ([`TransitionError::NotInTransition`]).

use super::task_table::Universe;

/// Errno values (positive) used by [`TransitionError::errno`].
const EINVAL: i32 = 22;
/// Errno values (positive) used by [`TransitionError::errno`].
const EBUSY: i32 = 16;

/// Direction of a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Tasks move from the unpatched to the patched universe.
    Patching,
    /// Tasks move from the patched to the unpatched universe.
    Unpatching,
}

impl Direction {
    /// The universe tasks move to.
    pub const fn target_universe(self) -> Universe {
        match self {
            Direction::Patching => Universe::Patched,
            Direction::Unpatching => Universe::Unpatched,
        }
    }

    /// The universe every task is in when the transition starts (the task table's default).
    pub const fn initial_universe(self) -> Universe {
        self.target_universe().opposite()
    }

    /// The direction after a reversal.
    pub const fn opposite(self) -> Direction {
        match self {
            Direction::Patching => Direction::Unpatching,
            Direction::Unpatching => Direction::Patching,
        }
    }
}

/// Identifier of a loaded patch (assigned by the kernel, unique among loaded patches).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PatchId(pub u32);

/// The global transition state (one transition at a time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionState {
    /// No transition.
    Idle,
    /// The task table is being built (tasks inserted in the initial universe); switching has not
    /// started. Invisible to sysfs if the kernel holds its mutex across it.
    Initializing {
        /// The patch in transition.
        patch: PatchId,
        /// Its direction.
        direction: Direction,
    },
    /// Tasks are switching at safe points and by stack checks.
    Running {
        /// The patch in transition.
        patch: PatchId,
        /// Its direction (flips on reversal).
        direction: Direction,
    },
    /// Every task has switched and the verification scan agreed; the completion work tears the
    /// transition down (clears "in transition", removes an unpatched version).
    Completing {
        /// The patch in transition.
        patch: PatchId,
        /// Its direction.
        direction: Direction,
    },
}

impl TransitionState {
    /// The patch in transition, if any.
    pub const fn patch(self) -> Option<PatchId> {
        match self {
            TransitionState::Idle => None,
            TransitionState::Initializing { patch, .. }
            | TransitionState::Running { patch, .. }
            | TransitionState::Completing { patch, .. } => Some(patch),
        }
    }

    /// The direction of the transition, if any.
    pub const fn direction(self) -> Option<Direction> {
        match self {
            TransitionState::Idle => None,
            TransitionState::Initializing { direction, .. }
            | TransitionState::Running { direction, .. }
            | TransitionState::Completing { direction, .. } => Some(direction),
        }
    }

    /// Whether `id` is the patch in transition (its sysfs `transition` file reads `1`).
    pub fn is_in_transition(self, id: PatchId) -> bool {
        self.patch() == Some(id)
    }
}

/// Life cycle of one patch, as its sysfs `enabled` file shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchState {
    /// Loaded, never enabled (`enabled` reads 0).
    Fresh,
    /// Patching in transition or patched (`enabled` reads 1).
    Enabled,
    /// Unpatching in transition or unpatched (`enabled` reads 0). Cannot be enabled again except
    /// by reversing its own unpatching transition; reload the module instead.
    Disabled,
}

/// Per-patch state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Patch {
    /// Where the patch is in its life cycle.
    pub state: PatchState,
    /// A transition of this patch was forced: its module must never be unloaded.
    pub forced: bool,
}

impl Patch {
    /// A freshly loaded patch.
    pub const fn new() -> Patch {
        Patch {
            state: PatchState::Fresh,
            forced: false,
        }
    }

    /// The value of the sysfs `enabled` file.
    pub const fn enabled(self) -> bool {
        matches!(self.state, PatchState::Enabled)
    }

    /// Whether the patch module may be unloaded: not enabled, not in transition, never forced.
    pub fn may_unload(self, transition: TransitionState, id: PatchId) -> bool {
        !self.forced && !self.enabled() && !transition.is_in_transition(id)
    }
}

impl Default for Patch {
    fn default() -> Patch {
        Patch::new()
    }
}

/// An event concerning one patch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Enable the patch (at module load, or `1` written to `enabled`).
    Enable,
    /// `0` written to `enabled`: start unpatching.
    Disable,
    /// The opposite of the current `enabled` value written while this patch is in transition.
    Reverse,
    /// The task table is built; switching starts.
    Started,
    /// `1` written to `force` (the kernel then calls `TaskTable::force_all`).
    Force,
    /// The completion work found `pending() == 0` and the verification scan agreed.
    AllSwitched,
    /// The completion work finished tearing the transition down.
    CompletionDone,
}

/// Why [`next`] refused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionError {
    /// The value written is the current value (`-EINVAL`).
    AlreadyInState,
    /// The patch was disabled; it cannot be enabled again (`-EINVAL`).
    CannotReenable,
    /// Another transition (or this patch's own initialization or completion) is in progress
    /// (`-EBUSY`).
    Busy,
    /// `force`/reverse requested but this patch is not in transition (`-EINVAL`).
    NotInTransition,
    /// A kernel-internal event ([`Event::Started`], [`Event::AllSwitched`],
    /// [`Event::CompletionDone`]) in a state where it cannot happen: a bug (`-EINVAL`).
    InvalidEvent,
}

impl TransitionError {
    /// The negative errno a sysfs store returns for this error.
    pub const fn errno(self) -> i32 {
        match self {
            TransitionError::Busy => -EBUSY,
            TransitionError::AlreadyInState
            | TransitionError::CannotReenable
            | TransitionError::NotInTransition
            | TransitionError::InvalidEvent => -EINVAL,
        }
    }
}

/// Result of a successful [`next`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// The new global transition state.
    pub transition: TransitionState,
    /// The new state of the patch the event concerned.
    pub patch: Patch,
}

/// The patch state that goes with a transition direction (`enabled` follows the direction).
const fn state_for(direction: Direction) -> PatchState {
    match direction {
        Direction::Patching => PatchState::Enabled,
        Direction::Unpatching => PatchState::Disabled,
    }
}

/// Reversal of a running transition of `id`.
fn reversed(
    transition: TransitionState,
    id: PatchId,
    patch: Patch,
) -> Result<Step, TransitionError> {
    match transition {
        TransitionState::Running {
            patch: p,
            direction,
        } if p == id => {
            let direction = direction.opposite();
            Ok(Step {
                transition: TransitionState::Running {
                    patch: id,
                    direction,
                },
                patch: Patch {
                    state: state_for(direction),
                    forced: patch.forced,
                },
            })
        }
        // Its own initialization or completion: the caller retries later.
        TransitionState::Initializing { patch: p, .. }
        | TransitionState::Completing { patch: p, .. }
            if p == id =>
        {
            Err(TransitionError::Busy)
        }
        _ => Err(TransitionError::NotInTransition),
    }
}

/// Applies `event`, concerning patch `id` whose state is `patch`, to the global `transition`.
///
/// Pure: the caller (holding the transition mutex) stores the returned states and performs the
/// matching kernel work (build the table, reverse it, force it, tear down).
pub fn next(
    transition: TransitionState,
    id: PatchId,
    patch: Patch,
    event: Event,
) -> Result<Step, TransitionError> {
    let mine = transition.is_in_transition(id);
    match event {
        Event::Enable => match patch.state {
            PatchState::Enabled => Err(TransitionError::AlreadyInState),
            PatchState::Disabled if mine => reversed(transition, id, patch),
            PatchState::Disabled => Err(TransitionError::CannotReenable),
            PatchState::Fresh => match transition {
                TransitionState::Idle => Ok(Step {
                    transition: TransitionState::Initializing {
                        patch: id,
                        direction: Direction::Patching,
                    },
                    patch: Patch {
                        state: PatchState::Enabled,
                        forced: patch.forced,
                    },
                }),
                _ => Err(TransitionError::Busy),
            },
        },
        Event::Disable => match patch.state {
            PatchState::Fresh | PatchState::Disabled => Err(TransitionError::AlreadyInState),
            PatchState::Enabled if mine => reversed(transition, id, patch),
            PatchState::Enabled => match transition {
                TransitionState::Idle => Ok(Step {
                    transition: TransitionState::Initializing {
                        patch: id,
                        direction: Direction::Unpatching,
                    },
                    patch: Patch {
                        state: PatchState::Disabled,
                        forced: patch.forced,
                    },
                }),
                _ => Err(TransitionError::Busy),
            },
        },
        Event::Reverse => reversed(transition, id, patch),
        Event::Started => match transition {
            TransitionState::Initializing {
                patch: p,
                direction,
            } if p == id => Ok(Step {
                transition: TransitionState::Running {
                    patch: id,
                    direction,
                },
                patch,
            }),
            _ => Err(TransitionError::InvalidEvent),
        },
        Event::Force => match transition {
            TransitionState::Running { patch: p, .. } if p == id => Ok(Step {
                transition,
                patch: Patch {
                    state: patch.state,
                    forced: true,
                },
            }),
            _ if mine => Err(TransitionError::Busy),
            _ => Err(TransitionError::NotInTransition),
        },
        Event::AllSwitched => match transition {
            TransitionState::Running {
                patch: p,
                direction,
            } if p == id => Ok(Step {
                transition: TransitionState::Completing {
                    patch: id,
                    direction,
                },
                patch,
            }),
            _ => Err(TransitionError::InvalidEvent),
        },
        Event::CompletionDone => match transition {
            TransitionState::Completing { patch: p, .. } if p == id => Ok(Step {
                transition: TransitionState::Idle,
                patch,
            }),
            _ => Err(TransitionError::InvalidEvent),
        },
    }
}

/// Maps a write of `value` to patch `id`'s sysfs `enabled` file to its event and applies it.
///
/// The opposite of the current value while this patch is in transition is a reversal; otherwise
/// `1` is [`Event::Enable`] and `0` is [`Event::Disable`].
pub fn enabled_write(
    transition: TransitionState,
    id: PatchId,
    patch: Patch,
    value: bool,
) -> Result<Step, TransitionError> {
    if patch.enabled() == value {
        return Err(TransitionError::AlreadyInState);
    }
    let event = if transition.is_in_transition(id) {
        Event::Reverse
    } else if value {
        Event::Enable
    } else {
        Event::Disable
    };
    next(transition, id, patch, event)
}

/// What the ftrace handler runs for the current task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// Run the top version of the function's version stack.
    UseThisVersion,
    /// Run the next older version (or the original function if there is none).
    UseOlder,
}

/// The handler's decision, used verbatim by the kernel's ftrace handler.
///
/// `version_in_transition`: the top version of the function belongs to the patch in transition
/// (read after the version, with the ordering the kernel's handler documents);
/// `current_universe`: `TaskTable::universe_of(current)`. A task in the unpatched universe must
/// not see the patch in transition, so it uses the next older version; everyone else, and every
/// task once the transition completed, uses the top version.
pub const fn choose(version_in_transition: bool, current_universe: Universe) -> Choice {
    match (version_in_transition, current_universe) {
        (true, Universe::Unpatched) => Choice::UseOlder,
        _ => Choice::UseThisVersion,
    }
}
