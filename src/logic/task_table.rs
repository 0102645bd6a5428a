// SPDX-License-Identifier: GPL-2.0

//! The per-task universe store of a livegraft transition.
//!
//! Pure, allocation-free logic (`core` only). The same file is compiled into the kernel module (as
//! a `#[path]` submodule, sibling of `transition`) and into the host crate `livegraft-logic`, where
//! `cargo test` exercises it.
//!
//! # What it stores
//!
//! One [`Slot`] per tracked task: the task pointer (as `usize`, the key) and the task's
//! [`Universe`]. The table is an open-addressing hash table with linear probing over a slice of
//! slots provided by the caller (the kernel allocates it zeroed; an all-zero [`Slot`] is empty).
//!
//! # Memory
//!
//! A slot is [`SLOT_BYTES`] bytes (16 on 64-bit: an 8-byte key and a 1-byte state, padded).
//! [`slots_for_tasks`] sizes the table at 4 slots per task, i.e. **64 bytes per task** on 64-bit,
//! with a floor of 4096 slots (64 KiB).
//!
//! # Concurrency contract
//!
//! * **Mutations** ([`TaskTable::insert`], [`TaskTable::remove`], [`TaskTable::reverse`],
//!   [`TaskTable::force_all`], [`TaskTable::rebuild_into`]) are serialised by the caller (the
//!   kernel holds one spinlock around all of them). They are *not* safe to run concurrently with
//!   each other.
//! * **Lookups** ([`TaskTable::lookup`], [`TaskTable::universe_of`]) and
//!   [`TaskTable::switch_task`] are lock-free; they may run concurrently with mutations and with
//!   each other (ftrace handler, tracepoint probes, the stack-check worker).
//! * A lookup or switch of key `K` must *happen after* the `insert(K)` that added it returned (the
//!   kernel gets this from `wake_up_new_task`/the tasklist), and must not run concurrently with or
//!   after `remove(K)` (the kernel removes a task when its `task_struct` is freed, after an RCU
//!   grace period, so no probe that found the task can still run).
//!
//! # Tombstones and rebuilds (a fix to the original design)
//!
//! A removed entry leaves a tombstone, which only an insert whose probe chain crosses it can
//! reuse. The first design stopped there; with long-lived tasks in the table (init, kthreads,
//! daemons) and fork/exit churn around them, tombstones pile up in front of the long-lived keys
//! until the table refuses inserts: measured with 4096 slots, 900 long-lived and 100 churning
//! tasks, `insert` returned `TableFull` after 20 000 to 45 000 fork/exit pairs (depending on the
//! addresses), i.e. within minutes of a parallel build during a stalled transition (test
//! `long_lived_tasks_plus_churn_fill_the_table_without_rebuild`). Two measures fix it:
//! * `remove` turns a tombstone back into EMPTY when the next slot is EMPTY (and the run of
//!   tombstones before it), which bounds tombstones when nothing is long-lived;
//! * [`TaskTable::needs_rebuild`] reports a load (live + tombstones) above 1/2 of the capacity,
//!   well before the 3/4 limit, and [`TaskTable::rebuild_into`] copies the live entries into
//!   fresh slots under the same stop/drain protocol as a reversal. The kernel runs it from a work
//!   item: `stop_switching()`, grace period, `rebuild_into()` under the mutation lock, publish the
//!   new table (`rcu_assign_pointer`), `start_switching()` on it, grace period, free the old one.
//!
//! Between 3/4 and 7/8 of the capacity lies a reserve only the fork hook may use
//! ([`TaskTable::insert_fork`]): a child that cannot be tracked runs in the default universe,
//! which mixes the fork's unit of work when its parent has switched already (the model test's
//! `model_untracked_fork_fallback`), so forks must fail last. The other inserts (the walks) can
//! wait for the rebuild; the 1/8 that stays empty keeps lookups of absent keys short.
//!
//! # Invariant that makes lock-free lookups correct
//!
//! For every live key `Y` stored at index `j` with home index `h`, every slot of the cyclic range
//! `h..=j` is non-EMPTY. `insert` keeps it (it places a key no further than the first EMPTY slot
//! of the chain); `remove` turns a slot into a tombstone (non-EMPTY) and only turns a tombstone
//! back into EMPTY when the *next* slot is EMPTY, which the invariant proves is never inside a live
//! chain. Slots never become EMPTY otherwise, so a lookup for a live key never meets an EMPTY slot
//! before the key.

// The atomics come from the `sync` shim: `core`'s in the kernel and on the host, loom's in the
// host's loom test (`cfg(loom)`), which checks every Release/Acquire pair below.
use super::sync::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// Key value of an EMPTY slot (an all-zero slot is empty). Never a task pointer.
const EMPTY: usize = 0;
/// Key value of a tombstone (a removed entry). Task pointers are aligned, so never 1.
const TOMBSTONE: usize = 1;

/// State byte of a slot whose task was removed (and of a zeroed slot).
const STATE_DEAD: u8 = 0;
/// State byte of a task in the unpatched universe.
const STATE_UNPATCHED: u8 = 1;
/// State byte of a task in the patched universe.
const STATE_PATCHED: u8 = 2;

/// Multiplier of the Fibonacci hash (2^BITS / golden ratio, odd).
#[cfg(target_pointer_width = "64")]
const HASH_MUL: usize = 0x9E37_79B9_7F4A_7C15;
/// Multiplier of the Fibonacci hash (2^BITS / golden ratio, odd).
#[cfg(not(target_pointer_width = "64"))]
const HASH_MUL: usize = 0x9E37_79B9;

/// Pointer bits that carry no information (task structs are at least 16-byte aligned). Dropped
/// before mixing; distinct aligned pointers stay distinct.
const KEY_ALIGN_SHIFT: u32 = 4;

/// Minimum number of slots [`slots_for_tasks`] returns.
pub const MIN_SLOTS: usize = 4096;

/// Slots [`slots_for_tasks`] reserves per task.
pub const SLOTS_PER_TASK: usize = 4;

/// Size of one [`Slot`] in bytes (16 on 64-bit targets).
pub const SLOT_BYTES: usize = core::mem::size_of::<Slot>();

/// The universe a task is in during a transition.
///
/// A task in the `Patched` universe runs the version of the patch in transition; a task in the
/// `Unpatched` universe runs the next older version (or the original function).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Universe {
    /// Runs the code as it was without the patch in transition.
    Unpatched,
    /// Runs the code of the patch in transition.
    Patched,
}

impl Universe {
    /// The other universe.
    pub const fn opposite(self) -> Universe {
        match self {
            Universe::Unpatched => Universe::Patched,
            Universe::Patched => Universe::Unpatched,
        }
    }

    /// The value upstream shows in `/proc/<pid>/patch_state` (`0` unpatched, `1` patched).
    pub const fn patch_state(self) -> i32 {
        match self {
            Universe::Unpatched => 0,
            Universe::Patched => 1,
        }
    }

    /// Encoding in a slot's state byte.
    const fn encode(self) -> u8 {
        match self {
            Universe::Unpatched => STATE_UNPATCHED,
            Universe::Patched => STATE_PATCHED,
        }
    }

    /// Decoding of a slot's state byte; `None` for a dead (removed or zeroed) slot.
    #[inline(always)]
    const fn decode(state: u8) -> Option<Universe> {
        match state {
            STATE_UNPATCHED => Some(Universe::Unpatched),
            STATE_PATCHED => Some(Universe::Patched),
            _ => None,
        }
    }
}

/// One entry of the table: a task pointer and its universe.
///
/// The all-zero bit pattern is a valid, EMPTY slot, so the kernel may hand the table zeroed memory
/// (`kvzalloc`). `#[repr(C)]` fixes the layout for that purpose.
#[derive(Debug)]
#[repr(C)]
pub struct Slot {
    /// `EMPTY` (0), `TOMBSTONE` (1) or a task pointer.
    key: AtomicUsize,
    /// `STATE_DEAD`, `STATE_UNPATCHED` or `STATE_PATCHED`.
    state: AtomicU8,
    /// Whether a return-to-user switch request is outstanding for the task
    /// ([`TaskTable::mark_user_return`]); fits in the padding, the slot stays 16 bytes.
    user_return: AtomicBool,
}

impl Slot {
    /// An EMPTY slot (all zero). Use `[const { Slot::new() }; N]` for arrays.
    #[cfg(not(loom))]
    pub const fn new() -> Slot {
        Slot {
            key: AtomicUsize::new(EMPTY),
            state: AtomicU8::new(STATE_DEAD),
            user_return: AtomicBool::new(false),
        }
    }

    /// An EMPTY slot (loom's atomics cannot be built in a `const fn`).
    // Only compiled for the loom test, which cargo-mutants does not run.
    #[cfg_attr(mutants, mutants::skip)]
    #[cfg(loom)]
    pub fn new() -> Slot {
        Slot {
            key: AtomicUsize::new(EMPTY),
            state: AtomicU8::new(STATE_DEAD),
            user_return: AtomicBool::new(false),
        }
    }
}

impl Default for Slot {
    fn default() -> Slot {
        Slot::new()
    }
}

/// Number of slots to allocate for a system with `nr_tasks` tasks: the next power of two of
/// `max(4 * nr_tasks, 4096)`, saturating at the largest power of two of `usize`.
///
/// Memory cost: [`SLOT_BYTES`] (16) bytes per slot, i.e. 64 bytes per task on 64-bit, at least
/// 64 KiB. Four slots per task keep the load at or under 1/4 when the table is created, leaving
/// room for forks and tombstones before [`TaskTable::insert`]'s 3/4 limit.
pub const fn slots_for_tasks(nr_tasks: usize) -> usize {
    slots_for_tasks_min(nr_tasks, MIN_SLOTS)
}

/// [`slots_for_tasks`] with another floor: the next power of two of
/// `max(4 * nr_tasks, min_slots)`, saturating at the largest power of two of `usize`. A smaller
/// floor makes small tables, e.g. to exercise [`TaskTable::rebuild_into`] in tests.
pub const fn slots_for_tasks_min(nr_tasks: usize, min_slots: usize) -> usize {
    let wanted = nr_tasks.saturating_mul(SLOTS_PER_TASK);
    let wanted = if wanted < min_slots {
        min_slots
    } else {
        wanted
    };
    match wanted.checked_next_power_of_two() {
        Some(n) => n,
        None => 1usize.wrapping_shl(usize::BITS - 1),
    }
}

/// Why [`TaskTable::new`] refused a slot slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewError {
    /// The length is not a power of two of at least 2.
    BadCapacity,
    /// A slot is not EMPTY (the memory is not zeroed or belongs to another table).
    NotEmpty,
}

/// Successful outcome of [`TaskTable::insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// The key was added with the given universe.
    New,
    /// The key was already present; its entry was left unchanged.
    AlreadyPresent,
}

/// Why [`TaskTable::insert`] refused a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertError {
    /// The load (live entries plus tombstones) would exceed 3/4 of the capacity (7/8 for a fork,
    /// [`TaskTable::insert_fork`]).
    TableFull,
    /// The key is 0 or 1, which are reserved (never a task pointer).
    InvalidKey,
}

/// Outcome of [`TaskTable::remove`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    /// The key was not in the table.
    NotTracked,
    /// The entry was removed; the pending count did not reach zero through it.
    Removed,
    /// The entry was removed, it was the last pending task: the caller queues the completion work.
    RemovedLast,
}

/// Outcome of [`TaskTable::switch_task`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwitchResult {
    /// This call moved the task to the target universe; others are still pending.
    Switched,
    /// This call moved the task to the target universe and it was the last pending task: the
    /// caller queues the completion work.
    SwitchedLast,
    /// The task was already in the target universe.
    AlreadyThere,
    /// The key is not in the table (the task is in the default universe).
    NotTracked,
    /// The table is not accepting switches (reversal or teardown in progress, or not started), or
    /// the requested universe is not the table's target.
    Refused,
}

/// What a failed state CAS of [`TaskTable::switch_task`] means: the task already is in
/// `target`, or its slot went DEAD (a `remove` raced with a stale switcher) and it is no longer
/// tracked.
fn failed_switch(cur: u8, target: Universe) -> SwitchResult {
    if cur == target.encode() {
        SwitchResult::AlreadyThere
    } else {
        SwitchResult::NotTracked
    }
}

/// Why [`TaskTable::rebuild_into`] refused to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RebuildError {
    /// [`TaskTable::stop_switching`] was not called first.
    StillAccepting,
    /// The new slots are not a valid, empty table.
    New(NewError),
    /// The live entries would exceed the new table's maximum load.
    TooSmall,
}

/// Why [`TaskTable::reverse`] refused to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReverseError {
    /// [`TaskTable::stop_switching`] was not called first.
    StillAccepting,
}

/// The per-task universe table of one transition.
///
/// See the module documentation for the concurrency contract.
#[derive(Debug)]
pub struct TaskTable<'a> {
    /// Caller-provided storage; length is a power of two, at least 2.
    slots: &'a [Slot],
    /// `slots.len() - 1`.
    mask: usize,
    /// `usize::BITS - log2(slots.len())`: the hash keeps the top bits of the product.
    shift: u32,
    /// Universe of every task at transition start; also that of untracked tasks.
    default_universe: Universe,
    /// Encoded target universe. Written only by `reverse` (mutation lock held, switching stopped).
    target: AtomicU8,
    /// Whether `switch_task` may switch tasks.
    accepting: AtomicBool,
    /// Live tasks whose universe is not the target.
    pending: AtomicUsize,
    /// Live entries. Written under the mutation lock only.
    live: AtomicUsize,
    /// Tombstone slots. Written under the mutation lock only.
    tombstones: AtomicUsize,
}

impl<'a> TaskTable<'a> {
    /// Builds a table over `slots`, for a transition in which every task starts in
    /// `default_universe` and moves to its opposite (the target).
    ///
    /// `slots.len()` must be a power of two of at least 2 and every slot EMPTY (zeroed). The table
    /// starts *not accepting* switches: insert the existing tasks, then call
    /// [`TaskTable::start_switching`].
    pub fn new(slots: &'a [Slot], default_universe: Universe) -> Result<TaskTable<'a>, NewError> {
        let len = slots.len();
        if len < 2 || !len.is_power_of_two() {
            return Err(NewError::BadCapacity);
        }
        // Relaxed: the caller owns the memory exclusively while constructing the table.
        if slots.iter().any(|s| s.key.load(Ordering::Relaxed) != EMPTY) {
            return Err(NewError::NotEmpty);
        }
        Ok(TaskTable {
            slots,
            mask: len.wrapping_sub(1),
            shift: usize::BITS.wrapping_sub(len.trailing_zeros()),
            default_universe,
            target: AtomicU8::new(default_universe.opposite().encode()),
            accepting: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            tombstones: AtomicUsize::new(0),
        })
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Most entries (live plus tombstones) [`TaskTable::insert`] fills the table to: 3/4 of
    /// the capacity.
    pub fn max_load(&self) -> usize {
        let cap = self.slots.len();
        cap.wrapping_sub(cap / 4)
    }

    /// Most entries (live plus tombstones) [`TaskTable::insert_fork`] fills the table to: 7/8
    /// of the capacity (the fork hook's reserve, see the module documentation).
    pub fn fork_max_load(&self) -> usize {
        let cap = self.slots.len();
        cap.wrapping_sub(cap / 8)
    }

    /// Live tasks whose universe is not the target. Zero means every tracked task has switched.
    ///
    /// While switchers, inserts or removes run, the value may transiently *over*-count (each of
    /// them changes the state or key first and the counter after, or increments before
    /// publishing), never under-count, so it never reads 0 early. Exact when quiescent.
    pub fn pending(&self) -> usize {
        // Acquire: pairs with the AcqRel decrements in `switch_task`/`remove`/`force_all` and the
        // Release store in `reverse`, so a caller seeing 0 also sees the switched states.
        self.pending.load(Ordering::Acquire)
    }

    /// Number of live entries.
    pub fn live(&self) -> usize {
        // Relaxed: statistics; exact for the holder of the mutation lock.
        self.live.load(Ordering::Relaxed)
    }

    /// Number of tombstones.
    pub fn tombstones(&self) -> usize {
        // Relaxed: statistics; exact for the holder of the mutation lock.
        self.tombstones.load(Ordering::Relaxed)
    }

    /// The universe every task had at transition start, and that of any untracked task.
    pub fn default_universe(&self) -> Universe {
        self.default_universe
    }

    /// The universe tasks are being moved to (flips on [`TaskTable::reverse`]).
    pub fn target(&self) -> Universe {
        // Relaxed: informational for the caller; `switch_task` rechecks the target itself after
        // its Acquire load of `accepting`.
        self.load_target(Ordering::Relaxed)
    }

    /// Whether [`TaskTable::switch_task`] currently switches tasks.
    pub fn accepting(&self) -> bool {
        // Relaxed: informational only.
        self.accepting.load(Ordering::Relaxed)
    }

    fn load_target(&self, order: Ordering) -> Universe {
        match Universe::decode(self.target.load(order)) {
            Some(u) => u,
            // Unreachable: `target` only ever holds an encoded universe.
            None => self.default_universe.opposite(),
        }
    }

    /// Home index of `key`.
    #[inline(always)]
    fn home(&self, key: usize) -> usize {
        (key.wrapping_shr(KEY_ALIGN_SHIFT))
            .wrapping_mul(HASH_MUL)
            .wrapping_shr(self.shift)
            & self.mask
    }

    #[inline(always)]
    fn next_index(&self, idx: usize) -> usize {
        idx.wrapping_add(1) & self.mask
    }

    fn prev_index(&self, idx: usize) -> usize {
        idx.wrapping_sub(1) & self.mask
    }

    #[inline(always)]
    const fn valid_key(key: usize) -> bool {
        key != EMPTY && key != TOMBSTONE
    }

    /// Finds the index of the slot holding `key`. Bounded: probes at most `capacity()` slots,
    /// stops at EMPTY.
    #[inline(always)]
    fn find_index(&self, key: usize) -> Option<usize> {
        if !Self::valid_key(key) {
            return None;
        }
        let mut idx = self.home(key);
        for _ in 0..self.slots.len() {
            let slot = self.slots.get(idx)?;
            // Acquire: pairs with the Release key store in `insert`, so the state written before
            // publication is visible when the key is.
            let k = slot.key.load(Ordering::Acquire);
            if k == key {
                return Some(idx);
            }
            if k == EMPTY {
                return None;
            }
            idx = self.next_index(idx);
        }
        None
    }

    /// Finds the slot holding `key`; see [`TaskTable::find_index`].
    #[inline(always)]
    fn find(&self, key: usize) -> Option<&'a Slot> {
        let slots: &'a [Slot] = self.slots;
        slots.get(self.find_index(key)?)
    }

    /// Index of the slot `key` hashes to (its probe chain starts there). For diagnostics and
    /// tests.
    pub fn home_of(&self, key: usize) -> usize {
        self.home(key)
    }

    /// Index of the slot holding `key`, if it is tracked. For diagnostics and tests.
    pub fn index_of(&self, key: usize) -> Option<usize> {
        self.find_index(key)
    }

    /// The universe of `key`, or `None` if the task is not tracked. Lock-free.
    #[inline(always)]
    pub fn lookup(&self, key: usize) -> Option<Universe> {
        let slot = self.find(key)?;
        // Acquire: pairs with the Release half of the AcqRel CAS in `switch_task`/`force_all`,
        // so whoever sees the new universe also sees what the switcher did before switching.
        Universe::decode(slot.state.load(Ordering::Acquire))
    }

    /// The universe `key` runs in: its entry, or the default universe if it is untracked.
    // On the ftrace handler's path: inlined there.
    #[inline(always)]
    pub fn universe_of(&self, key: usize) -> Universe {
        match self.lookup(key) {
            Some(u) => u,
            None => self.default_universe,
        }
    }

    /// Adds `key` in `universe` if it is absent; leaves an existing entry untouched.
    ///
    /// **Caller holds the mutation lock.** Counts the task as pending if `universe` is not the
    /// target. A tombstone is reused only after the whole probe chain proved the key absent.
    /// Refuses with [`InsertError::TableFull`] if the load (live + tombstones) would exceed
    /// [`TaskTable::max_load`] (reusing a tombstone does not raise the load).
    ///
    /// For a fork, `AlreadyPresent` means the free of an earlier task at the same address was
    /// not observed (a bug in the caller's hooks): the stale entry keeps its universe.
    pub fn insert(&self, key: usize, universe: Universe) -> Result<Inserted, InsertError> {
        self.insert_up_to(key, universe, self.max_load())
    }

    /// [`TaskTable::insert`] for the fork hook, which may also take the reserve up to
    /// [`TaskTable::fork_max_load`]. **Caller holds the mutation lock.**
    pub fn insert_fork(&self, key: usize, universe: Universe) -> Result<Inserted, InsertError> {
        self.insert_up_to(key, universe, self.fork_max_load())
    }

    /// [`TaskTable::insert`] with the load limit `limit`.
    fn insert_up_to(
        &self,
        key: usize,
        universe: Universe,
        limit: usize,
    ) -> Result<Inserted, InsertError> {
        if !Self::valid_key(key) {
            return Err(InsertError::InvalidKey);
        }
        let slots: &'a [Slot] = self.slots;
        let mut idx = self.home(key);
        let mut first_tombstone: Option<&'a Slot> = None;
        let mut first_empty: Option<&'a Slot> = None;
        for _ in 0..slots.len() {
            let Some(slot) = slots.get(idx) else { break };
            // Relaxed: keys are only written under the mutation lock, which we hold.
            let k = slot.key.load(Ordering::Relaxed);
            if k == key {
                return Ok(Inserted::AlreadyPresent);
            }
            if k == EMPTY {
                first_empty = Some(slot);
                break;
            }
            if k == TOMBSTONE && first_tombstone.is_none() {
                first_tombstone = Some(slot);
            }
            idx = self.next_index(idx);
        }
        let (slot, reused) = match (first_tombstone, first_empty) {
            (Some(t), _) => (t, true),
            (None, Some(e)) => {
                let load = self.live().wrapping_add(self.tombstones());
                if load >= limit {
                    return Err(InsertError::TableFull);
                }
                (e, false)
            }
            (None, None) => return Err(InsertError::TableFull),
        };
        // Relaxed: `target` is only written under the mutation lock, which we hold.
        let target = self.load_target(Ordering::Relaxed);
        if universe != target {
            // AcqRel: part of the RMW chain on `pending`; see `pending()`.
            self.pending.fetch_add(1, Ordering::AcqRel);
        }
        // Relaxed: published by the Release key store below.
        slot.state.store(universe.encode(), Ordering::Relaxed);
        // Relaxed: as above; a reused tombstone must not pass a stale mark to a new task.
        slot.user_return.store(false, Ordering::Relaxed);
        // Release: pairs with the Acquire key load in `find` (lookup/switch_task): a reader that
        // sees the key sees its state.
        slot.key.store(key, Ordering::Release);
        // Relaxed: counters written under the mutation lock only.
        self.live.fetch_add(1, Ordering::Relaxed);
        if reused {
            self.tombstones.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(Inserted::New)
    }

    /// Removes `key` (the task's `task_struct` is being freed).
    ///
    /// **Caller holds the mutation lock**, and no lookup or switch of `key` may run concurrently
    /// (see the module documentation). If the task was pending, the pending count drops; if it
    /// drops to zero, [`Removed::RemovedLast`] tells the caller to queue the completion work.
    ///
    /// The slot becomes a tombstone; a tombstone followed by an EMPTY slot is turned back into
    /// EMPTY, and so are the tombstones before it (this keeps tombstones from accumulating over a
    /// long transition with fork/exit churn; lock-free readers stay correct, see the module
    /// documentation).
    pub fn remove(&self, key: usize) -> Removed {
        let Some(idx) = self.find_index(key) else {
            return Removed::NotTracked;
        };
        let Some(slot) = self.slots.get(idx) else {
            return Removed::NotTracked;
        };
        // AcqRel swap: the state becomes DEAD before the slot is reused. A racing `switch_task`
        // (which the contract excludes, but a stale stack check could attempt) then fails its
        // CAS, so exactly one of the two accounts for the task in `pending`.
        let old = slot.state.swap(STATE_DEAD, Ordering::AcqRel);
        let mut result = Removed::Removed;
        if let Some(u) = Universe::decode(old) {
            // Relaxed: `target` is only written under the mutation lock, which we hold.
            let target = self.load_target(Ordering::Relaxed);
            // AcqRel: part of the RMW chain on `pending`; see `pending()`.
            if u != target && self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                result = Removed::RemovedLast;
            }
        }
        // Relaxed: a tombstone publishes nothing; readers of other keys only compare it.
        slot.key.store(TOMBSTONE, Ordering::Relaxed);
        // Relaxed: counters written under the mutation lock only.
        self.live.fetch_sub(1, Ordering::Relaxed);
        self.tombstones.fetch_add(1, Ordering::Relaxed);
        self.reclaim_tombstones(idx);
        result
    }

    /// If the slot after `idx` is EMPTY, turns the run of tombstones ending at `idx` back into
    /// EMPTY slots. Caller holds the mutation lock.
    fn reclaim_tombstones(&self, idx: usize) {
        let next_is_empty = match self.slots.get(self.next_index(idx)) {
            // Relaxed: keys are only written under the mutation lock, which we hold.
            Some(next) => next.key.load(Ordering::Relaxed) == EMPTY,
            None => false,
        };
        if !next_is_empty {
            return;
        }
        let mut idx = idx;
        for _ in 0..self.slots.len() {
            let Some(slot) = self.slots.get(idx) else {
                return;
            };
            // Relaxed: as above.
            if slot.key.load(Ordering::Relaxed) != TOMBSTONE {
                return;
            }
            // Relaxed: EMPTY publishes nothing. Safe by the module invariant: the next slot is
            // EMPTY, so this slot lies in no live key's probe chain.
            slot.key.store(EMPTY, Ordering::Relaxed);
            self.tombstones.fetch_sub(1, Ordering::Relaxed);
            idx = self.prev_index(idx);
        }
    }

    /// Moves `key` to `target` if the table is accepting switches and `target` is the table's
    /// target. Lock-free; the caller runs it with preemption disabled (an RCU read-side critical
    /// section), which the reversal protocol relies on.
    ///
    /// Returns whether *this* call did the switch; the winner decrements `pending`, and the one
    /// that brings it to zero gets [`SwitchResult::SwitchedLast`] (queue the completion work).
    ///
    /// # Ordering argument (reversal)
    ///
    /// The reversal is: `stop_switching()` (stores `accepting = false`), a grace period
    /// (`synchronize_rcu`), `reverse()` (flips `target`, recounts `pending`), `start_switching()`
    /// (Release store of `accepting = true`). This function loads `accepting` **first** (Acquire)
    /// and `target` **after** it:
    /// * If it reads the `true` stored by `start_switching`, the Acquire pairs with that Release,
    ///   so it also reads the flipped target and acts consistently with the recounted `pending`.
    /// * If it reads the `true` from before `stop_switching`, its critical section began before
    ///   the grace period (one that began after would see `false`), so it ends, CAS and decrement
    ///   included, before the grace period does, hence before `reverse` loads the states and
    ///   rewrites `target` and `pending`: it read the old target and its decrement is overwritten
    ///   by the recount, which sees its CAS.
    /// * Otherwise it reads `false` and refuses.
    ///
    /// The opposite order (target, then accepting) is **wrong**: a call that starts after the
    /// grace period began but reads the old target before `reverse`, and is then delayed (IRQ,
    /// NMI, vCPU preemption) past `start_switching`, would read `accepting = true` and move the
    /// task to the *old* target, decrementing the recounted `pending` for a task that now counts
    /// as pending. (The design draft said "check accepting after loading target"; this is the
    /// corrected order.)
    ///
    /// The grace period must cover every caller: call this only where RCU is watching (not from
    /// the idle loop after `rcu_idle_enter`/`ct_idle_enter`), or drain with something stronger.
    pub fn switch_task(&self, key: usize, target: Universe) -> SwitchResult {
        // Seeded bug for the loom test only (`--cfg lg_seed_target_first`, never in the kernel):
        // the wrong order, target before `accepting`, which `tests/loom.rs` must catch.
        #[cfg(lg_seed_target_first)]
        let table_target = self.load_target(Ordering::Relaxed);
        // Acquire: pairs with the Release store in `start_switching` (publishes the target and
        // `pending` written by `reverse`). Must come before the target load; see above.
        if !self.accepting.load(Ordering::Acquire) {
            return SwitchResult::Refused;
        }
        // Relaxed: ordered after the Acquire load of `accepting` above, which is what matters.
        #[cfg(not(lg_seed_target_first))]
        let table_target = self.load_target(Ordering::Relaxed);
        if table_target != target {
            return SwitchResult::Refused;
        }
        let Some(slot) = self.find(key) else {
            return SwitchResult::NotTracked;
        };
        // AcqRel on success: the Release half pairs with the Acquire state load in `lookup`; the
        // Acquire half orders us after the state's previous writer (insert or another switcher).
        // Acquire on failure: we report what we saw.
        match slot.state.compare_exchange(
            target.opposite().encode(),
            target.encode(),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                // AcqRel: the decrements form a release sequence; the caller that takes
                // `pending` to zero acquires every earlier switcher's CAS before it queues the
                // completion work, and `pending()` readers pair with it. A decrement below zero
                // (impossible while the counting rules hold) would wrap to a huge value and stall
                // the transition rather than complete it early.
                if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
                    SwitchResult::SwitchedLast
                } else {
                    SwitchResult::Switched
                }
            }
            Err(cur) => failed_switch(cur, target),
        }
    }

    /// Stops `switch_task` from switching (returns [`SwitchResult::Refused`]). Step 1 of the
    /// reversal and of teardown; the caller then waits for a grace period before `reverse` or
    /// before freeing the slots.
    pub fn stop_switching(&self) {
        // Relaxed: the ordering against in-flight switchers is provided by the caller's grace
        // period (synchronize_rcu implies full barriers); see `switch_task`.
        self.accepting.store(false, Ordering::Relaxed);
    }

    /// Lets `switch_task` switch tasks (at transition start and after `reverse`).
    pub fn start_switching(&self) {
        // Release: pairs with the Acquire load of `accepting` in `switch_task`: a switcher that
        // sees `true` sees the target and `pending` written before (by `reverse`).
        self.accepting.store(true, Ordering::Release);
    }

    /// Reverses the transition: flips the target and recounts `pending` by a full scan. Returns
    /// the new pending count (0: every task is already in the new target; queue the completion).
    ///
    /// **Caller holds the mutation lock**, has called [`TaskTable::stop_switching`] and waited
    /// for in-flight switchers (grace period). Call [`TaskTable::start_switching`] afterwards.
    /// Mirrors upstream `klp_reverse_transition`. Untracked tasks are in the default universe and
    /// never pending.
    pub fn reverse(&self) -> Result<usize, ReverseError> {
        // Relaxed: we only guard against a caller forgetting `stop_switching`; the grace period
        // orders everything else.
        if self.accepting.load(Ordering::Relaxed) {
            return Err(ReverseError::StillAccepting);
        }
        let new_target = self.load_target(Ordering::Relaxed).opposite();
        // Relaxed: published to switchers by the Release in `start_switching`, to inserters by
        // the mutation lock.
        self.target.store(new_target.encode(), Ordering::Relaxed);
        let count = self.count_not_in(new_target);
        // Release: pairs with the Acquire load in `pending()`.
        self.pending.store(count, Ordering::Release);
        Ok(count)
    }

    /// Moves every tracked task to the target (upstream `force`: unsafe for consistency, the
    /// patch module can never be unloaded afterwards). Returns the number of tasks this call
    /// moved; afterwards `pending()` is 0.
    ///
    /// **Caller holds the mutation lock.** Safe against concurrent `switch_task`: each task is
    /// moved by a CAS, and only the winner decrements `pending`.
    pub fn force_all(&self) -> usize {
        // Relaxed: `target` is only written under the mutation lock, which we hold.
        let target = self.load_target(Ordering::Relaxed);
        let mut moved: usize = 0;
        for slot in self.slots {
            // Acquire: pairs with the Release key store in `insert` (we hold the lock, so this
            // is belt and braces).
            let k = slot.key.load(Ordering::Acquire);
            if !Self::valid_key(k) {
                continue;
            }
            // AcqRel/Acquire: same pairing as the CAS in `switch_task`.
            if slot
                .state
                .compare_exchange(
                    target.opposite().encode(),
                    target.encode(),
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
            {
                // AcqRel: part of the RMW chain on `pending`; see `switch_task`.
                self.pending.fetch_sub(1, Ordering::AcqRel);
                moved = moved.wrapping_add(1);
            }
        }
        moved
    }

    /// Whether the table should be rebuilt: its load (live + tombstones) exceeds 1/2 of the
    /// capacity. Inserts are refused above 3/4 (forks above 7/8), so the rebuild work has the
    /// rest of the table as slack. Lock-free (approximate without the mutation lock).
    pub fn needs_rebuild(&self) -> bool {
        self.live().wrapping_add(self.tombstones()) > self.slots.len() / 2
    }

    /// Copies every live entry into a new table over `slots` (empty, power of two), with the
    /// same default universe, target and pending count, no tombstones, and not accepting
    /// switches.
    ///
    /// **Caller holds the mutation lock**, has called [`TaskTable::stop_switching`] on `self`
    /// and waited for a grace period, so no state changes during the copy; `self` stays frozen
    /// (lookups on it remain correct) until it is freed. Then: publish the new table, call
    /// [`TaskTable::start_switching`] on it, wait for another grace period, free `self`'s slots.
    /// Size the new table with [`slots_for_tasks`] of the current task count. The size check
    /// ([`RebuildError::TooSmall`]) happens before anything is written to `slots`.
    pub fn rebuild_into<'b>(&self, slots: &'b [Slot]) -> Result<TaskTable<'b>, RebuildError> {
        // Relaxed: guards against a caller forgetting `stop_switching`; the grace period orders
        // everything else.
        if self.accepting.load(Ordering::Relaxed) {
            return Err(RebuildError::StillAccepting);
        }
        let new = TaskTable::new(slots, self.default_universe).map_err(RebuildError::New)?;
        if self.live() > new.max_load() {
            return Err(RebuildError::TooSmall);
        }
        // Relaxed: `new` is not shared yet; publication orders it.
        new.target
            .store(self.target.load(Ordering::Relaxed), Ordering::Relaxed);
        let mut lost: usize = 0;
        self.for_each_live(|key, universe| {
            if new.insert(key, universe).is_err() {
                lost = lost.wrapping_add(1);
            }
        });
        if lost != 0 {
            // Unreachable: `live <= max_load` and the keys are distinct.
            return Err(RebuildError::TooSmall);
        }
        Ok(new)
    }

    /// Counts, by a full scan, the live tasks not in `universe`. With `target()` this is the
    /// verification recount of `pending()` (exact when no mutation or switch runs concurrently).
    pub fn count_not_in(&self, universe: Universe) -> usize {
        let mut count: usize = 0;
        self.for_each_live(|_, u| {
            if u != universe {
                count = count.wrapping_add(1);
            }
        });
        count
    }

    /// Recount of `pending()` by a full scan; see [`TaskTable::count_not_in`].
    pub fn recount_pending(&self) -> usize {
        self.count_not_in(self.load_target(Ordering::Acquire))
    }

    /// Records that a return-to-user switch request is now outstanding for `key` (the kernel
    /// queued a task_work that switches the task on its way back to user mode). Returns `true`
    /// if this call set the mark, i.e. the caller should make the request, and `false` if one is
    /// outstanding already or `key` is not tracked. Lock-free, like [`TaskTable::lookup`].
    ///
    /// The mark is advisory: it only keeps the transition work from queueing a request per pass.
    /// [`TaskTable::clear_user_return`] (the request ran, or could not be made) lets the next pass
    /// ask again if the task is still pending; [`TaskTable::rebuild_into`] does not copy marks
    /// and [`TaskTable::insert`] clears a reused slot's, so at worst a task gets a second request,
    /// which finds it switched.
    pub fn mark_user_return(&self, key: usize) -> bool {
        match self.find(key) {
            // Relaxed: the mark orders nothing; a single location's modification order is
            // enough for "at most one caller sets it".
            Some(slot) => !slot.user_return.swap(true, Ordering::Relaxed),
            None => false,
        }
    }

    /// Clears `key`'s return-to-user mark (see [`TaskTable::mark_user_return`]). Lock-free; a
    /// key that is not tracked is ignored.
    pub fn clear_user_return(&self, key: usize) {
        if let Some(slot) = self.find(key) {
            // Relaxed: see `mark_user_return`.
            slot.user_return.store(false, Ordering::Relaxed);
        }
    }

    /// Whether `key` has a return-to-user mark. For tests and diagnostics.
    pub fn has_user_return(&self, key: usize) -> bool {
        // Relaxed: see `mark_user_return`.
        self.find(key).map_or(false, |s| s.user_return.load(Ordering::Relaxed))
    }

    /// Calls `f(key, universe)` for every live entry, in slot order. Lock-free: with concurrent
    /// mutations it sees each entry present for the whole scan, and may or may not see others.
    pub fn for_each_live(&self, mut f: impl FnMut(usize, Universe)) {
        for slot in self.slots {
            // Acquire: pairs with the Release key store in `insert`.
            let k = slot.key.load(Ordering::Acquire);
            if !Self::valid_key(k) {
                continue;
            }
            // Acquire: pairs with the Release half of the CAS in `switch_task`.
            if let Some(u) = Universe::decode(slot.state.load(Ordering::Acquire)) {
                f(k, u);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The race `switch_task` cannot show sequentially: its CAS finds the slot DEAD.
    #[test]
    fn failed_switch_tells_already_there_from_removed() {
        for target in [Universe::Patched, Universe::Unpatched] {
            assert_eq!(failed_switch(target.encode(), target), SwitchResult::AlreadyThere);
            assert_eq!(failed_switch(STATE_DEAD, target), SwitchResult::NotTracked);
        }
    }
}
