// SPDX-License-Identifier: GPL-2.0

//! livegraft: live patching of kernel functions with a per-task consistency
//! model, in the spirit of kGraft, without `CONFIG_LIVEPATCH`.
//!
//! This is the crate root of `livegraft.ko`. One file per concern:
//!
//! | file | concern |
//! |---|---|
//! | `core.rs` | patch registry, patch-module ABI, enable/disable, transition work, sysfs files |
//! | `patch.rs` | patched functions: version stacks and the ftrace handler |
//! | `direct.rs` | the retired fast path: ftrace direct calls |
//! | `transition.rs` | task table, probe entry points, stack-check passes, reversal, force |
//! | `safepoints.rs` | the hooks where tasks switch |
//! | `stack.rs` | stack checks of the current and of blocked tasks |
//! | `logic/` | pure state machines shared with the host tests |
//! | `ftrace.rs`, `tracepoint.rs`, `symbols.rs`, `sysfs.rs` | thin safe wrappers over C APIs |
//! | `worker.rs` | the two kthread workers livegraft's own work runs on |
//! | `sys.rs`, `glue.c` | raw bindings and the C glue |
//!
//! `Documentation/design.rst` explains the consistency model.

use kernel::{c_str, prelude::*};

mod core;
mod direct;
mod ftrace;
mod patch;
mod resolve;
mod safepoints;
mod stack;
mod symbols;
mod sys;
mod sysfs;
mod tracepoint;
mod transition;
mod worker;

/// The pure logic, shared verbatim with the host crate `livegraft-logic`,
/// whose API is wider than what the kernel side uses.
#[allow(dead_code, unreachable_pub)]
mod logic {
    #[path = "sync.rs"]
    mod sync;
    #[path = "task_table.rs"]
    pub(crate) mod task_table;
    #[path = "transition.rs"]
    pub(crate) mod transition;
    #[path = "symbols.rs"]
    pub(crate) mod symbols;
    #[path = "stack_verdict.rs"]
    pub(crate) mod stack_verdict;
    #[path = "decide.rs"]
    pub(crate) mod decide;
    #[path = "replace.rs"]
    pub(crate) mod replace;
}

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
    // Dropped in declaration order: the registry before the sysfs root.
    _core: crate::core::Core,
    _root: sysfs::Root,
}

impl kernel::Module for Livegraft {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let root = sysfs::Root::create(c_str!("livegraft"))?;
        let core = crate::core::Core::new(root.as_ptr())?;
        pr_info!(
            "livegraft {} loaded (patch ABI {})\n",
            LIVEGRAFT_VERSION,
            sys::LIVEGRAFT_ABI_VERSION
        );
        Ok(Livegraft { _core: core, _root: root })
    }
}

impl Drop for Livegraft {
    fn drop(&mut self) {
        pr_info!("livegraft unloaded\n");
    }
}
