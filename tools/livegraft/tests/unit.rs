//! The shipped systemd unit passes `systemd-analyze verify` (skipped, with a
//! message, where systemd-analyze is not installed).

use std::path::PathBuf;
use std::process::Command;

fn verify(text: &str) -> Option<(bool, String)> {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("livegraft.service");
    std::fs::write(&unit, text).unwrap();
    let o = Command::new("systemd-analyze").arg("verify").arg(&unit).output().ok()?;
    Some((o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned()))
}

#[test]
fn unit_file_verifies() {
    let shipped = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("systemd/livegraft.service")).unwrap();
    assert!(shipped.contains("ExecStart=/usr/local/bin/livegraft load-all"), "the unit runs load-all");
    // systemd-analyze checks that ExecStart's binary exists: point it at the one just built.
    let here = shipped.replace("/usr/local/bin/livegraft", env!("CARGO_BIN_EXE_livegraft"));
    let Some((ok, err)) = verify(&here) else {
        eprintln!("skip: systemd-analyze is not installed; the unit file was not verified");
        return;
    };
    assert!(ok && err.trim().is_empty(), "systemd-analyze verify: {err}");
    // The check can fail: a unit whose command does not exist.
    let (ok, err) = verify(&here.replace(env!("CARGO_BIN_EXE_livegraft"), "/nonexistent/livegraft")).unwrap();
    assert!(!ok, "a broken unit verified: {err}");
}
