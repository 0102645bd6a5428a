// SPDX-License-Identifier: GPL-2.0

//! livegraft: live patching of kernel functions with a per-task consistency
//! model, in the spirit of kGraft, without `CONFIG_LIVEPATCH`.
//!
//! This is the crate root of `livegraft.ko`. It owns module init/exit and the
//! sysfs root `/sys/kernel/livegraft/`; each concern of the engine lives in
//! its own file (see `Documentation/design.rst`).

use kernel::{c_str, prelude::*};

mod sys;
mod sysfs;

/// The version printed at load time; the patch-module ABI has its own number.
const LIVEGRAFT_VERSION: &str = "0.1.0";

module! {
    type: Livegraft,
    name: "livegraft",
    author: "livegraft developers",
    description: "Live patching with a per-task consistency model",
    license: "GPL",
}

struct Livegraft {
    _root: sysfs::Root,
}

impl kernel::Module for Livegraft {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let root = sysfs::Root::create(c_str!("livegraft"))?;
        pr_info!("livegraft {} loaded\n", LIVEGRAFT_VERSION);
        Ok(Livegraft { _root: root })
    }
}

impl Drop for Livegraft {
    fn drop(&mut self) {
        pr_info!("livegraft unloaded\n");
    }
}
