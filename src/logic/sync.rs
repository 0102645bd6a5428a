// SPDX-License-Identifier: GPL-2.0

//! The atomics of the pure logic, swappable for a model checker.
//!
//! The kernel module and the ordinary host build use `core::sync::atomic`. The host crate
//! compiled with `RUSTFLAGS="--cfg loom"` (only `crates/livegraft-logic/tests/loom.rs` is built
//! that way, see its header) uses loom's atomics instead, so that loom explores every
//! interleaving and every weak-memory outcome its model allows at each Release/Acquire site of
//! `task_table.rs`. The kernel never sets `cfg(loom)`.
//!
//! `cfg(lg_seed_relaxed)` (host test builds only, together with `loom`) is a *seeded bug*: every
//! ordering passed to these atomics is weakened to `Relaxed`, which is what "all Release/Acquire
//! sites turned into Relaxed" does to `task_table.rs`; the loom test must then fail.

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

#[cfg(all(loom, not(lg_seed_relaxed)))]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

#[cfg(all(loom, lg_seed_relaxed))]
pub(crate) use relaxed::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// Seeded bug: loom atomics whose every ordering is `Relaxed`.
// Not compiled in ordinary builds, so cargo-mutants' mutants of it could not fail a test.
#[cfg_attr(mutants, mutants::skip)]
#[cfg(all(loom, lg_seed_relaxed))]
mod relaxed {
    pub(crate) use core::sync::atomic::Ordering;

    macro_rules! relaxed_atomic {
        ($name:ident, $t:ty) => {
            #[derive(Debug)]
            pub(crate) struct $name(loom::sync::atomic::$name);

            impl $name {
                pub(crate) fn new(v: $t) -> Self {
                    Self(loom::sync::atomic::$name::new(v))
                }
                pub(crate) fn load(&self, _o: Ordering) -> $t {
                    self.0.load(Ordering::Relaxed)
                }
                pub(crate) fn store(&self, v: $t, _o: Ordering) {
                    self.0.store(v, Ordering::Relaxed)
                }
                pub(crate) fn swap(&self, v: $t, _o: Ordering) -> $t {
                    self.0.swap(v, Ordering::Relaxed)
                }
                pub(crate) fn compare_exchange(
                    &self,
                    a: $t,
                    b: $t,
                    _s: Ordering,
                    _f: Ordering,
                ) -> Result<$t, $t> {
                    self.0
                        .compare_exchange(a, b, Ordering::Relaxed, Ordering::Relaxed)
                }
            }
        };
    }
    relaxed_atomic!(AtomicBool, bool);
    relaxed_atomic!(AtomicU8, u8);
    relaxed_atomic!(AtomicUsize, usize);

    impl AtomicUsize {
        pub(crate) fn fetch_add(&self, v: usize, _o: Ordering) -> usize {
            self.0.fetch_add(v, Ordering::Relaxed)
        }
        pub(crate) fn fetch_sub(&self, v: usize, _o: Ordering) -> usize {
            self.0.fetch_sub(v, Ordering::Relaxed)
        }
    }
}
