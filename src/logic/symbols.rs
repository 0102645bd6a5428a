// SPDX-License-Identifier: GPL-2.0

//! Name resolution with upstream livepatch's semantics, and which lifecycle hooks livegraft can
//! run without.
//!
//! Pure logic (`core` only), compiled into the kernel module as a `#[path]` submodule and into
//! the host crate `livegraft-logic` for `cargo test`.
//!
//! # Symbol positions (`kernel/livepatch/core.c`, `klp_find_object_symbol`)
//!
//! A target is `(object, name, sympos)`. The kernel walks the symbols named `name` of that one
//! object only — `kallsyms_on_each_match_symbol()` for vmlinux (same-name symbols in address
//! order), `module_kallsyms_on_each_symbol(object)` for a module (its symbol table order) —
//! and feeds each address to [`Search::visit`], which counts them exactly as upstream's
//! `klp_match_callback` does and stops the walk where it does. [`Search::verdict`] then applies
//! upstream's checks:
//!
//! * sympos 0: the name must be unique in the object, else [`Resolution::Ambiguous`];
//! * sympos N > 0: the Nth symbol of that name, else [`Resolution::NoSuchPosition`];
//! * no symbol (or address 0): [`Resolution::NotFound`].
//!
//! Every symbol of that name counts, whatever its type, as upstream counts them.

/// The outcome of resolving one `(object, name, sympos)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// The symbol's address.
    Found(usize),
    /// No symbol of that name in the object: upstream's "symbol '%s' not found in symbol table".
    NotFound,
    /// sympos 0 and more than one symbol of that name: upstream's "unresolvable ambiguity for
    /// symbol '%s' in object '%s'".
    Ambiguous,
    /// sympos N > 0 and fewer than N symbols of that name: upstream's "symbol position %lu for
    /// symbol '%s' in object '%s' not found".
    NoSuchPosition,
}

/// One walk over the symbols of one name in one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Search {
    /// The wanted position (0: the name must be unique).
    pos: u64,
    /// Symbols of that name seen so far.
    count: u64,
    /// The address of the last one seen.
    addr: usize,
}

impl Search {
    /// A walk for position `sympos`.
    pub const fn new(sympos: u64) -> Self {
        Search { pos: sympos, count: 0, addr: 0 }
    }

    /// Records one symbol of the wanted name at `addr`, in the kernel's walk order; returns
    /// whether the walk can stop (upstream's `klp_match_callback` returning 1): the wanted
    /// position is reached, or, at sympos 0, a second symbol proves the name ambiguous.
    pub fn visit(&mut self, addr: usize) -> bool {
        self.addr = addr;
        self.count = self.count.saturating_add(1);
        (self.pos != 0 && self.count == self.pos) || (self.pos == 0 && self.count > 1)
    }

    /// Upstream's checks after the walk (in its order).
    pub fn verdict(&self) -> Resolution {
        if self.addr == 0 {
            Resolution::NotFound
        } else if self.count > 1 && self.pos == 0 {
            Resolution::Ambiguous
        } else if self.pos > 0 && self.pos != self.count {
            Resolution::NoSuchPosition
        } else {
            Resolution::Found(self.addr)
        }
    }
}

/// Resolves `sympos` among `addrs`, the addresses of every symbol of one name in one object in
/// the kernel's walk order (what [`Search`] does during the walk, for tests and callers that
/// already hold the list).
pub fn resolve_in(addrs: &[usize], sympos: u64) -> Resolution {
    let mut s = Search::new(sympos);
    for &a in addrs {
        if s.visit(a) {
            break;
        }
    }
    s.verdict()
}

/// Whether livegraft can work without a lifecycle hook (the kernel functions it hooks for its
/// whole life, see `src/safepoints.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// The per-task consistency model depends on it (fork and free tracking, the kernel
    /// threads' loop heads): without it livegraft refuses to load.
    Required,
    /// A safe point that only some kernel configurations have (`__cond_resched` is absent
    /// under full preemption, `__refrigerator` without the freezer, `hrtimer_interrupt`
    /// without high-resolution timers): when absent it is not hooked, and the tasks it would
    /// have switched switch by the other safe points.
    Optional,
}

/// What to do with one lifecycle hook, given how its name resolved in vmlinux (sympos 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookVerdict {
    /// Hook the function at this address.
    Use(usize),
    /// An optional hook this kernel does not have: not hooked.
    Absent,
    /// Refuse to load: a required hook is missing, or a name is ambiguous (hooking one
    /// arbitrary function of that name could read a wrong prototype's arguments).
    Fail,
}

/// The verdict for one hook.
pub fn hook_verdict(need: Need, found: Resolution) -> HookVerdict {
    match (found, need) {
        (Resolution::Found(addr), _) => HookVerdict::Use(addr),
        (Resolution::NotFound, Need::Optional) => HookVerdict::Absent,
        _ => HookVerdict::Fail,
    }
}

/// The addresses to hook (0 for an absent optional hook), in the order of `hooks`, or the index
/// of the first hook that makes livegraft refuse to load.
pub fn check_hooks<const N: usize>(hooks: &[(Need, Resolution); N]) -> Result<[usize; N], usize> {
    let mut addrs = [0usize; N];
    for (i, &(need, found)) in hooks.iter().enumerate() {
        match hook_verdict(need, found) {
            HookVerdict::Use(a) => {
                if let Some(slot) = addrs.get_mut(i) {
                    *slot = a;
                }
            }
            HookVerdict::Absent => {}
            HookVerdict::Fail => return Err(i),
        }
    }
    Ok(addrs)
}
