// SPDX-License-Identifier: GPL-2.0

//! Stacked patch a: replaces `cmdline_proc_show()` like samples/cmdline,
//! with its own message, so a stack of patches shows which one runs.

use core::ffi::{c_int, c_void};

extern "C" {
    fn seq_write(m: *mut c_void, data: *const c_void, len: usize) -> c_int;
}

/// Replaces `static int cmdline_proc_show(struct seq_file *m, void *v)`.
#[no_mangle]
pub extern "C" fn stacked_a_cmdline_proc_show(m: *mut c_void, _v: *mut c_void) -> c_int {
    const MSG: &[u8] = b"stacked patch a\n";
    // SAFETY: `m` is the seq_file of the /proc/cmdline read in progress and
    // `MSG` is valid for `MSG.len()` bytes.
    unsafe { seq_write(m, MSG.as_ptr().cast(), MSG.len()) };
    0
}
