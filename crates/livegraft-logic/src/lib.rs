//! Host build of livegraft's pure, allocation-free kernel logic.
//!
//! The modules are the very files the kernel module compiles (`src/logic/*.rs`), included with
//! `#[path]`, so `cargo test` exercises the code the kernel runs.

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]

#[cfg(test)]
extern crate std;

#[path = "../../../src/logic/sync.rs"]
mod sync;

#[path = "../../../src/logic/task_table.rs"]
pub mod task_table;

#[path = "../../../src/logic/transition.rs"]
pub mod transition;

#[path = "../../../src/logic/symbols.rs"]
pub mod symbols;
#[path = "../../../src/logic/stack_verdict.rs"]
pub mod stack_verdict;

#[path = "../../../src/logic/decide.rs"]
pub mod decide;

#[path = "../../../src/logic/replace.rs"]
pub mod replace;
