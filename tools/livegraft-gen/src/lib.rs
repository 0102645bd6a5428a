//! livegraft-gen: turns a patch directory (a `patch.toml` manifest and the
//! Rust source of the replacement functions) into an out-of-tree Rust kernel
//! module that registers the patch with `livegraft.ko`.
//!
//! The pipeline: [`manifest::parse`] (shape of the manifest) →
//! [`validate::validate`] (meaning, against the target kernel's
//! [`symbols`] when available) → [`generate::render`] and
//! [`generate::write_atomically`] → optionally [`build::run`] (`make`).
//! Problems are [`diag::Diagnostic`]s, all reported at once.

pub mod build;
pub mod checks;
pub mod clangast;
pub mod diag;
pub mod diff;
pub mod extract;
pub mod generate;
pub mod manifest;
pub mod progress;
pub mod scan;
pub mod symbols;
pub mod validate;

use std::path::{Path, PathBuf};

/// The livegraft repository containing `start` (a directory with
/// `include/livegraft.h`), if any.
pub fn find_repo(start: &Path) -> Option<PathBuf> {
    let start = start.canonicalize().ok()?;
    start
        .ancestors()
        .find(|d| d.join("include/livegraft.h").is_file())
        .map(Path::to_path_buf)
}

/// How the generated headers name the manifest: relative to the repository
/// when the manifest is inside it (so the output does not depend on the
/// current directory), else as given.
pub fn manifest_header_path(manifest: &Path, repo: Option<&Path>) -> String {
    if let (Some(repo), Ok(abs)) = (repo, manifest.canonicalize()) {
        if let Ok(rel) = abs.strip_prefix(repo) {
            return rel.display().to_string();
        }
    }
    manifest.display().to_string()
}
