// SPDX-License-Identifier: GPL-2.0

//! Patched functions: version stacks and the per-task decision.
//!
//! Every kernel function livegraft patches is a [`Site`]: a direct call to
//! one of livegraft's trampolines (`direct.rs`; an IPMODIFY ftrace ops when
//! no trampoline is free) and a stack of [`Version`]s, newest on top,
//! one per patch that replaces the function. `Version::older` never changes
//! once a version is pushed, and only the top version is ever popped (a
//! patch that is not the newest on all of its functions cannot be disabled),
//! so the handler walks the stack without locks.
//!
//! The decision ([`lg_rust_redirect_target`], called by a trampoline in
//! decide mode, or by the fallback ftrace handler `lg_redirect_handler`):
//!
//! ```text
//!   top = site.top                          (Acquire; pairs with the Release in push/pop)
//!   if top.in_transition                    (Acquire; pairs with the Release in set_transition)
//!       universe = ACTIVE.table[current]    (ACTIVE published before in_transition was set)
//!       if universe == Unpatched: top = top.older    (or the original function)
//!   run top.new_addr
//! ```
//!
//! That rule is `logic::decide::select_version` (inlined), the function the
//! model test decides with.
//!
//! Who calls does not matter: a call of the patched function from one of
//! its replacements is a call like any other (recursion, as under upstream
//! livepatch). A replacement reaches the original through its
//! `LIVEGRAFT_ORIGINAL` stub, which enters it past the ftrace call site
//! (`orig_entry`, filled at enable by `core.rs`), so no decision sees that
//! call, however it is made: a tail call compiles to a jump, whose return
//! address is the replacement's caller (issue 13, item 2).
//!
//! Ordering of a patching transition (mirrors upstream klp_init_transition
//! and klp_complete_transition):
//!  1. the task table is filled and published in `ACTIVE` (Release);
//!  2. each version is marked `in_transition` *before* it is pushed, so the
//!     handler never sees a new version without its task lookup;
//!  3. on completion `in_transition` is cleared, then every context is
//!     synchronised before the table is freed and `ACTIVE` cleared.
//! Unpatching completion pops the version first, synchronises, and only then
//! frees it: the handler can never pick a removed or half-initialised
//! version. A site whose stack becomes empty is unregistered from ftrace
//! (unregistering waits until no CPU runs its trampoline or handler) before
//! it is freed.

use crate::direct::{self, Direct};
use crate::ftrace::{self, FtraceOps};
use crate::logic::decide;
use crate::symbols::Extent;
use crate::sys;
use crate::transition;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use kernel::prelude::*;
use kernel::str::CString;

/// One patch's replacement of one function: a node of a site's version stack.
pub(crate) struct Version {
    /// Address of the replacement function.
    pub(crate) new_addr: usize,
    /// Text range of the replacement (stack checks when unpatching).
    pub(crate) new_extent: Extent,
    /// The next older version; null means the original function. Written
    /// before the version is published by `push`, never afterwards.
    older: AtomicPtr<Version>,
    /// Whether this version belongs to the patch in transition.
    in_transition: AtomicBool,
}

impl Version {
    /// A version not yet on any stack.
    pub(crate) fn new(new_addr: usize, new_extent: Extent) -> Self {
        Version {
            new_addr,
            new_extent,
            older: AtomicPtr::new(core::ptr::null_mut()),
            in_transition: AtomicBool::new(false),
        }
    }

    /// A *nop* version of an atomic replace (`logic::replace`): its code is
    /// the original function (`new_addr` 0: the decision's "original"), so
    /// its text is the original's, `extent`.
    pub(crate) fn nop(extent: Extent) -> Self {
        Version::new(0, extent)
    }

    /// Whether this is a nop version.
    pub(crate) fn is_nop(&self) -> bool {
        self.new_addr == 0
    }

    /// Cuts the stack below this version once no decision can read it: at
    /// the end of an atomic replace, after `in_transition` was cleared and
    /// every context synchronised (the decision reads `older` only while
    /// the top is in transition), so the replaced versions below can go.
    pub(crate) fn detach_older(&self) {
        self.older.store(core::ptr::null_mut(), Ordering::Relaxed);
    }

    /// Marks or unmarks the version as part of the transition.
    pub(crate) fn set_transition(&self, on: bool) {
        // Release: pairs with the Acquire load in `lg_rust_redirect_target`; when setting, the
        // task table published in ACTIVE before this store is visible to a
        // handler that sees `true`.
        self.in_transition.store(on, Ordering::Release);
    }
}

/// How calls of a site's function reach the decision.
enum Route {
    /// A direct call to a trampoline (`direct.rs`).
    Direct(Direct),
    /// Fallback when no trampoline is free: an IPMODIFY ftrace ops whose
    /// handler makes the same decision on every call.
    Handler(FtraceOps),
}

/// A patched kernel function: how its calls are routed, and its version stack.
pub(crate) struct Site {
    /// Symbol name, for messages.
    pub(crate) name: CString,
    /// Text range of the original function.
    pub(crate) extent: Extent,
    top: AtomicPtr<Version>,
    route: Option<Route>,
}

impl Site {
    /// Creates a site for the function at `extent`, not yet redirecting.
    /// Boxed: the trampoline slot or the ftrace ops points at it.
    pub(crate) fn new(name: CString, extent: Extent) -> Result<KBox<Site>> {
        let mut site = KBox::new(
            Site { name, extent, top: AtomicPtr::new(core::ptr::null_mut()), route: None },
            GFP_KERNEL,
        )?;
        let private = site.private();
        // SAFETY: the site owns the direct call and drops it (which
        // unregisters it) before it is freed.
        site.route = Some(match unsafe { Direct::new(extent.start, private) } {
            Some(d) => Route::Direct(d),
            None => Route::Handler(FtraceOps::new(sys::lg_redirect_handler, private, ftrace::FLAGS_REDIRECT, extent.start)?),
        });
        Ok(site)
    }

    /// What the trampoline slot or the ftrace ops hands back to the
    /// decision ([`lg_rust_redirect_target`]): this site.
    fn private(&self) -> *mut c_void {
        (self as *const Site).cast_mut().cast::<c_void>()
    }

    /// The version on top of the stack, if any.
    pub(crate) fn top(&self) -> *const Version {
        // Acquire: pairs with the Release stores in `push`/`pop`.
        self.top.load(Ordering::Acquire)
    }

    /// Whether the stack is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.top().is_null()
    }

    /// The version below `version` on this site's stack (`None`: the
    /// original function).
    pub(crate) fn below<'a>(&'a self, version: &'a Version) -> Option<&'a Version> {
        // SAFETY: versions below the top stay alive while they are on the
        // stack, and a version is only freed after it was popped.
        unsafe { version.older.load(Ordering::Relaxed).as_ref() }
    }

    fn register(&mut self) -> Result {
        let res = match self.route.as_mut() {
            Some(Route::Direct(d)) => d.register(),
            Some(Route::Handler(ops)) => ops.register(),
            None => Err(EINVAL),
        };
        if let Err(e) = res {
            pr_err!("failed to register ftrace handler for function '{}' ({})\n", &*self.name, e.to_errno());
        }
        res
    }

    /// Pushes `version` (caller holds the registry mutex) and makes sure the
    /// function is routed to the decision.
    ///
    /// # Safety
    ///
    /// `version` must stay alive and pinned until it has been popped and
    /// [`crate::transition::synchronize_all`] has returned.
    pub(crate) unsafe fn push(&mut self, version: &Version) -> Result {
        version.older.store(self.top.load(Ordering::Relaxed), Ordering::Relaxed);
        // Release: pairs with the Acquire in `Site::top` (`lg_rust_redirect_target`); `older` and
        // `in_transition` written above are visible with the new top.
        self.top.store((version as *const Version).cast_mut(), Ordering::Release);
        if let Err(e) = self.register() {
            // Undo: nobody can have used the version, the ops never ran.
            self.top.store(version.older.load(Ordering::Relaxed), Ordering::Release);
            return Err(e);
        }
        Ok(())
    }

    /// Pops `version`, which must be on top (caller holds the registry mutex).
    /// The caller synchronises before freeing it.
    pub(crate) fn pop(&mut self, version: &Version) {
        let top = self.top.load(Ordering::Relaxed);
        if top.cast_const() != version as *const Version {
            pr_err!("BUG-CHECK: popping a version that is not on top of '{}'\n", &*self.name);
            return;
        }
        // Release: pairs with the Acquire in `Site::top` (`lg_rust_redirect_target`).
        self.top.store(version.older.load(Ordering::Relaxed), Ordering::Release);
    }

    /// Empties the stack at once (caller holds the registry mutex): at the
    /// end of an atomic replace, for a function whose top is a nop (every
    /// task runs the original already), and when the function's module goes
    /// (`objects.rs`). The caller then reaps the site: unregistering waits
    /// until no CPU uses the versions that were on it.
    pub(crate) fn clear(&mut self) {
        // Release: pairs with the Acquire in `Site::top` (`lg_rust_redirect_target`).
        self.top.store(core::ptr::null_mut(), Ordering::Release);
    }

    /// Routes every call through the per-task decision, for a transition:
    /// before the transition lets tasks switch (see `direct.rs`).
    pub(crate) fn enter_transition(&mut self) {
        if let Some(Route::Direct(d)) = self.route.as_mut() {
            d.decide();
        }
    }

    /// The retired fast path: once no transition runs on the function, its
    /// calls go straight to the top version. Only when the decision already
    /// returns the top for every task (not in transition).
    pub(crate) fn go_fast(&mut self) {
        let top = self.top();
        if top.is_null() || !direct::enabled() {
            return;
        }
        // SAFETY: the top version is alive while on the stack, and the
        // caller holds the registry mutex, so nothing pops it meanwhile.
        let v = unsafe { &*top };
        // A nop has no code of its own to jump to; it is gone once its
        // replace completes.
        if v.in_transition.load(Ordering::Acquire) || v.is_nop() {
            return;
        }
        if let Some(Route::Direct(d)) = self.route.as_mut() {
            d.fast(v.new_addr);
        }
    }

    /// Whether calls take the fast path (for the sysfs summary).
    pub(crate) fn is_fast(&self) -> bool {
        matches!(self.route.as_ref(), Some(Route::Direct(d)) if d.is_fast())
    }

    /// Unregisters everything once the stack is empty; on return no CPU
    /// runs the trampoline or the handler for this site.
    pub(crate) fn retire(&mut self) {
        match self.route.as_mut() {
            Some(Route::Direct(d)) => d.unregister(),
            Some(Route::Handler(ops)) => ops.unregister(),
            None => {}
        }
    }
}

/// The decision of the ftrace handler of every site (`lg_redirect_handler`
/// in the glue holds the recursion guard, with preemption disabled, around
/// this call and sets the instruction pointer) and of the trampolines in
/// decide mode (`lg_direct_decide`): the address of the version the current
/// task must run, or 0 for the original function. Runs on every call of a
/// patched function: no locks, no allocation, no printk, no panicking
/// operation.
#[no_mangle]
extern "C" fn lg_rust_redirect_target(site: *mut c_void, current_key: usize) -> usize {
    // SAFETY: `private` of the ops is the owning `Site`, which outlives the
    // registration of its ops (the ops is unregistered before it is freed).
    let site = unsafe { &*site.cast::<Site>() };
    // SAFETY (for the three derefs): a version reachable from a site's stack
    // is alive until it is popped and every CPU has been synchronised, which
    // cannot complete while we run with preemption disabled.
    let top = unsafe { site.top().as_ref() };
    let version = decide::select_version(
        top,
        // Acquire: pairs with the Release in `Version::set_transition`.
        |v: &Version| v.in_transition.load(Ordering::Acquire),
        || transition::universe_of(current_key),
        // SAFETY: as above; `older` is written before the version is pushed.
        |v: &Version| unsafe { v.older.load(Ordering::Relaxed).as_ref() },
    );
    version.map_or(0, |v| v.new_addr)
}
