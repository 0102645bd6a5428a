// SPDX-License-Identifier: GPL-2.0

//! Replacement for `cmdline_proc_show()` (fs/proc/cmdline.c):
//! `cat /proc/cmdline` prints a fixed message instead of the command line.

use core::ffi::{c_int, c_void};

extern "C" {
    // `seq_puts()` is a static inline in 6.12; `seq_write()` is exported.
    fn seq_write(m: *mut c_void, data: *const c_void, len: usize) -> c_int;
}

/// Replaces `static int cmdline_proc_show(struct seq_file *m, void *v)`.
#[no_mangle]
pub extern "C" fn livegraft_cmdline_proc_show(m: *mut c_void, _v: *mut c_void) -> c_int {
    const MSG: &[u8] = b"this has been live patched by livegraft\n";
    // SAFETY: `m` is the seq_file of the /proc/cmdline read in progress and
    // `MSG` is valid for `MSG.len()` bytes.
    unsafe { seq_write(m, MSG.as_ptr().cast(), MSG.len()) };
    0
}
