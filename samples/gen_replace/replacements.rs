// SPDX-License-Identifier: GPL-2.0

//! Cumulative version 4 of lg_target (tests/modules/lg_target): takes over
//! the system state 7 (version 2 now) and the shadow variable `UNITS` of
//! samples/gen_callbacks, and frees it when disabled.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;

use crate::livegraft::{prev_state, state, Object, Shadow};

extern "C" {
    fn lg_target_a() -> c_int;
    fn lg_target_b() -> c_int;
    fn lg_target_record(kind: c_int, v_unit: c_int, v_a: c_int, v_b: c_int);
}

const VERSION: c_int = 4;
/// The system state gen_callbacks introduced.
const STATE: u64 = 7;

/// As in samples/gen_callbacks (same id, same type).
pub struct Units {
    count: AtomicU64,
    /// The version that allocated it.
    by: u32,
}

impl Drop for Units {
    fn drop(&mut self) {
        pr_info!(
            "shadow units dropped: {} units (allocated by version {})\n",
            self.count.load(Ordering::Relaxed),
            self.by
        );
    }
}

// SAFETY: id 1 is a `Units` in every patch that uses it (samples/gen_callbacks
// declares the same struct to take the counter over).
static UNITS: Shadow<Units, 1> = unsafe { Shadow::new() };

/// As in samples/gen_callbacks.
fn lg_target_key() -> *const c_void {
    lg_target_record as *const c_void
}

/// Before lg_target is patched: the state must be taken over from version 1.
pub fn pre_patch(obj: &Object) -> Result {
    let version = state(STATE).map_or(-1, |s| i64::from(s.version));
    let prev = prev_state(STATE).map_or(-1, |s| i64::from(s.version));
    pr_info!(
        "pre_patch {}: state {} version {}, previous version {}, patched {}\n",
        obj.name(),
        STATE,
        version,
        prev,
        obj.patched() as u8
    );
    Ok(())
}

/// Once every task runs version 4: the counter is ours now.
pub fn post_patch(obj: &Object) {
    match UNITS.get(lg_target_key()) {
        Some(u) => pr_info!(
            "post_patch {}: took over shadow units: {} counted, allocated by version {}\n",
            obj.name(),
            u.count.load(Ordering::Relaxed),
            u.by
        ),
        None => pr_info!("post_patch {}: no shadow units to take over\n", obj.name()),
    }
}

/// Before the unpatching transition.
pub fn pre_unpatch(obj: &Object) {
    pr_info!(
        "pre_unpatch {}: patched {}\n",
        obj.name(),
        obj.patched() as u8
    );
}

/// Once every task runs the original again: the counter goes.
pub fn post_unpatch(obj: &Object) {
    // SAFETY: every task runs the original lg_target_unit() again, the only
    // code that used the counter (a patch replacing this one takes it over
    // instead, and this callback does not run then).
    unsafe { UNITS.free_all() };
    pr_info!(
        "post_unpatch {}: patched {}, shadow units {}\n",
        obj.name(),
        obj.patched() as u8,
        if UNITS.get(lg_target_key()).is_some() {
            "left"
        } else {
            "freed"
        }
    );
}

/// Replaces `int lg_target_a(void)`.
#[no_mangle]
pub extern "C" fn gen_rp_a() -> c_int {
    VERSION
}

/// Replaces `void lg_target_unit(int kind)`. lg_target_b() is the original
/// (1) in this patch's universe: recorded as 4, the consistent choice (a
/// replaced patch's version 3 there is recorded as mixed).
#[no_mangle]
pub extern "C" fn gen_rp_unit(kind: c_int) {
    // SAFETY: exported by lg_target, which this module depends on.
    let (a, b) = unsafe { (lg_target_a(), lg_target_b()) };
    if let Some(u) = UNITS.get(lg_target_key()) {
        u.count.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: as above.
    unsafe { lg_target_record(kind, VERSION, a, if b == 1 { VERSION } else { b }) };
}
