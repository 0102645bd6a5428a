// SPDX-License-Identifier: GPL-2.0

//! Atomic replace: a cumulative patch (`LIVEGRAFT_F_REPLACE`, upstream's
//! `klp_patch.replace`) replaces every patch enabled before it in one
//! transition (`Documentation/livepatch/cumulative-patches.rst`).
//!
//! At enable, each function that a replaced patch touches and the
//! cumulative patch does not (`logic::replace::reverted`) gets a *nop*
//! version in the cumulative patch, whose code is the original
//! (`Version::nop`). The transition is an ordinary patching transition of
//! the cumulative patch: its versions and nops are pushed on top of the
//! stacks, so a task in the unpatched universe runs the version below, the
//! top before the transition (the replaced patches' code), and a task in the
//! patched universe the new version or, through a nop, the original. The
//! stack checks see the replaced versions as old code and the originals on
//! both sides (`stack_verdict::affected_code`), so a task asleep in a
//! replaced version of a function the replace reverts waits, as for any
//! other function.
//!
//! When the transition completes (`finish_replace`) every task runs the top
//! versions: the stacks are cut below them, functions whose top is a nop are
//! unhooked, the replaced patches end disabled (their directories go and
//! their modules' references are dropped: they become removable) and the
//! nops are discarded. A reversal is the cumulative patch's unpatching
//! transition: its versions and nops are popped, and the replaced patches,
//! which were never touched, are exactly as before.

use super::*;
use crate::logic::replace::{at_replace_end, reverted, ReplaceEnd};

/// Identifies a function across patches: (object, function, sympos), sympos
/// 0 and 1 alike (a valid sympos 0 names a unique symbol, which is also its
/// first; upstream's `klp_find_func`).
pub(super) type Key<'a> = (&'a [u8], &'a [u8], u64);

pub(super) fn key<'a>(objects: &'a [PatchObject], f: &'a PatchFunc) -> Key<'a> {
    let obj = objects.get(f.obj).map_or(&b""[..], |o| o.name.as_bytes());
    (obj, f.name.as_bytes(), f.sympos.max(1))
}

impl Registry {
    /// The registered patches' indices, oldest first (their stack order).
    pub(super) fn in_stack_order(&self) -> Result<KVec<usize>> {
        let mut order = KVec::new();
        for (i, p) in self.patches.iter().enumerate() {
            if let Some(p) = p {
                order.push((p.id.0, i), GFP_KERNEL)?;
            }
        }
        order.sort_unstable_by_key(|&(id, _)| id);
        let mut out = KVec::with_capacity(order.len(), GFP_KERNEL)?;
        for &(_, i) in order.iter() {
            out.push(i, GFP_KERNEL)?;
        }
        Ok(out)
    }

    /// At the enable of a cumulative patch (no transition runs, so every
    /// registered patch is enabled): records them in `replaces` and adds to
    /// `funcs` a nop for each function only they touch, on the object of
    /// that name (appended to `objects`, `dynamic`, if the cumulative patch
    /// has none).
    pub(super) fn add_nops(
        &mut self,
        funcs: &mut KVec<PatchFunc>,
        objects: &mut KVec<PatchObject>,
        replaces: &mut KVec<PatchId>,
    ) -> Result {
        let order = self.in_stack_order()?;
        let mut older: KVec<Key<'_>> = KVec::new();
        let mut from: KVec<&PatchFunc> = KVec::new();
        let mut from_obj: KVec<&PatchObject> = KVec::new();
        for &i in order.iter() {
            let Some(Some(p)) = self.patches.get(i) else { continue };
            replaces.push(p.id, GFP_KERNEL)?;
            for f in p.funcs.iter() {
                older.push(key(&p.objects, f), GFP_KERNEL)?;
                from.push(f, GFP_KERNEL)?;
                from_obj.push(p.objects.get(f.obj).ok_or(EINVAL)?, GFP_KERNEL)?;
            }
        }
        let mut new: KVec<Key<'_>> = KVec::new();
        for f in funcs.iter() {
            new.push(key(objects, f), GFP_KERNEL)?;
        }
        let mut nops = KVec::new();
        for k in reverted(&older, &new) {
            let Some(at) = older.iter().position(|o| *o == k) else { continue };
            let (Some(f), Some(o)) = (from.get(at), from_obj.get(at)) else { continue };
            nops.push((*f as *const PatchFunc, *o as *const PatchObject), GFP_KERNEL)?;
        }
        drop(new);
        for &(f, o) in nops.iter() {
            // SAFETY: both point into registered patches, which nothing
            // removes while the registry mutex (held) is ours.
            let (f, o) = unsafe { (&*f, &*o) };
            let obj = match objects.iter().position(|x| x.name.as_bytes() == o.name.as_bytes()) {
                Some(j) => j,
                None => {
                    objects.push(
                        PatchObject {
                            name: CString::try_from(&*o.name)?,
                            module: o.module,
                            loaded: o.loaded,
                            dir: core::ptr::null_mut(),
                            dynamic: true,
                        },
                        GFP_KERNEL,
                    )?;
                    objects.len().wrapping_sub(1)
                }
            };
            // SAFETY: a non-null site outlives the versions on its stack.
            let extent = unsafe { f.site.as_ref() }.map_or(Extent { start: 0, end: 0 }, |s| s.extent);
            funcs.push(
                PatchFunc {
                    name: CString::try_from(&*f.name)?,
                    site: f.site,
                    version: KBox::new(Version::nop(extent), GFP_KERNEL)?,
                    obj,
                    sympos: f.sympos,
                    orig_entry: core::ptr::null_mut(),
                    nop: true,
                    dir: core::ptr::null_mut(),
                },
                GFP_KERNEL,
            )?;
        }
        Ok(())
    }

    /// Completes the patching transition of patch `id` if it replaces
    /// others (its versions left the transition just before): see the
    /// module comment.
    pub(super) fn finish_replace(&mut self, id: PatchId) {
        let Some(i) = self.patch_index(id) else { return };
        let Some(Some(p)) = self.patches.as_mut_slice().get_mut(i) else { return };
        if p.replaces.is_empty() {
            return;
        }
        let forced = p.state.forced;
        // After this no CPU is still in a decision that saw a new version in
        // transition, and every later one sees it out of transition (the
        // Release in `set_transition`) and never reads what is below it.
        // SAFETY: plain call in process context.
        unsafe { sys::lg_synchronize_all_contexts() };
        for f in p.funcs.iter() {
            // SAFETY: a non-null site outlives the versions on its stack;
            // the registry mutex is held.
            let Some(site) = (unsafe { f.site.as_mut() }) else { continue };
            // The same rule as the model test's.
            match at_replace_end(f.nop) {
                // Every task runs the original already: unhooked below.
                ReplaceEnd::Unhook => site.clear(),
                ReplaceEnd::CutOlder => f.version.detach_older(),
            }
        }
        let replaced = core::mem::replace(&mut p.replaces, KVec::new());
        for &r in replaced.iter() {
            if let Some(j) = self.patch_index(r) {
                if let Some(Some(q)) = self.patches.as_mut_slice().get_mut(j) {
                    q.pushed = false;
                    // A forced transition may leave tasks in the replaced
                    // code: their modules stay, as upstream forces all.
                    if forced {
                        q.state.forced = true;
                    }
                }
            }
            // Its directory goes and its module reference is dropped; the
            // sites it shared keep the cumulative patch's versions.
            // CALLBACKS: none for a replaced patch (cumulative-patches.rst:
            // only the new patch's callbacks run, at its own transition).
            self.drop_patch(r);
        }
        // The nop sites are empty: unregistering them waits until no CPU
        // uses a nop any more; then they are discarded.
        self.reap_sites();
        let Some(Some(p)) = self.patches.as_mut_slice().get_mut(i) else { return };
        // The nops' directories and those of the objects only they use go,
        // as upstream's `klp_discard_nops()` frees their kobjects: children
        // first, outside the mutex (the batch was allocated at enable).
        // Through the box once, so that its fields borrow apart.
        let p: &mut Patch = p;
        if let Some(mut t) = p.nop_teardown.take() {
            for f in p.funcs.as_mut_slice().iter_mut().filter(|f| f.nop && !f.dir.is_null()) {
                if let Some(d) = p.funcdirs.as_mut_slice().iter_mut().find(|d| **d == f.dir) {
                    *d = core::ptr::null_mut();
                }
                t.add(Deferred::PutKobj(f.dir));
                f.dir = core::ptr::null_mut();
            }
            for o in p.objects.as_mut_slice().iter_mut().filter(|o| o.dynamic && !o.dir.is_null()) {
                if let Some(d) = p.objdirs.as_mut_slice().iter_mut().find(|d| **d == o.dir) {
                    *d = core::ptr::null_mut();
                }
                t.add(Deferred::RemoveObjDir(o.dir));
                o.dir = core::ptr::null_mut();
            }
            self.defer(t);
        }
        let Some(Some(p)) = self.patches.as_mut_slice().get_mut(i) else { return };
        for f in p.funcs.as_mut_slice().iter_mut().filter(|f| f.nop) {
            f.site = core::ptr::null_mut();
        }
        let kept = p.funcs.iter().filter(|f| !f.nop).count();
        if let Ok(mut funcs) = KVec::with_capacity(kept, GFP_KERNEL) {
            for f in core::mem::replace(&mut p.funcs, KVec::new()).into_iter() {
                if !f.nop {
                    // Within the capacity: cannot fail.
                    let _ = funcs.push(f, GFP_KERNEL);
                }
            }
            p.funcs = funcs;
        }
        // (Without the memory, the nops stay, inert: no site, and never
        // pushed again outside a replace transition, see objects.rs.)
    }
}
