// SPDX-License-Identifier: GPL-2.0

//! Version 3 of lg_target (tests/modules/lg_target) and of /proc/cmdline,
//! with callbacks, the system state 7 (version 1) and the shadow variable
//! `UNITS` (id 1), which counts the units of work run in version 3 and later.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicU64, Ordering};

use kernel::prelude::*;

use crate::livegraft::{prev_state, state, Gfp, Object, Shadow};

extern "C" {
    fn lg_target_a() -> c_int;
    fn lg_target_b() -> c_int;
    fn lg_target_wait_release() -> c_int;
    fn lg_target_record(kind: c_int, v_unit: c_int, v_a: c_int, v_b: c_int);
    fn seq_write(m: *mut c_void, data: *const c_void, len: usize) -> c_int;
}

const VERSION: c_int = 3;
/// `LG_KIND_BLOCKING` in tests/modules/lg_target/lg_target.h.
const LG_KIND_BLOCKING: c_int = 1;
/// The system state this patch introduces.
const STATE: u64 = 7;

/// The units counted since version 3 (shared with samples/gen_replace,
/// which takes the variable over: same id, same type).
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

// SAFETY: id 1 is a `Units` in every patch that uses it (samples/gen_replace
// declares the same struct to take the counter over).
static UNITS: Shadow<Units, 1> = unsafe { Shadow::new() };

/// The object the counter is attached to: lg_target (the address of its
/// `lg_target_record()`, which no patch replaces).
fn lg_target_key() -> *const c_void {
    lg_target_record as *const c_void
}

/// Before lg_target is patched.
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

/// Once every task runs version 3: the counter starts.
pub fn post_patch(obj: &Object) {
    let units = UNITS.get_or_alloc(lg_target_key(), Gfp::Kernel, || Units {
        count: AtomicU64::new(0),
        by: VERSION as u32,
    });
    pr_info!(
        "post_patch {}: patched {}, shadow units {}\n",
        obj.name(),
        obj.patched() as u8,
        if units.is_some() {
            "allocated"
        } else {
            "not allocated"
        }
    );
}

/// Before the unpatching transition (not for a replaced patch).
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
        "post_unpatch {}: patched {}\n",
        obj.name(),
        obj.patched() as u8
    );
}

/// Replaces `int lg_target_a(void)`.
#[no_mangle]
pub extern "C" fn gen_cb_a() -> c_int {
    VERSION
}

/// Replaces `int lg_target_b(void)`.
#[no_mangle]
pub extern "C" fn gen_cb_b() -> c_int {
    VERSION
}

/// Replaces `void lg_target_unit(int kind)`: records the unit, counted in
/// the shadow variable.
#[no_mangle]
pub extern "C" fn gen_cb_unit(kind: c_int) {
    // SAFETY: exported by lg_target, which this module depends on.
    let (a, b) = unsafe { (lg_target_a(), lg_target_b()) };
    if let Some(u) = UNITS.get(lg_target_key()) {
        u.count.fetch_add(1, Ordering::Relaxed);
    }
    // SAFETY: as above.
    unsafe { lg_target_record(kind, VERSION, a, b) };
}

/// Replaces `int lg_target_block(void)`: sleeps until released.
#[no_mangle]
pub extern "C" fn gen_cb_block() -> c_int {
    // SAFETY: exported by lg_target; sleeps interruptibly in process context.
    let (a, ret) = unsafe { (lg_target_a(), lg_target_wait_release()) };
    if ret != 0 {
        return ret;
    }
    // SAFETY: as above.
    unsafe { lg_target_record(LG_KIND_BLOCKING, VERSION, a, lg_target_b()) };
    0
}

/// Replaces `static int cmdline_proc_show(struct seq_file *m, void *v)`.
#[no_mangle]
pub extern "C" fn gen_cb_cmdline_proc_show(m: *mut c_void, _v: *mut c_void) -> c_int {
    const MSG: &[u8] = b"generated patch with callbacks\n";
    // SAFETY: `m` is the seq_file of the /proc/cmdline read in progress and
    // `MSG` is valid for `MSG.len()` bytes.
    unsafe { seq_write(m, MSG.as_ptr().cast(), MSG.len()) };
    0
}
