// SPDX-License-Identifier: GPL-2.0

//! Callbacks only: the patch builds on the system state 7 that
//! samples/gen_callbacks introduces, and refuses to be enabled without it.

use kernel::prelude::*;

use crate::livegraft::{prev_state, Object};

/// The state this patch needs.
const STATE: u64 = 7;

/// Refuses the enable (ENODEV) when no earlier patch has the state.
pub fn pre_patch(obj: &Object) -> Result {
    match prev_state(STATE) {
        Some(s) => {
            pr_info!(
                "pre_patch {}: state {} version {} found\n",
                obj.name(),
                STATE,
                s.version
            );
            Ok(())
        }
        None => {
            pr_info!(
                "pre_patch {}: no state {} to build on: refused\n",
                obj.name(),
                STATE
            );
            Err(ENODEV)
        }
    }
}

/// Once the patch is enabled.
pub fn post_patch(obj: &Object) {
    pr_info!(
        "post_patch {}: patched {}\n",
        obj.name(),
        obj.patched() as u8
    );
}

/// Once it is disabled (not after a refused enable: pre_patch failed).
pub fn post_unpatch(obj: &Object) {
    pr_info!(
        "post_unpatch {}: patched {}\n",
        obj.name(),
        obj.patched() as u8
    );
}
