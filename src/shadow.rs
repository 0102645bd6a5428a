// SPDX-License-Identifier: GPL-2.0

//! Shadow variables: upstream's `kernel/livepatch/shadow.c` semantics
//! (Documentation/livepatch/shadow-vars.rst) behind the `livegraft_shadow_*`
//! exports of the glue (`klp_shadow_*` through the compatibility header).
//!
//! A shadow variable is data attached to any object by `<obj, id>`. The
//! table lives in livegraft.ko, so variables outlive the patch module that
//! allocated them (a later patch, or a replacing one, takes them over); at
//! livegraft's unload what is left is freed without destructors (their code
//! may be gone).
//!
//! The table is a fixed array of 4096 bucket chains (upstream: a 12-bit
//! `DEFINE_HASHTABLE` keyed by the object's address). Lookups are lock-free
//! under RCU, from any context a patched function may run in; insertions and
//! removals hold the glue's spinlock with interrupts disabled (upstream's
//! `klp_shadow_lock`), and the constructor runs under it, as upstream's does.
//! A removed entry is freed with `kfree_rcu()` after the destructor ran.
//!
//! Barrier pairs: a writer publishes a new entry (fully initialised, its
//! constructor run) with a Release store of the bucket head or of its
//! predecessor's `next`; readers load every `next` with Acquire, which pairs
//! with it (upstream: `hlist_add_head_rcu()`'s `rcu_assign_pointer()` and
//! `hlist_for_each_entry_rcu()`'s `rcu_dereference()`). An unlink stores the
//! successor with Release too; a reader still on the unlinked entry follows
//! its unchanged `next`, and the entry is freed only after a grace period.

use crate::sys;
use kernel::ffi::{c_int, c_uint, c_ulong, c_void};
use core::sync::atomic::{AtomicPtr, Ordering};

const BITS: u32 = 12;
const BUCKETS: usize = 1 << BITS;

type Entry = sys::lg_shadow;
type Ctor = Option<unsafe extern "C" fn(*mut c_void, *mut c_void, *mut c_void) -> c_int>;
type Dtor = Option<unsafe extern "C" fn(*mut c_void, *mut c_void)>;

static TABLE: [AtomicPtr<Entry>; BUCKETS] = [const { AtomicPtr::new(core::ptr::null_mut()) }; BUCKETS];

/// The bucket of an object: `hash_min()` of its address, as upstream
/// (`hash_long()`: the golden-ratio multiplication, top `BITS` bits).
fn bucket(obj: *mut c_void) -> &'static AtomicPtr<Entry> {
    const GOLDEN_RATIO_64: u64 = 0x61C8_8646_80B5_83EB;
    let h = (obj as u64).wrapping_mul(GOLDEN_RATIO_64) >> (64 - BITS);
    // `h` < BUCKETS by construction; the fallback is never taken.
    TABLE.get(h as usize).unwrap_or(&TABLE[0])
}

/// The `next` link of an entry as an atomic.
///
/// # Safety
///
/// `e` must be a live entry (reachable, or unlinked less than a grace
/// period ago for a reader under RCU).
unsafe fn next_of<'a>(e: *mut Entry) -> &'a AtomicPtr<Entry> {
    // SAFETY: `next` is a pointer-sized, aligned field of a live entry that
    // is only ever accessed atomically after its publication.
    unsafe { AtomicPtr::from_ptr(core::ptr::addr_of_mut!((*e).next)) }
}

/// Finds `<obj, id>`: under RCU or with the lock held.
fn find(obj: *mut c_void, id: c_ulong) -> *mut Entry {
    // Acquire: pairs with the Release publication in `get_or_alloc` and the
    // Release unlink in `unlink`.
    let mut e = bucket(obj).load(Ordering::Acquire);
    while !e.is_null() {
        // SAFETY: `e` was reached from the table under RCU or the lock, so it
        // is live (freed only a grace period after its unlinking).
        let (o, i) = unsafe { ((*e).obj, (*e).id) };
        if o == obj && i == id {
            return e;
        }
        // SAFETY: as above. Acquire: the same pairs.
        e = unsafe { next_of(e) }.load(Ordering::Acquire);
    }
    core::ptr::null_mut()
}

/// The data of an entry.
fn data_of(e: *mut Entry) -> *mut c_void {
    // SAFETY: `data` is the flexible array at the end of a live entry.
    unsafe { core::ptr::addr_of_mut!((*e).data).cast::<c_void>() }
}

/// `klp_shadow_get()`: the data of `<obj, id>`, or null.
#[no_mangle]
extern "C" fn lg_rust_shadow_get(obj: *mut c_void, id: c_ulong) -> *mut c_void {
    // SAFETY: plain calls; the entry is not freed before the unlock.
    unsafe { sys::lg_rcu_read_lock() };
    let e = find(obj, id);
    let d = if e.is_null() { core::ptr::null_mut() } else { data_of(e) };
    // SAFETY: pairs with the lock above.
    unsafe { sys::lg_rcu_read_unlock() };
    d
}

/// `klp_shadow_alloc()` (`warn_on_exist`) and `klp_shadow_get_or_alloc()`.
#[no_mangle]
extern "C" fn lg_rust_shadow_get_or_alloc(
    obj: *mut c_void,
    id: c_ulong,
    size: usize,
    gfp_flags: c_uint,
    ctor: Ctor,
    ctor_data: *mut c_void,
    warn_on_exist: bool,
) -> *mut c_void {
    let existing = lg_rust_shadow_get(obj, id);
    if !existing.is_null() {
        return exists(obj, id, existing, warn_on_exist);
    }
    // Speculative allocation outside the lock, with the caller's flags (it
    // knows its context); zeroed, the constructor does the rest.
    // SAFETY: plain call.
    let new = unsafe { sys::lg_shadow_new(size, gfp_flags) };
    if new.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: plain call; unlocked below on every path.
    let flags = unsafe { sys::lg_shadow_lock() };
    let raced = find(obj, id);
    if !raced.is_null() {
        // SAFETY: pairs with the lock; `new` was never published.
        unsafe {
            sys::lg_shadow_unlock(flags);
            sys::lg_shadow_kfree(new);
        }
        return exists(obj, id, data_of(raced), warn_on_exist);
    }
    // SAFETY: `new` is ours until published.
    unsafe {
        (*new).obj = obj;
        (*new).id = id;
    }
    if let Some(ctor) = ctor {
        // Under the lock, as upstream: the constructor sees a variable no one
        // else can see yet, and no second one for <obj, id> can be made.
        // SAFETY: the patch module's constructor, with upstream's arguments.
        let err = unsafe { ctor(obj, data_of(new), ctor_data) };
        if err != 0 {
            // SAFETY: pairs with the lock; `new` was never published.
            unsafe {
                sys::lg_shadow_unlock(flags);
                sys::lg_shadow_kfree(new);
                sys::lg_shadow_ctor_failed(obj, id, err);
            }
            return core::ptr::null_mut();
        }
    }
    let head = bucket(obj);
    // SAFETY: `new` is unpublished; relaxed is enough for its own field.
    unsafe { next_of(new) }.store(head.load(Ordering::Relaxed), Ordering::Relaxed);
    // Release: publishes the initialised entry; pairs with the Acquire
    // loads in `find`.
    head.store(new, Ordering::Release);
    // SAFETY: pairs with the lock.
    unsafe { sys::lg_shadow_unlock(flags) };
    data_of(new)
}

fn exists(obj: *mut c_void, id: c_ulong, data: *mut c_void, warn_on_exist: bool) -> *mut c_void {
    if warn_on_exist {
        // SAFETY: plain call (a message, as upstream's WARN).
        unsafe { sys::lg_shadow_duplicate(obj, id) };
        return core::ptr::null_mut();
    }
    data
}

/// Unlinks `e` (lock held), runs the destructor and frees it after a grace
/// period (upstream's `klp_shadow_free_struct()`).
///
/// # Safety
///
/// The shadow lock is held and `e` is linked in `bucket(e.obj)`.
unsafe fn unlink(e: *mut Entry, dtor: Dtor) {
    // SAFETY: `e` is linked, hence live.
    let obj = unsafe { (*e).obj };
    let head = bucket(obj);
    let mut link: &AtomicPtr<Entry> = head;
    loop {
        let cur = link.load(Ordering::Relaxed);
        if cur.is_null() {
            return;
        }
        if cur == e {
            // SAFETY: `e` is live.
            let next = unsafe { next_of(e) }.load(Ordering::Relaxed);
            // Release: pairs with the Acquire loads in `find` (a reader
            // reaching `next` this way sees it initialised).
            link.store(next, Ordering::Release);
            break;
        }
        // SAFETY: `cur` is linked, hence live; the lock keeps it so.
        link = unsafe { next_of(cur) };
    }
    if let Some(dtor) = dtor {
        // SAFETY: the patch module's destructor, with upstream's arguments.
        unsafe { dtor(obj, data_of(e)) };
    }
    // SAFETY: unlinked; readers that still see it are under RCU.
    unsafe { sys::lg_shadow_kfree_rcu(e) };
}

/// `klp_shadow_free()`.
#[no_mangle]
extern "C" fn lg_rust_shadow_free(obj: *mut c_void, id: c_ulong, dtor: Dtor) {
    // SAFETY: plain call; unlocked below.
    let flags = unsafe { sys::lg_shadow_lock() };
    let e = find(obj, id);
    if !e.is_null() {
        // SAFETY: the lock is held and `e` was found linked.
        unsafe { unlink(e, dtor) };
    }
    // SAFETY: pairs with the lock.
    unsafe { sys::lg_shadow_unlock(flags) };
}

/// `klp_shadow_free_all()`: every variable of `id`, whatever its object.
#[no_mangle]
extern "C" fn lg_rust_shadow_free_all(id: c_ulong, dtor: Dtor) {
    // SAFETY: plain call; unlocked below.
    let flags = unsafe { sys::lg_shadow_lock() };
    for head in TABLE.iter() {
        let mut e = head.load(Ordering::Relaxed);
        while !e.is_null() {
            // SAFETY: linked, hence live; read `next` before `e` goes.
            let (next, i) = unsafe { (next_of(e).load(Ordering::Relaxed), (*e).id) };
            if i == id {
                // SAFETY: the lock is held and `e` is linked.
                unsafe { unlink(e, dtor) };
            }
            e = next;
        }
    }
    // SAFETY: pairs with the lock.
    unsafe { sys::lg_shadow_unlock(flags) };
}

/// At livegraft's unload: no patch module is loaded (they depend on our
/// exports), so nothing can look the table up; free what is left, without
/// destructors (their code may be gone), as a leak would otherwise remain.
pub(crate) fn release_all() {
    let mut left = 0usize;
    for head in TABLE.iter() {
        let mut e = head.swap(core::ptr::null_mut(), Ordering::Relaxed);
        while !e.is_null() {
            // SAFETY: unreachable now and never looked up again.
            let next = unsafe { next_of(e) }.load(Ordering::Relaxed);
            // SAFETY: as above.
            unsafe { sys::lg_shadow_kfree(e) };
            left = left.wrapping_add(1);
            e = next;
        }
    }
    if left > 0 {
        kernel::pr_info!("freed {} shadow variables left at unload\n", left);
    }
}
