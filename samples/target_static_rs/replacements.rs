// SPDX-License-Identifier: GPL-2.0

//! The fixed `lg_target_fix()` (tests/modules/lg_target) in Rust: it was
//! `x + 1`; now it is `lg_target_scale(x) + lg_target_factor + 3000`, through
//! the target's static helper and variable, declared as `[[symbol]]`s.

use core::ffi::c_int;
use core::sync::atomic::Ordering;

extern "C" {
    // An export of lg_target: using it makes the patch module depend on it.
    fn lg_target_record(kind: c_int, v_unit: c_int, v_a: c_int, v_b: c_int);
}

/// Replaces `int lg_target_fix(int x)`.
#[no_mangle]
pub extern "C" fn lg_sample_static_fix(x: c_int) -> c_int {
    if x < 0 {
        // SAFETY: exported by lg_target, which this module depends on.
        unsafe { lg_target_record(0, 7, 7, 7) };
    }
    let factor = crate::symbols::lg_target_factor().load(Ordering::Relaxed);
    // SAFETY: lg_target_scale has the prototype `int (int)`.
    let scaled = unsafe { crate::symbols::lg_target_scale()(x) };
    scaled.wrapping_add(factor).wrapping_add(3000)
}
