// SPDX-License-Identifier: GPL-2.0

//! A replacement of `lg_target_wrap()` (tests/modules/lg_target) that
//! calls the original in tail position, so that the compiled code jumps to
//! it:
//!
//! * `x < 0`: 300, the replacement's own result (the original gives `x + 1`);
//! * `x >= 1000`: `lg_target_wrap(-1) + 1`, a call by symbol, which runs
//!   the replacement again (301), as any call of a patched function;
//! * otherwise the original, by a tail call of `orig_lg_target_wrap`: `x + 1`.
//!
//! `orig_lg_target_wrap` is the `original` of the manifest: livegraft-gen
//! defines it (it enters `lg_target_wrap()` past its ftrace call site, so
//! no redirection sees the call) and checks that it is declared with the
//! replacement's prototype.

use core::ffi::c_int;

extern "C" {
    /// The original `lg_target_wrap()` (`original` in patch.toml).
    pub(crate) fn orig_lg_target_wrap(x: c_int) -> c_int;
    fn lg_target_wrap(x: c_int) -> c_int;
    fn lg_target_a() -> c_int;
    fn lg_target_b() -> c_int;
    fn lg_target_record(kind: c_int, v_unit: c_int, v_a: c_int, v_b: c_int);
}

/// Replaces `int lg_target_wrap(int x)`.
#[no_mangle]
pub extern "C" fn lg_sample_tail_wrap(x: c_int) -> c_int {
    if x < 0 {
        return 300;
    }
    if x >= 1000 {
        // SAFETY: exported by lg_target, which this module depends on.
        return unsafe { lg_target_wrap(-1) }.wrapping_add(1);
    }
    // SAFETY: the original, with the argument its caller passed us.
    unsafe { orig_lg_target_wrap(x) }
}

/// Replaces `void lg_target_hold(void)`; never runs in the tests (the
/// holder sleeps in the old version).
#[no_mangle]
pub extern "C" fn lg_sample_hold() {
    /// `LG_KIND_KTHREAD` in tests/modules/lg_target/lg_target.h.
    const LG_KIND_KTHREAD: c_int = 2;
    // SAFETY: exported by lg_target, which this module depends on.
    unsafe { lg_target_record(LG_KIND_KTHREAD, 5, lg_target_a(), lg_target_b()) };
}
