//! Concurrency test: std threads hammer `switch_task`/`lookup` while one thread inserts,
//! removes, reverses, forces and rebuilds (into a new table, published like an RCU pointer)
//! under a mutex. An `RwLock` stands in for RCU: switchers and
//! lookups run inside read-side sections, and the "grace period" is taking the write lock once
//! (it waits for every section that started before it, and sections after it see every store
//! before it; stronger than RCU, which is fine for a test).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex, OnceLock, RwLock};
use std::thread;

use livegraft_logic::task_table::{Inserted, Removed, Slot, SwitchResult, TaskTable, Universe};

const STABLE: usize = 64;
const CHURN: usize = 128;
const SWITCHERS: usize = 3;
/// Each switcher runs at least this many operations, and until the mutator is done.
const SWITCHER_OPS: usize = 100_000;
const MUTATOR_OPS: usize = 40_000;
/// Tables the mutator may rebuild into (storage allocated up front).
const GENERATIONS: usize = 200;
const CAP: usize = 512;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn addr(i: usize) -> usize {
    // Random-looking 64-byte aligned addresses so that probe chains and tombstones occur.
    0xffff_8880_0000_0000usize + ((i.wrapping_mul(0x9E37_79B9) >> 3) & 0xf_ffff) * 64
}

#[test]
fn switchers_race_with_mutations_and_reversals() {
    let storages: Vec<Vec<Slot>> = (0..GENERATIONS)
        .map(|_| (0..CAP).map(|_| Slot::new()).collect())
        .collect();
    // The "RCU pointer" to the current table: an index into `tables`.
    let tables: Vec<OnceLock<TaskTable<'_>>> = (0..GENERATIONS).map(|_| OnceLock::new()).collect();
    let current = AtomicUsize::new(0);
    let first = TaskTable::new(&storages[0], Universe::Unpatched).unwrap();
    let stable: Vec<usize> = (0..STABLE).map(|i| addr(i + 1_000_000)).collect();
    for &k in &stable {
        assert_eq!(first.insert(k, Universe::Unpatched), Ok(Inserted::New));
    }
    first.start_switching();
    assert!(tables[0].set(first).is_ok());
    // rcu_dereference: Acquire pairs with the Release publication of a rebuilt table.
    let deref = || tables[current.load(Ordering::Acquire)].get().unwrap();

    let rcu = RwLock::new(());
    let mutation = Mutex::new(());
    // Published churn keys (0 = none): what the "task list" shows the switchers.
    let published: Vec<AtomicUsize> = (0..CHURN).map(|_| AtomicUsize::new(0)).collect();
    let stop = AtomicBool::new(false);
    let wins = AtomicUsize::new(0);
    // All threads start together (the mutator alone is fast enough to finish before the others
    // are scheduled on a 2-CPU machine).
    let start = Barrier::new(SWITCHERS + 2);
    let lasts = AtomicUsize::new(0);

    thread::scope(|s| {
        for t in 0..SWITCHERS {
            let (deref, rcu, published, stable, wins, lasts, stop, start) = (
                &deref, &rcu, &published, &stable, &wins, &lasts, &stop, &start,
            );
            s.spawn(move || {
                start.wait();
                let mut rng = Rng(0x1234_5678 + t as u64 * 7919);
                let mut ops = 0usize;
                while ops < SWITCHER_OPS || !stop.load(Ordering::Relaxed) {
                    ops += 1;
                    let _rcu = rcu.read().unwrap();
                    let table = deref();
                    let i = rng.below(STABLE + CHURN);
                    let key = if i < STABLE {
                        stable[i]
                    } else {
                        // Acquire: pairs with the Release publication below, so the insert
                        // happened before our lookup (the table's contract).
                        published[i - STABLE].load(Ordering::Acquire)
                    };
                    if key == 0 {
                        continue;
                    }
                    if i < STABLE {
                        assert!(table.lookup(key).is_some(), "stable key lost");
                    }
                    match table.switch_task(key, table.target()) {
                        SwitchResult::Switched => {
                            wins.fetch_add(1, Ordering::Relaxed);
                        }
                        SwitchResult::SwitchedLast => {
                            wins.fetch_add(1, Ordering::Relaxed);
                            lasts.fetch_add(1, Ordering::Relaxed);
                        }
                        SwitchResult::NotTracked => panic!("published key not tracked"),
                        SwitchResult::AlreadyThere | SwitchResult::Refused => {}
                    }
                }
            });
        }

        // Lookup-only reader: never misses a stable key even while chains are rewritten.
        {
            let (deref, rcu, stable, stop, start) = (&deref, &rcu, &stable, &stop, &start);
            s.spawn(move || {
                start.wait();
                let mut n = 0u64;
                while n < 1000 || !stop.load(Ordering::Relaxed) {
                    let _rcu = rcu.read().unwrap();
                    let table = deref();
                    for &k in stable {
                        assert!(table.lookup(k).is_some(), "stable key lost");
                    }
                    n += 1;
                }
            });
        }

        // If the mutator panics, let the other threads finish so the panic is reported.
        struct StopOnDrop<'a>(&'a AtomicBool);
        impl Drop for StopOnDrop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _stop_guard = StopOnDrop(&stop);
        start.wait();

        // The mutator: inserts, removes (unpublish, grace period, remove), reversals, force.
        let mut rng = Rng(0xdead_beef);
        let mut next_addr = 0usize;
        let mut reversals = 0;
        let mut rebuilds = 0;
        for op in 0..MUTATOR_OPS {
            if op % 64 == 0 {
                thread::yield_now(); // let switchers run between mutations
            }
            let table = deref();
            if table.needs_rebuild() && current.load(Ordering::Relaxed) + 1 < GENERATIONS {
                // The rebuild work: stop, grace period, copy under the lock, publish, start.
                table.stop_switching();
                drop(rcu.write().unwrap());
                let _g = mutation.lock().unwrap();
                let gen = current.load(Ordering::Relaxed) + 1;
                let new = table.rebuild_into(&storages[gen]).unwrap();
                assert_eq!(new.pending(), table.pending());
                assert!(tables[gen].set(new).is_ok());
                // rcu_assign_pointer: Release pairs with the Acquire in `deref`.
                current.store(gen, Ordering::Release);
                tables[gen].get().unwrap().start_switching();
                rebuilds += 1;
                continue;
            }
            let slot = rng.below(CHURN);
            let cur = published[slot].load(Ordering::Relaxed);
            let r = rng.below(100);
            if r < 2 {
                // Reversal protocol.
                table.stop_switching();
                drop(rcu.write().unwrap()); // grace period
                let _g = mutation.lock().unwrap();
                table.reverse().unwrap();
                table.start_switching();
                reversals += 1;
            } else if r < 3 {
                {
                    let _g = mutation.lock().unwrap();
                    table.force_all();
                }
                // A switcher may have won a CAS and not yet decremented: `pending` over-counts
                // transiently (never under-counts). After a grace period it is exact.
                let _w = rcu.write().unwrap();
                assert_eq!(table.pending(), 0);
            } else if cur == 0 {
                let key = addr(next_addr % 4096); // addresses get reused
                next_addr += 1;
                if published.iter().any(|p| p.load(Ordering::Relaxed) == key) {
                    continue;
                }
                let u = if rng.below(2) == 0 {
                    Universe::Patched
                } else {
                    Universe::Unpatched
                };
                {
                    let _g = mutation.lock().unwrap();
                    assert_eq!(table.insert(key, u), Ok(Inserted::New));
                }
                // Release: pairs with the switchers' Acquire load.
                published[slot].store(key, Ordering::Release);
            } else {
                published[slot].store(0, Ordering::Relaxed);
                drop(rcu.write().unwrap()); // grace period: no switcher holds `cur` any more
                let _g = mutation.lock().unwrap();
                assert_ne!(table.remove(cur), Removed::NotTracked);
            }
            if op % 500 == 0 {
                // Quiescent check: no switcher in flight, no mutation.
                let _w = rcu.write().unwrap();
                let _g = mutation.lock().unwrap();
                assert_eq!(table.pending(), table.recount_pending(), "op {op}");
            }
        }
        drop(_stop_guard);
        assert!(reversals > 100);
        assert!(rebuilds > 0, "no rebuild happened");
        eprintln!("reversals {reversals} rebuilds {rebuilds}");
    });

    let table = deref();
    let churn_live = published
        .iter()
        .filter(|p| p.load(Ordering::Relaxed) != 0)
        .count();
    assert_eq!(table.live(), STABLE + churn_live);
    assert_eq!(table.pending(), table.recount_pending());
    for &k in &stable {
        assert!(table.lookup(k).is_some());
    }
    eprintln!(
        "wins {} lasts {} pending {} live {} tombstones {}",
        wins.load(Ordering::Relaxed),
        lasts.load(Ordering::Relaxed),
        table.pending(),
        table.live(),
        table.tombstones()
    );
    assert!(wins.load(Ordering::Relaxed) > 100);
}
