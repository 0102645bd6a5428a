//! The library behind the `livegraft` command: reading livegraft's sysfs
//! files, a patch module's `.modinfo`, and livegraft's kernel log lines.
//! Everything here is plain parsing of text and files, so the host tests run
//! it against recorded sysfs trees (`tests/trees/`) and recorded logs.
//!
//! The kernel interface it reads is specified in
//! `Documentation/ABI/sysfs-kernel-livegraft`.

pub mod exit;
pub mod kmsg;
pub mod modinfo;
pub mod sysfs;
