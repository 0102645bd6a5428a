// SPDX-License-Identifier: GPL-2.0

//! Version 4 of lg_target's blocking unit of work (tests/modules/lg_target):
//! each function reports 4, and the blocking unit records which versions of
//! `lg_target_a()` and `lg_target_b()` it saw.

use core::ffi::c_int;

extern "C" {
    fn lg_target_a() -> c_int;
    fn lg_target_b() -> c_int;
    fn lg_target_wait_release() -> c_int;
    fn lg_target_record(kind: c_int, v_unit: c_int, v_a: c_int, v_b: c_int);
}

const VERSION: c_int = 4;
/// `LG_KIND_BLOCKING` in tests/modules/lg_target/lg_target.h.
const LG_KIND_BLOCKING: c_int = 1;

/// Replaces `int lg_target_a(void)`.
#[no_mangle]
pub extern "C" fn lg_sample_a() -> c_int {
    VERSION
}

/// Replaces `int lg_target_b(void)`.
#[no_mangle]
pub extern "C" fn lg_sample_b() -> c_int {
    VERSION
}

/// Replaces `int lg_target_block(void)`: sleeps until released, then
/// records the unit. Returns -ERESTARTSYS when a signal (or livegraft's
/// nudge) interrupts the sleep, so the write restarts transparently.
#[no_mangle]
pub extern "C" fn lg_sample_block() -> c_int {
    // SAFETY: exported by lg_target, which this module depends on.
    let a = unsafe { lg_target_a() };
    // SAFETY: as above; sleeps interruptibly in process context.
    let ret = unsafe { lg_target_wait_release() };
    if ret != 0 {
        return ret;
    }
    // SAFETY: as above.
    unsafe { lg_target_record(LG_KIND_BLOCKING, VERSION, a, lg_target_b()) };
    0
}
