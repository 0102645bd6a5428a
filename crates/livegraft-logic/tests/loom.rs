//! loom model checking of `TaskTable`'s Release/Acquire pairs and of the reversal race.
//!
//! Built only with `--cfg loom`, which swaps the table's atomics for loom's (`src/logic/sync.rs`):
//!
//! ```sh
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p livegraft-logic --test loom --release
//! ```
//!
//! (`tools/seeded-bugs.sh` runs it, and runs it again with each seeded ordering bug,
//! `--cfg lg_seed_relaxed` and `--cfg lg_seed_target_first`, expecting failures.)
//!
//! loom explores every interleaving of the threads of each test and every value a load may
//! return under the C11 model loom implements; RCU is modelled by a `RwLock`: read-side
//! sections take it shared, `synchronize_rcu()` takes it exclusively once (it waits for every
//! section that began before it, and sections after it see everything before it, which is what
//! the protocol relies on and no more than a grace period gives).
//!
//! One test per pair of `Documentation/design.rst`'s barrier table that lives in the table:
//!
//! | store (writer)                       | load (reader)                    | test |
//! |--------------------------------------|----------------------------------|------|
//! | slot key Release (`insert`)          | key Acquire (`lookup`)           | `insert_publishes_state_with_key` |
//! | slot state CAS AcqRel (`switch_task`)| state Acquire (`lookup`)         | `switch_publishes_prior_writes` |
//! | `pending` fetch_sub AcqRel           | `pending()` Acquire              | `pending_zero_means_every_state_visible` |
//! | `accepting` Release (`start_switching`) + `reverse` | `accepting` Acquire then target (`switch_task`) | `reversal_race` |
//! | `pending` Release store (`reverse`)  | `pending()` Acquire              | `reversal_race` |
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Mutex, RwLock};
use loom::thread;

use livegraft_logic::task_table::{Inserted, Slot, SwitchResult, TaskTable, Universe};

const K1: usize = 0x1000;
const K2: usize = 0x2000;

/// A table over `n` fresh slots, leaked so that threads can share it (`'static`); loom tears the
/// whole model down between iterations, so the leak is per iteration and bounded.
fn table(n: usize, default: Universe) -> &'static TaskTable<'static> {
    let slots: &'static [Slot] = Box::leak((0..n).map(|_| Slot::new()).collect::<Vec<_>>().into());
    Box::leak(Box::new(TaskTable::new(slots, default).unwrap()))
}

/// Release key store in `insert` / Acquire key load in `lookup`: a reader that finds the key
/// (the verification walk racing with the fork hook) also sees the state written before it,
/// never the zeroed `DEAD` state of a fresh slot.
#[test]
fn insert_publishes_state_with_key() {
    loom::model(|| {
        let t = table(4, Universe::Unpatched);
        let w = thread::spawn(move || {
            assert_eq!(t.insert(K1, Universe::Patched), Ok(Inserted::New));
        });
        if t.index_of(K1).is_some() {
            assert_eq!(
                t.lookup(K1),
                Some(Universe::Patched),
                "key seen without its state"
            );
        }
        w.join().unwrap();
    });
}

/// AcqRel CAS in `switch_task` / Acquire state load in `lookup`: whoever sees the task's new
/// universe also sees what the switcher wrote before switching (the kernel relies on it for
/// the task's own accesses after a switch made by another CPU's stack check).
#[test]
fn switch_publishes_prior_writes() {
    loom::model(|| {
        let t = table(4, Universe::Unpatched);
        assert_eq!(t.insert(K1, Universe::Unpatched), Ok(Inserted::New));
        t.start_switching();
        let data = Arc::new(AtomicUsize::new(0));
        let d = data.clone();
        let w = thread::spawn(move || {
            d.store(42, Ordering::Relaxed);
            assert_eq!(
                t.switch_task(K1, Universe::Patched),
                SwitchResult::SwitchedLast
            );
        });
        if t.lookup(K1) == Some(Universe::Patched) {
            assert_eq!(
                data.load(Ordering::Relaxed),
                42,
                "switch seen before the writes before it"
            );
        }
        w.join().unwrap();
    });
}

/// AcqRel `pending` decrements / Acquire `pending()`: the completion work that reads 0 sees every
/// switched state (its verification scan agrees), whichever switcher went last.
#[test]
fn pending_zero_means_every_state_visible() {
    loom::model(|| {
        let t = table(4, Universe::Unpatched);
        assert_eq!(t.insert(K1, Universe::Unpatched), Ok(Inserted::New));
        assert_eq!(t.insert(K2, Universe::Unpatched), Ok(Inserted::New));
        t.start_switching();
        let a = thread::spawn(move || {
            t.switch_task(K1, Universe::Patched);
        });
        let b = thread::spawn(move || {
            t.switch_task(K2, Universe::Patched);
        });
        if t.pending() == 0 {
            assert_eq!(
                t.lookup(K1),
                Some(Universe::Patched),
                "pending 0 before K1's switch"
            );
            assert_eq!(
                t.lookup(K2),
                Some(Universe::Patched),
                "pending 0 before K2's switch"
            );
        }
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(t.pending(), 0);
    });
}

/// The reversal race: a switcher (in an RCU read-side section, as the kernel's probes run with
/// preemption disabled) against the reversal (stop, grace period, reverse under the mutation
/// lock, start). Whatever the interleaving, the task ends in a universe consistent with the
/// recounted `pending`, and a switch is never made to a target the table no longer has.
#[test]
fn reversal_race() {
    loom::model(|| {
        let t = table(4, Universe::Unpatched);
        assert_eq!(t.insert(K1, Universe::Unpatched), Ok(Inserted::New));
        t.start_switching();
        let rcu = Arc::new(RwLock::new(()));
        let lock = Arc::new(Mutex::new(()));
        let (rcu2, lock2) = (rcu.clone(), lock.clone());
        let reverser = thread::spawn(move || {
            t.stop_switching();
            drop(rcu2.write().unwrap()); // synchronize_rcu()
            let n = {
                let _g = lock2.lock().unwrap();
                t.reverse().unwrap()
            };
            t.start_switching();
            n
        });
        // The switcher: a safe-point probe, which reads the target and switches.
        let r = {
            let _rcu = rcu.read().unwrap();
            let target = t.target();
            (target, t.switch_task(K1, target))
        };
        let recount_at_reverse = reverser.join().unwrap();
        let _ = recount_at_reverse;
        // Quiescent now: the counter must agree with a scan, and a successful switch must have
        // moved the task to the table's target at the time (the only one it ever has: Patched
        // before the reversal; after it, K1 was already in the new target Unpatched).
        assert_eq!(
            t.pending(),
            t.recount_pending(),
            "pending diverged: switch {r:?}"
        );
        if let (_, SwitchResult::Switched | SwitchResult::SwitchedLast) = r {
            assert_eq!(t.lookup(K1), Some(Universe::Patched));
        }
    });
}

/// The reversal race with the switcher *after* the grace period started, delayed across
/// `start_switching` (the case `switch_task`'s comment argues): it must either refuse or switch
/// to the new target, and `pending` must stay exact.
#[test]
fn reversal_race_with_two_reversals_and_two_tasks() {
    loom::model(|| {
        let t = table(4, Universe::Unpatched);
        assert_eq!(t.insert(K1, Universe::Unpatched), Ok(Inserted::New));
        assert_eq!(t.insert(K2, Universe::Patched), Ok(Inserted::New));
        t.start_switching();
        let rcu = Arc::new(RwLock::new(()));
        let rcu2 = rcu.clone();
        let reverser = thread::spawn(move || {
            t.stop_switching();
            drop(rcu2.write().unwrap());
            t.reverse().unwrap();
            t.start_switching();
        });
        for k in [K1, K2] {
            let _rcu = rcu.read().unwrap();
            let target = t.target();
            t.switch_task(k, target);
        }
        reverser.join().unwrap();
        assert_eq!(t.pending(), t.recount_pending());
    });
}
