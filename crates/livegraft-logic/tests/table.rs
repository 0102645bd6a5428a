//! Unit tests of `task_table`: storage, probing, tombstones, counters, reversal.

use livegraft_logic::task_table::{
    slots_for_tasks, slots_for_tasks_min, InsertError, Inserted, NewError, RebuildError, Removed, ReverseError, Slot,
    SwitchResult, TaskTable, Universe, MIN_SLOTS, SLOT_BYTES,
};

use Universe::{Patched, Unpatched};

/// A plausible task pointer: kernel direct-map addresses, task_structs ~9.8 KiB apart.
fn key(i: usize) -> usize {
    0xffff_8880_0400_0000usize.wrapping_add(i.wrapping_mul(0x2640))
}

fn storage(n: usize) -> Vec<Slot> {
    (0..n).map(|_| Slot::new()).collect()
}

/// `count` distinct keys whose home slot in `table` is `home`.
fn colliding(table: &TaskTable<'_>, home: usize, count: usize) -> Vec<usize> {
    (0..1_000_000)
        .map(key)
        .filter(|&k| table.home_of(k) == home)
        .take(count)
        .collect()
}

#[test]
fn new_validates_capacity() {
    for n in [0usize, 1, 3, 5, 6, 12, 100] {
        let s = storage(n);
        assert_eq!(
            TaskTable::new(&s, Unpatched).err(),
            Some(NewError::BadCapacity),
            "len {n}"
        );
    }
    for n in [2usize, 4, 8, 64, 4096] {
        let s = storage(n);
        let t = TaskTable::new(&s, Unpatched).expect("power of two");
        assert_eq!(t.capacity(), n);
        assert_eq!(t.max_load(), n - n / 4);
    }
}

#[test]
fn new_rejects_used_slots() {
    let s = storage(8);
    {
        let t = TaskTable::new(&s, Unpatched).unwrap();
        t.insert(key(1), Unpatched).unwrap();
    }
    assert_eq!(
        TaskTable::new(&s, Unpatched).err(),
        Some(NewError::NotEmpty)
    );
}

#[test]
fn slot_is_small_and_arrays_build_in_const() {
    #[cfg(target_pointer_width = "64")]
    assert_eq!(SLOT_BYTES, 16);
    let arr = [const { Slot::new() }; 16];
    let t = TaskTable::new(&arr, Patched).unwrap();
    assert_eq!(t.live(), 0);
    assert_eq!(t.target(), Unpatched);
    assert_eq!(t.default_universe(), Patched);
}

#[test]
fn slots_for_tasks_sizes() {
    assert_eq!(slots_for_tasks(0), MIN_SLOTS);
    assert_eq!(slots_for_tasks(1024), 4096);
    assert_eq!(slots_for_tasks(1025), 8192);
    assert_eq!(slots_for_tasks(5000), 32768);
    assert_eq!(slots_for_tasks(usize::MAX), 1usize << (usize::BITS - 1));
    assert_eq!(
        slots_for_tasks(usize::MAX / 4 + 1),
        1usize << (usize::BITS - 1)
    );
    for n in [0usize, 1, 77, 4096, 100_000] {
        let s = slots_for_tasks(n);
        assert!(s.is_power_of_two() && s >= 4 * n && s >= MIN_SLOTS);
    }
}

#[test]
fn slots_for_tasks_min_floor() {
    assert_eq!(slots_for_tasks_min(0, 64), 64);
    assert_eq!(slots_for_tasks_min(50, 64), 256);
    assert_eq!(slots_for_tasks_min(50, 100), 256);
    assert_eq!(slots_for_tasks_min(10, 100), 128);
    assert_eq!(slots_for_tasks_min(5000, 64), slots_for_tasks(5000));
    for n in [0usize, 1, 77, 4096, 100_000] {
        assert_eq!(slots_for_tasks_min(n, MIN_SLOTS), slots_for_tasks(n));
    }
}

#[test]
fn insert_lookup_remove() {
    let s = storage(64);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    assert_eq!(t.insert(key(1), Unpatched), Ok(Inserted::New));
    assert_eq!(t.insert(key(2), Patched), Ok(Inserted::New));
    assert_eq!(t.lookup(key(1)), Some(Unpatched));
    assert_eq!(t.lookup(key(2)), Some(Patched));
    assert_eq!(t.lookup(key(3)), None);
    assert_eq!(
        t.universe_of(key(3)),
        Unpatched,
        "untracked = default universe"
    );
    assert_eq!(t.live(), 2);
    // Insert-if-absent: an existing entry is left untouched.
    assert_eq!(t.insert(key(1), Patched), Ok(Inserted::AlreadyPresent));
    assert_eq!(t.lookup(key(1)), Some(Unpatched));
    assert_eq!(t.live(), 2);
    // key(1) was the only pending task (key(2) is already in the target, Patched).
    assert_eq!(t.remove(key(1)), Removed::RemovedLast);
    assert_eq!(t.lookup(key(1)), None);
    assert_eq!(t.remove(key(1)), Removed::NotTracked);
    assert_eq!(t.live(), 1);
    // Same address again (task_struct reuse).
    assert_eq!(t.insert(key(1), Patched), Ok(Inserted::New));
    assert_eq!(t.lookup(key(1)), Some(Patched));
}

#[test]
fn reserved_keys_are_rejected() {
    let s = storage(8);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    assert_eq!(t.insert(0, Unpatched), Err(InsertError::InvalidKey));
    assert_eq!(t.insert(1, Unpatched), Err(InsertError::InvalidKey));
    // An EMPTY slot's key is 0: looking up 0 must not "find" it.
    assert_eq!(t.lookup(0), None);
    assert_eq!(t.lookup(1), None);
    assert_eq!(t.remove(0), Removed::NotTracked);
    t.start_switching();
    assert_eq!(t.switch_task(0, Patched), SwitchResult::NotTracked);
}

#[test]
fn tombstone_is_skipped_then_reused_after_full_chain_check() {
    let s = storage(64);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    let h = 10;
    let k = colliding(&t, h, 4);
    for &x in &k[..3] {
        t.insert(x, Unpatched).unwrap();
    }
    assert_eq!(t.index_of(k[0]), Some(h));
    assert_eq!(t.index_of(k[1]), Some(h + 1));
    assert_eq!(t.index_of(k[2]), Some(h + 2));

    assert_eq!(t.remove(k[1]), Removed::Removed);
    assert_eq!(
        t.tombstones(),
        1,
        "slot h+1 is followed by a live key: tombstone"
    );
    // Lookups go past the tombstone.
    assert_eq!(t.lookup(k[2]), Some(Unpatched));
    // k[2] lies beyond the tombstone: insert must not stop at the tombstone and duplicate it.
    assert_eq!(t.insert(k[2], Patched), Ok(Inserted::AlreadyPresent));
    assert_eq!(t.live(), 2);
    // A new colliding key reuses the tombstone.
    assert_eq!(t.insert(k[3], Patched), Ok(Inserted::New));
    assert_eq!(t.index_of(k[3]), Some(h + 1));
    assert_eq!(t.tombstones(), 0);
    assert_eq!(t.lookup(k[2]), Some(Unpatched));
}

#[test]
fn tombstone_runs_before_empty_are_reclaimed() {
    let s = storage(64);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    let h = 62; // the chain wraps around the end of the slice
    let k = colliding(&t, h, 4);
    for &x in &k {
        t.insert(x, Unpatched).unwrap();
    }
    let idx: Vec<_> = k.iter().map(|&x| t.index_of(x).unwrap()).collect();
    assert_eq!(idx, vec![62, 63, 0, 1]);
    t.remove(k[1]);
    t.remove(k[2]);
    assert_eq!(t.tombstones(), 2);
    // Removing the chain's last key: its slot is followed by EMPTY, so it and the run of
    // tombstones before it become EMPTY again.
    t.remove(k[3]);
    assert_eq!(t.tombstones(), 0);
    assert_eq!(t.lookup(k[0]), Some(Unpatched));
    t.remove(k[0]);
    assert_eq!((t.live(), t.tombstones()), (0, 0));
    // Table is fully reusable.
    for &x in &k {
        assert_eq!(t.insert(x, Patched), Ok(Inserted::New));
    }
    assert_eq!(t.index_of(k[3]), Some(1));
}

#[test]
fn full_table_refuses_inserts() {
    let s = storage(8);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    for i in 0..6 {
        assert_eq!(
            t.insert(key(100 + i), Unpatched),
            Ok(Inserted::New),
            "i={i}"
        );
    }
    assert_eq!(t.insert(key(200), Unpatched), Err(InsertError::TableFull));
    // Present keys are still reported as present, and all can be looked up.
    assert_eq!(t.insert(key(103), Patched), Ok(Inserted::AlreadyPresent));
    for i in 0..6 {
        assert_eq!(t.lookup(key(100 + i)), Some(Unpatched));
    }
    assert_eq!(t.pending(), 6);
    assert_eq!(t.live() + t.tombstones(), 6);
}

/// The fork hook's reserve: ordinary inserts stop at 3/4 of the capacity, a fork's at 7/8, so
/// that a child (whose parent may have switched) is tracked while the rebuild work catches up.
#[test]
fn fork_inserts_use_the_reserve() {
    let s = storage(16);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    assert_eq!((t.max_load(), t.fork_max_load()), (12, 14));
    for i in 0..12 {
        assert_eq!(
            t.insert(key(100 + i), Unpatched),
            Ok(Inserted::New),
            "i={i}"
        );
    }
    assert_eq!(t.insert(key(200), Unpatched), Err(InsertError::TableFull));
    assert_eq!(t.insert_fork(key(200), Patched), Ok(Inserted::New));
    assert_eq!(t.insert_fork(key(201), Unpatched), Ok(Inserted::New));
    assert_eq!(
        t.insert_fork(key(202), Patched),
        Err(InsertError::TableFull)
    );
    assert_eq!(t.insert(key(202), Patched), Err(InsertError::TableFull));
    assert_eq!(
        t.insert_fork(key(200), Unpatched),
        Ok(Inserted::AlreadyPresent)
    );
    assert_eq!(t.lookup(key(200)), Some(Patched));
    assert_eq!(t.lookup(key(201)), Some(Unpatched));
    assert_eq!(t.live(), 14);
    assert_eq!(t.pending(), 13, "the patched child is not pending");
    // A tombstone is reused without raising the load, at either limit.
    assert_eq!(t.remove(key(100)), Removed::Removed);
    assert_eq!(t.insert_fork(key(100), Unpatched), Ok(Inserted::New));
    assert_eq!((t.live(), t.tombstones()), (14, 0));
    assert!(t.needs_rebuild());
    for n in [2usize, 4, 8, 64, 4096] {
        let s = storage(n);
        let t = TaskTable::new(&s, Unpatched).unwrap();
        assert_eq!(t.fork_max_load(), n - n / 8, "n={n}");
        assert!(t.fork_max_load() >= t.max_load());
    }
}

#[test]
fn bounded_probing_on_a_table_of_tombstones() {
    // Capacity 2: max load is 2, so the table can be completely full, then all tombstones,
    // with no EMPTY slot to stop a probe.
    let s = storage(2);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    let (a, b, c) = (key(1), key(2), key(3));
    t.insert(a, Unpatched).unwrap();
    t.insert(b, Unpatched).unwrap();
    assert_eq!(t.lookup(c), None, "full of live keys: bounded probe");
    assert_eq!(t.insert(c, Unpatched), Err(InsertError::TableFull));
    t.remove(a);
    t.remove(b);
    assert_eq!((t.live(), t.tombstones()), (0, 2));
    assert_eq!(t.lookup(a), None);
    assert_eq!(t.lookup(c), None);
    t.start_switching();
    assert_eq!(t.switch_task(c, Patched), SwitchResult::NotTracked);
    assert_eq!(t.remove(c), Removed::NotTracked);
    // Insert scans the whole table (no EMPTY), then reuses the first tombstone.
    assert_eq!(t.insert(c, Patched), Ok(Inserted::New));
    assert_eq!(t.lookup(c), Some(Patched));
    assert_eq!((t.live(), t.tombstones()), (1, 1));
}

#[test]
fn pending_counts_inserts_removes_and_switches() {
    let s = storage(64);
    let t = TaskTable::new(&s, Unpatched).unwrap(); // target Patched
    for i in 0..4 {
        t.insert(key(i), Unpatched).unwrap();
    }
    t.insert(key(10), Patched).unwrap(); // e.g. child of a switched parent
    assert_eq!(t.pending(), 4);
    assert_eq!(
        t.switch_task(key(0), Patched),
        SwitchResult::Refused,
        "not started"
    );
    t.start_switching();
    assert_eq!(
        t.switch_task(key(0), Unpatched),
        SwitchResult::Refused,
        "wrong target"
    );
    assert_eq!(t.switch_task(key(0), Patched), SwitchResult::Switched);
    assert_eq!(t.switch_task(key(0), Patched), SwitchResult::AlreadyThere);
    assert_eq!(t.switch_task(key(10), Patched), SwitchResult::AlreadyThere);
    assert_eq!(t.switch_task(key(99), Patched), SwitchResult::NotTracked);
    assert_eq!(t.pending(), 3);
    assert_eq!(t.remove(key(0)), Removed::Removed); // switched: pending unchanged
    assert_eq!(t.pending(), 3);
    assert_eq!(t.remove(key(1)), Removed::Removed); // pending one
    assert_eq!(t.pending(), 2);
    assert_eq!(t.switch_task(key(2), Patched), SwitchResult::Switched);
    assert_eq!(t.switch_task(key(3), Patched), SwitchResult::SwitchedLast);
    assert_eq!(t.pending(), 0);
    assert_eq!(t.recount_pending(), 0);
    // A new pending task, then its removal signals completion.
    t.insert(key(20), Unpatched).unwrap();
    assert_eq!(t.pending(), 1);
    assert_eq!(t.remove(key(20)), Removed::RemovedLast);
    assert_eq!(t.pending(), 0);
}

#[test]
fn reverse_requires_stop_and_recounts() {
    let s = storage(64);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    for i in 0..5 {
        t.insert(key(i), Unpatched).unwrap();
    }
    t.start_switching();
    t.switch_task(key(0), Patched);
    t.switch_task(key(1), Patched);
    assert_eq!(t.pending(), 3);
    assert_eq!(t.reverse(), Err(ReverseError::StillAccepting));
    t.stop_switching();
    assert_eq!(t.switch_task(key(2), Patched), SwitchResult::Refused);
    assert_eq!(t.reverse(), Ok(2), "the two switched tasks are now pending");
    assert_eq!(t.target(), Unpatched);
    assert_eq!(t.pending(), 2);
    // Untracked tasks are in the default universe, which is the new target.
    assert_eq!(t.universe_of(key(77)), Unpatched);
    t.start_switching();
    assert_eq!(
        t.switch_task(key(0), Patched),
        SwitchResult::Refused,
        "stale target"
    );
    assert_eq!(t.switch_task(key(2), Unpatched), SwitchResult::AlreadyThere);
    assert_eq!(t.switch_task(key(0), Unpatched), SwitchResult::Switched);
    assert_eq!(t.switch_task(key(1), Unpatched), SwitchResult::SwitchedLast);
    // Insert counts against the new target.
    t.insert(key(30), Patched).unwrap();
    assert_eq!(t.pending(), 1);
    // Reverse again: back to Patched.
    t.stop_switching();
    assert_eq!(t.reverse(), Ok(5));
    assert_eq!(t.recount_pending(), 5);
}

#[test]
fn reverse_with_nothing_switched_completes_at_once() {
    let s = storage(16);
    let t = TaskTable::new(&s, Patched).unwrap();
    for i in 0..3 {
        t.insert(key(i), Patched).unwrap();
    }
    t.start_switching();
    t.stop_switching();
    assert_eq!(t.reverse(), Ok(0));
}

#[test]
fn force_moves_everyone() {
    let s = storage(32);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    for i in 0..6 {
        t.insert(key(i), Unpatched).unwrap();
    }
    t.start_switching();
    t.switch_task(key(0), Patched);
    assert_eq!(t.force_all(), 5);
    assert_eq!(t.pending(), 0);
    assert_eq!(t.count_not_in(Patched), 0);
    assert_eq!(t.force_all(), 0);
}

#[test]
fn for_each_live_visits_exactly_the_live_entries() {
    let s = storage(128);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    for i in 0..40 {
        t.insert(key(i), if i % 3 == 0 { Patched } else { Unpatched })
            .unwrap();
    }
    for i in (0..40).step_by(4) {
        t.remove(key(i));
    }
    let mut seen = Vec::new();
    t.for_each_live(|k, u| seen.push((k, u)));
    seen.sort_by_key(|e| e.0);
    let mut want: Vec<_> = (0..40)
        .filter(|i| i % 4 != 0)
        .map(|i| (key(i), if i % 3 == 0 { Patched } else { Unpatched }))
        .collect();
    want.sort_by_key(|e| e.0);
    assert_eq!(seen, want);
    assert_eq!(t.live(), want.len());
    assert_eq!(t.pending(), t.recount_pending());
}

#[test]
fn churn_without_long_lived_tasks_reclaims_tombstones() {
    // Fork/exit churn far beyond the capacity: without reclaiming tombstones the table would
    // fill up. 64 slots (max load 48), 16 live tasks.
    let s = storage(64);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    let mut live: Vec<usize> = (0..16).map(key).collect();
    for &k in &live {
        t.insert(k, Unpatched).unwrap();
    }
    let mut next = 16usize;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut max_tomb = 0;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x % live.len() as u64) as usize;
        let gone = live.swap_remove(i);
        assert_ne!(t.remove(gone), Removed::NotTracked);
        let k = key(next);
        next += 1;
        assert_eq!(
            t.insert(k, Unpatched),
            Ok(Inserted::New),
            "after {next} inserts"
        );
        live.push(k);
        max_tomb = max_tomb.max(t.tombstones());
    }
    for &k in &live {
        assert_eq!(t.lookup(k), Some(Unpatched));
    }
    assert_eq!(t.live(), 16);
    assert!(max_tomb <= 32, "max tombstones {max_tomb}");
}

struct Xorshift(u64);
impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// A random 64-byte aligned kernel address.
    fn addr(&mut self) -> usize {
        0xffff_8880_0000_0000usize + ((self.next() as usize) & 0xff_ffff) * 64
    }
}

/// Long-lived tasks plus fork/exit churn: `long` permanent keys, `churn` churning ones.
/// Returns (operations done, whether an insert hit `TableFull`), stopping at `TableFull` or when
/// `stop_when` says so.
fn churn_long_lived(
    t: &TaskTable<'_>,
    rng: &mut Xorshift,
    churn: &mut Vec<usize>,
    ops: usize,
    stop_when: impl Fn(&TaskTable<'_>) -> bool,
) -> (usize, bool) {
    for op in 0..ops {
        if stop_when(t) {
            return (op, false);
        }
        let i = (rng.next() % churn.len() as u64) as usize;
        let gone = churn.swap_remove(i);
        assert_ne!(t.remove(gone), Removed::NotTracked);
        loop {
            let k = rng.addr();
            match t.insert(k, Universe::Unpatched) {
                Ok(Inserted::New) => {
                    churn.push(k);
                    break;
                }
                Ok(Inserted::AlreadyPresent) => continue,
                Err(_) => return (op, true),
            }
        }
    }
    (ops, false)
}

fn populate(t: &TaskTable<'_>, rng: &mut Xorshift, n: usize) -> Vec<usize> {
    let mut keys = Vec::new();
    while keys.len() < n {
        let k = rng.addr();
        if t.insert(k, Universe::Unpatched) == Ok(Inserted::New) {
            keys.push(k);
        }
    }
    keys
}

#[test]
fn long_lived_tasks_plus_churn_fill_the_table_without_rebuild() {
    // Why `needs_rebuild`/`rebuild_into` exist: kernel-like sizing (4096 slots, ~1/4 loaded),
    // 900 long-lived tasks, 100 churning. Tombstones pile up in front of long-lived keys.
    let s = storage(4096);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    let mut rng = Xorshift(0x5eed_1234);
    let _long = populate(&t, &mut rng, 900);
    let mut churn = populate(&t, &mut rng, 100);
    let (ops, full) = churn_long_lived(&t, &mut rng, &mut churn, 2_000_000, |_| false);
    assert!(full, "expected TableFull");
    eprintln!(
        "TableFull after {ops} fork/exit pairs: live {} tombstones {}",
        t.live(),
        t.tombstones()
    );
    assert!(ops < 1_000_000);
}

#[test]
fn rebuild_keeps_entries_counters_and_target() {
    let s = storage(4096);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    let mut rng = Xorshift(0x5eed_1234);
    let long = populate(&t, &mut rng, 900);
    let mut churn = populate(&t, &mut rng, 100);
    t.start_switching();
    for &k in &long[..300] {
        t.switch_task(k, Patched);
    }
    let (_, full) = churn_long_lived(&t, &mut rng, &mut churn, 2_000_000, |t| t.needs_rebuild());
    assert!(!full, "needs_rebuild must fire before the table is full");
    assert!(t.needs_rebuild());
    let pending = t.pending();
    assert_eq!(pending, t.recount_pending());

    let s2 = storage(slots_for_tasks(t.live()));
    assert_eq!(
        t.rebuild_into(&s2).err(),
        Some(RebuildError::StillAccepting)
    );
    t.stop_switching();
    let bad = storage(6);
    assert_eq!(
        t.rebuild_into(&bad).err(),
        Some(RebuildError::New(NewError::BadCapacity))
    );
    let small = storage(512); // max load 384 < 1000 live
    assert_eq!(t.rebuild_into(&small).err(), Some(RebuildError::TooSmall));
    let n = t.rebuild_into(&s2).unwrap();
    assert!(!n.accepting());
    assert_eq!(
        (n.live(), n.tombstones(), n.pending()),
        (t.live(), 0, pending)
    );
    assert_eq!(n.target(), t.target());
    assert_eq!(n.default_universe(), t.default_universe());
    assert!(!n.needs_rebuild());
    for &k in long.iter().chain(churn.iter()) {
        assert_eq!(n.lookup(k), t.lookup(k));
        assert!(n.lookup(k).is_some());
    }
    // The old table stays frozen and correct for readers still holding it.
    assert_eq!(t.switch_task(long[500], Patched), SwitchResult::Refused);
    n.start_switching();
    assert_eq!(n.switch_task(long[500], Patched), SwitchResult::Switched);
    assert_eq!(n.pending(), pending - 1);
    // Reversal on the rebuilt table.
    n.stop_switching();
    assert_eq!(n.reverse(), Ok(n.live() - (pending - 1)));
}

#[test]
fn user_return_mark_is_set_once_until_cleared() {
    let s = storage(64);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    t.insert(key(1), Unpatched).unwrap();
    assert!(!t.has_user_return(key(1)));
    assert!(t.mark_user_return(key(1)), "first request is made");
    assert!(!t.mark_user_return(key(1)), "no second request while one is outstanding");
    assert!(t.has_user_return(key(1)));
    t.clear_user_return(key(1));
    assert!(!t.has_user_return(key(1)));
    assert!(t.mark_user_return(key(1)), "a task still pending after its request ran is asked again");
    // Untracked keys are never marked.
    assert!(!t.mark_user_return(key(2)));
    t.clear_user_return(key(2));
    assert!(!t.has_user_return(key(2)));
    // The mark does not touch the universe or the counters.
    assert_eq!(t.lookup(key(1)), Some(Unpatched));
    assert_eq!(t.pending(), 1);
    t.start_switching();
    assert_eq!(t.switch_task(key(1), Patched), SwitchResult::SwitchedLast);
    assert!(t.has_user_return(key(1)), "switching leaves the mark to its request");
}

#[test]
fn user_return_mark_does_not_survive_reuse_or_rebuild() {
    let s = storage(16);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    // Two keys in one chain: removing the first leaves a tombstone the next insert reuses.
    let keys = colliding(&t, 3, 3);
    t.insert(keys[0], Unpatched).unwrap();
    t.insert(keys[1], Unpatched).unwrap();
    assert!(t.mark_user_return(keys[0]));
    assert_eq!(t.remove(keys[0]), Removed::Removed);
    assert_eq!(t.tombstones(), 1);
    t.insert(keys[2], Unpatched).unwrap();
    assert_eq!(t.index_of(keys[2]), Some(3), "the tombstone was reused");
    assert!(!t.has_user_return(keys[2]), "a new task does not inherit a freed task's mark");
    assert!(t.mark_user_return(keys[1]));
    t.stop_switching();
    let s2 = storage(32);
    let n = t.rebuild_into(&s2).unwrap();
    assert_eq!(n.lookup(keys[1]), Some(Unpatched));
    assert!(!n.has_user_return(keys[1]), "marks are advisory and not copied");
    assert!(t.has_user_return(keys[1]), "the frozen table keeps its own");
}

#[test]
fn accepting_follows_start_and_stop() {
    let s = storage(16);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    assert!(!t.accepting(), "a new table does not accept switches");
    t.start_switching();
    assert!(t.accepting());
    t.stop_switching();
    assert!(!t.accepting());
}

/// The home slot is the Fibonacci hash of the task pointer: the top log2(capacity) bits of
/// `(key >> 4) * 2^64/phi` (the distribution the load limits were measured with).
#[test]
fn home_is_the_fibonacci_hash() {
    for cap in [2usize, 16, 4096] {
        let s = storage(cap);
        let t = TaskTable::new(&s, Unpatched).unwrap();
        let bits = cap.trailing_zeros();
        for i in 0..1000 {
            let k = key(i);
            let want = ((k >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) & (cap - 1);
            assert_eq!(t.home_of(k), want, "cap {cap} key {k:#x}");
        }
    }
}

/// A rebuild into a table whose maximum load is exactly the live count succeeds; one slot
/// short, it is refused before anything is written to the new slots.
#[test]
fn rebuild_size_limit_is_exact_and_checked_first() {
    let s = storage(64);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    // 12 = max_load of 16 slots.
    for i in 0..12 {
        assert_eq!(t.insert(key(i), Unpatched), Ok(Inserted::New));
    }
    t.stop_switching();
    let exact = storage(16);
    let n = t.rebuild_into(&exact).unwrap();
    assert_eq!(n.live(), 12);
    assert!(t.insert(key(12), Unpatched).is_ok());
    let small = storage(16);
    assert_eq!(t.rebuild_into(&small).err(), Some(RebuildError::TooSmall));
    assert!(
        TaskTable::new(&small, Unpatched).is_ok(),
        "a refused rebuild wrote to the new slots"
    );
}

/// The rebuild threshold: a load (live + tombstones) of exactly half the capacity does not ask
/// for a rebuild, one more does.
#[test]
fn needs_rebuild_above_half_load() {
    let s = storage(16);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    for i in 0..8 {
        assert!(!t.needs_rebuild(), "load {i}");
        t.insert(key(i), Unpatched).unwrap();
    }
    assert!(!t.needs_rebuild(), "load 8 of 16");
    t.insert(key(8), Unpatched).unwrap();
    assert!(t.needs_rebuild(), "load 9 of 16");
}
