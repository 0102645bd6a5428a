//! The exit codes of the `livegraft` command (documented in
//! `Documentation/user-guide.rst` and `livegraft --help`).

/// Success: for `load --wait`, the transition completed.
pub const OK: i32 = 0;
/// Any other failure (an I/O error, a kernel refusal not listed below).
pub const FAILURE: i32 = 1;
/// Bad command line (clap's own code for usage errors).
pub const USAGE: i32 = 2;
/// Not allowed: not root (`EPERM`/`EACCES`).
pub const PERMISSION: i32 = 3;
/// The livegraft core is not loaded and could not be loaded.
pub const NO_CORE: i32 = 4;
/// The module file was refused before loading: wrong kernel, ABI mismatch,
/// not a livegraft patch, unreadable.
pub const REFUSED: i32 = 5;
/// The kernel said busy: another transition runs, a conflicting patch or
/// another ftrace user holds a function, the module is in use.
pub const BUSY: i32 = 6;
/// The transition did not complete in time and was reverted (the default).
pub const TIMEOUT_REVERTED: i32 = 7;
/// The transition did not complete in time and was left running (`--no-revert`),
/// or a revert itself did not complete.
pub const TIMEOUT_LEFT: i32 = 8;
/// No such patch (not loaded, not installed).
pub const NO_PATCH: i32 = 9;

/// The table printed by `livegraft --help`.
pub const TABLE: &str = "\
Exit codes:
  0  success (load --wait: patching complete)
  1  other failure (I/O error, kernel refusal not listed here; see the message)
  2  bad command line
  3  permission denied (run as root)
  4  the livegraft core is not loaded and could not be loaded
  5  module refused before loading (wrong kernel, ABI mismatch, not a patch)
  6  busy (another transition, a conflicting patch or ftrace user, module in use)
  7  transition timed out and was reverted
  8  transition timed out and was left running (--no-revert), or a revert stalled
  9  no such patch";
