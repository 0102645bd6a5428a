// SPDX-License-Identifier: GPL-2.0

//! Objects that are modules loaded later (upstream's `klp_module_coming()`
//! and `klp_module_going()`, `kernel/livepatch/core.c`).
//!
//! A patch may name a module that is not loaded: its functions are kept
//! unresolved (no site). A module notifier of the highest priority
//! (`lg_module_notify` in the glue) runs where upstream calls
//! `klp_module_coming()`: in `prepare_coming_module()`, after
//! `ftrace_module_enable()` and before the module's init. For every patch
//! with an object of that name, oldest first, livegraft resolves the
//! functions, fills their `LIVEGRAFT_ORIGINAL` words, and pushes the
//! versions, so the init already runs patched code. During a transition the
//! versions of the patch in transition are pushed in transition: a task
//! runs them or the version below according to its universe, as for the
//! patch's other functions (upstream sets `func->transition` on every
//! object at `klp_init_transition()`). An error refuses the load. When the
//! module goes (after its exit, before `ftrace_release_mod()`), its
//! functions' sites are emptied and unhooked; the next load starts over.
//!
//! The stack checks of a transition that is running when an object loads
//! include that object's functions from then on (`Active::add_late_code`),
//! as upstream's `klp_check_stack()` checks every patched object.

use super::*;
use crate::callbacks::{self, Objects};
use crate::logic::replace::{coming, Coming};
use crate::logic::stack_verdict::{late_code, CodeOf};

/// Upstream's `klp_patch.mod->name` is the patch's name in livegraft.
impl Registry {
    /// Under the registry mutex, at enable: a module object may have come or
    /// gone since `parse` looked without the mutex. One that went (its
    /// GOING notification ran: `going`) counts as not loaded; one that came
    /// is resolved now.
    pub(super) fn recheck_objects(&mut self, parsed: &mut Parsed) -> Result {
        for (j, (oname, module, loaded)) in parsed.objects.as_mut_slice().iter_mut().enumerate() {
            if !*module {
                continue;
            }
            let now = symbols::module_loaded(oname) && !self.going.iter().any(|g| g.as_bytes() == oname.as_bytes());
            if now == *loaded {
                continue;
            }
            *loaded = now;
            for f in parsed.funcs.as_mut_slice().iter_mut().filter(|f| f.obj == j) {
                f.old = if now { Some(resolve(&parsed.name, Some(oname), &f.name, f.sympos)?) } else { None };
            }
            if now {
                for f in parsed.funcs.iter().filter(|f| f.obj == j) {
                    if let Some(old) = f.old {
                        fill_orig_entry(&parsed.name, &f.name, f.orig_entry, old.start)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// `MODULE_STATE_COMING` of module `m`.
    fn module_coming(&mut self, m: &CStr) -> Result {
        // A module of that name loads again: it is no longer going.
        if let Some(k) = self.going.iter().position(|g| g.as_bytes() == m.as_bytes()) {
            let rest = core::mem::replace(&mut self.going, KVec::new());
            for (n, g) in rest.into_iter().enumerate() {
                if n != k {
                    let _ = self.going.push(g, GFP_KERNEL);
                }
            }
        }
        let order = self.in_stack_order()?;
        let transition_patch = self.running.as_ref().map(|r| r.patch).or(match self.state {
            TransitionState::Initializing { patch, .. } => Some(patch),
            _ => None,
        });
        let mut any = false;
        for &i in order.iter() {
            let res = self.object_coming(i, m, transition_patch);
            match res {
                Ok(pushed) => any |= pushed,
                Err(e) => {
                    let pname = self.patch_name(i);
                    pr_warn!("patch '{}' failed for module '{}', refusing to load module '{}'\n", pname, m, m);
                    // Undo what the earlier patches did (upstream's
                    // klp_cleanup_module_patches_limited()), then what
                    // this one may have begun.
                    self.revert_objects(m, Some(i));
                    self.module_going_quiet(m);
                    // No GOING follows a refused COMING; the module stays in
                    // kallsyms until it is freed.
                    if let Ok(n) = CString::try_from(m) {
                        let _ = self.going.push(n, GFP_KERNEL);
                    }
                    return Err(e);
                }
            }
        }
        if any {
            // The new sites take the fast path once no transition runs.
            // SAFETY: plain call.
            unsafe { sys::lg_schedule_transition_work(0) };
        }
        Ok(())
    }

    /// Patches `m`'s object of patch `i`, if it has one: whether it did.
    fn object_coming(&mut self, i: usize, m: &CStr, transition_patch: Option<PatchId>) -> Result<bool> {
        let Some(Some(p)) = self.patches.get(i) else { return Ok(false) };
        let Some(j) = p.objects.iter().position(|o| o.module && !o.loaded && o.name.as_bytes() == m.as_bytes()) else {
            return Ok(false);
        };
        let in_transition = transition_patch == Some(p.id);
        let objs = p.objs;
        let (replacing, pushed_versions) = (!p.replaces.is_empty(), p.pushed);
        // What happens to each function (`logic::replace::coming`, as the
        // model test): nops only exist during their replace transition.
        let what = |f: &PatchFunc| coming(f.nop, replacing, pushed_versions, in_transition);
        let wanted = |f: &PatchFunc| f.obj == j && what(f) != Coming::Skip;
        // An object of the descriptor is applied even without functions
        // (callbacks only), as upstream's klp_module_coming() applies it.
        if !p.funcs.iter().any(wanted) && objs.find(m).is_none() {
            return Ok(false);
        }
        let pname = self.patch_name(i);
        // Resolve everything first: a failure changes nothing.
        let mut resolved = KVec::new();
        for (k, f) in p.funcs.iter().enumerate().filter(|(_, f)| wanted(f)) {
            let old = match resolve(&p.name, Some(m), &f.name, f.sympos) {
                Ok(e) => e,
                Err(e) => {
                    pr_warn!("failed to initialize patch '{}' for module '{}' ({})\n", pname, m, e.to_errno());
                    return Err(e);
                }
            };
            fill_orig_entry(&p.name, &f.name, f.orig_entry, old.start)?;
            resolved.push((k, old), GFP_KERNEL)?;
        }
        pr_info!("applying patch '{}' to loading module '{}'\n", pname, m);
        // ftrace must stay on while anything is patched (core.rs,
        // `pin_ftrace`): with `kernel.ftrace_enabled` 0 the load is refused,
        // as upstream's PERMANENT ops refuses it.
        if p.pushed && self.anchor.is_none() {
            match crate::direct::PermanentAnchor::new() {
                Ok(a) => self.anchor = Some(a),
                Err(e) => {
                    let first = resolved.first().and_then(|&(k, _)| p.funcs.get(k)).map_or(c_str!("?"), |f| &*f.name);
                    pr_err!("failed to register ftrace handler for function '{}' ({})\n", first, e.to_errno());
                    pr_warn!("failed to apply patch '{}' to module '{}' ({})\n", pname, m, e.to_errno());
                    return Err(e);
                }
            }
        }
        // CALLBACKS: pre-patch callback of the object here (upstream:
        // klp_pre_patch_callback(obj); its failure refuses the load).
        if let Err(e) = object_callback(ObjectEvent::PrePatch, objs, m) {
            pr_warn!("pre-patch callback failed for object '{}'\n", m);
            return Err(e);
        }
        for &(k, old) in resolved.iter() {
            let Some(f) = self.patches.get(i).and_then(|p| p.as_ref()).and_then(|p| p.funcs.get(k)) else { continue };
            let name = CString::try_from(&*f.name)?;
            let site = match self.site_for(old.start, &name, old) {
                Ok(s) => s,
                Err(e) => {
                    pr_warn!("failed to apply patch '{}' to module '{}' ({})\n", pname, m, e.to_errno());
                    // CALLBACKS: post-unpatch callback of the object here.
                    object_callback(ObjectEvent::PostUnpatch, objs, m).ok();
                    return Err(e);
                }
            };
            let Some(Some(p)) = self.patches.as_mut_slice().get_mut(i) else { continue };
            let Some(f) = p.funcs.as_mut_slice().get_mut(k) else { continue };
            f.site = site;
            if f.nop {
                // A nop's code is the original, known only now.
                if let Some(v) = KBox::new(Version::nop(old), GFP_KERNEL).ok() {
                    f.version = v;
                }
            }
            let Coming::Push { in_transition } = what(f) else { continue };
            if in_transition {
                // The transition's stack checks must see this function from
                // now on, on both sides (`stack_verdict::late_code`): its
                // original, this version (a nop's is the original) and the
                // version below it.
                if let Some(run) = self.running.as_ref() {
                    let a = run.transition.active();
                    // SAFETY: the site is alive; the mutex is held.
                    let below = unsafe { (*site).top().as_ref() };
                    for code in late_code(below, &*f.version) {
                        let e = match code {
                            CodeOf::Version(v) => v.new_extent,
                            CodeOf::Original => old,
                        };
                        if let Err(err) = a.add_late_code(e) {
                            pr_warn!(
                                "failed to apply patch '{}' to module '{}': too many functions loaded during one transition\n",
                                pname,
                                m
                            );
                            // CALLBACKS: post-unpatch callback of the object here.
                            object_callback(ObjectEvent::PostUnpatch, objs, m).ok();
                            return Err(err);
                        }
                    }
                }
            }
            // Marked before pushed (patch.rs: ordering 2); the table of the
            // running transition is published already.
            f.version.set_transition(in_transition);
            // SAFETY: the version lives in the patch until it is popped (or
            // its site emptied) and every context synchronised; the site
            // is fresh (its module just loaded), so this is its only stack.
            let res = unsafe { (*site).push(&f.version) };
            if let Err(e) = res {
                pr_warn!("failed to apply patch '{}' to module '{}' ({})\n", pname, m, e.to_errno());
                // CALLBACKS: post-unpatch callback of the object here.
                object_callback(ObjectEvent::PostUnpatch, objs, m).ok();
                return Err(e);
            }
            if in_transition {
                // SAFETY: as above; the mutex is held.
                unsafe { (*site).enter_transition() };
            }
        }
        if let Some(Some(p)) = self.patches.as_mut_slice().get_mut(i) {
            if let Some(o) = p.objects.as_mut_slice().get_mut(j) {
                o.loaded = true;
            }
        }
        if !in_transition {
            // CALLBACKS: post-patch callback of the object here (upstream:
            // not for the patch in transition, whose completion runs it).
            object_callback(ObjectEvent::PostPatch, objs, m).ok();
        }
        Ok(true)
    }

    /// `MODULE_STATE_GOING` of module `m` (after its exit, or a failed
    /// load): every patch's object of that name is reverted.
    fn module_going(&mut self, m: &CStr) {
        if !self.going.iter().any(|g| g.as_bytes() == m.as_bytes()) {
            if let Ok(n) = CString::try_from(m) {
                let _ = self.going.push(n, GFP_KERNEL);
            }
        }
        self.revert_objects(m, None);
    }

    /// Reverts the loaded objects named `m` of every patch, oldest first,
    /// up to (not including) patch index `limit`, with upstream's messages
    /// and callbacks (`klp_cleanup_module_patches_limited()`).
    fn revert_objects(&mut self, m: &CStr, limit: Option<usize>) {
        let order = match self.in_stack_order() {
            Ok(o) => o,
            Err(_) => KVec::new(),
        };
        let transition_patch = self.running.as_ref().map(|r| r.patch);
        for &i in order.iter() {
            if Some(i) == limit {
                break;
            }
            let Some(Some(p)) = self.patches.get(i) else { continue };
            let Some(j) = p.objects.iter().position(|o| o.loaded && o.module && o.name.as_bytes() == m.as_bytes()) else {
                continue;
            };
            let pname = self.patch_name(i);
            let objs = p.objs;
            if transition_patch != Some(p.id) {
                // CALLBACKS: pre-unpatch callback of the object here (upstream:
                // not for the patch in transition).
                object_callback(ObjectEvent::PreUnpatch, objs, m).ok();
            }
            pr_info!("reverting patch '{}' on unloading module '{}'\n", pname, m);
            self.detach_object(i, j);
            // CALLBACKS: post-unpatch callback of the object here.
            object_callback(ObjectEvent::PostUnpatch, objs, m).ok();
        }
        // Unregistering waits until no CPU runs the versions of the emptied
        // sites, before ftrace forgets the module (ftrace_release_mod()).
        self.reap_sites();
    }

    /// Undoes a COMING that failed half-way, without messages: the failing
    /// patch's object (the earlier ones were reverted with messages).
    fn module_going_quiet(&mut self, m: &CStr) {
        let order = match self.in_stack_order() {
            Ok(o) => o,
            Err(_) => KVec::new(),
        };
        for &i in order.iter() {
            let Some(Some(p)) = self.patches.get(i) else { continue };
            let Some(j) = p.objects.iter().position(|o| o.module && o.name.as_bytes() == m.as_bytes()) else { continue };
            self.detach_object(i, j);
        }
        self.reap_sites();
    }

    /// Empties the sites of object `j` of patch `i` and forgets them (the
    /// caller reaps them). Every version on such a site belongs to an
    /// object of the same module, of this or another patch.
    fn detach_object(&mut self, i: usize, j: usize) {
        let Some(Some(p)) = self.patches.as_mut_slice().get_mut(i) else { return };
        for f in p.funcs.as_mut_slice().iter_mut().filter(|f| f.obj == j) {
            // SAFETY: a non-null site is alive until reaped; mutex held.
            if let Some(site) = unsafe { f.site.as_mut() } {
                site.clear();
            }
            f.site = core::ptr::null_mut();
        }
        if let Some(o) = p.objects.as_mut_slice().get_mut(j) {
            o.loaded = false;
        }
    }

    /// `<object>/patched`.
    fn object_patched(&self, kobj: *mut sys::kobject) -> Option<bool> {
        self.patches.iter().flatten().find_map(|p| {
            p.objects.iter().find(|o| o.dir == kobj).map(|o| p.pushed && o.loaded)
        })
    }
}

/// The object events of upstream's callbacks (Documentation/livepatch/callbacks.rst).
#[derive(Clone, Copy)]
enum ObjectEvent {
    PrePatch,
    PostPatch,
    PreUnpatch,
    PostUnpatch,
}

/// Runs the callbacks of a coming or going module's object of a patch
/// whose descriptor objects are `objs` (src/callbacks.rs): the descriptor's
/// object of that name, if it has one (the objects `replace.rs` adds for
/// nops have none), with its engine fields (`obj->mod`, `obj->patched`)
/// kept as upstream keeps them. The registry mutex is held.
fn object_callback(event: ObjectEvent, objs: Objects, object: &CStr) -> Result {
    let Some(o) = objs.find(object) else { return Ok(()) };
    // SAFETY (every call below): `o` is an object of a registered patch's
    // descriptor in its pinned module, and the registry mutex is held.
    match event {
        ObjectEvent::PrePatch => {
            // SAFETY: plain call with a NUL-terminated name; the module is
            // COMING, which find_module() finds.
            let module = unsafe { sys::lg_find_module(object.as_char_ptr()) };
            // SAFETY: see above.
            unsafe { callbacks::set_object_module(o, module) };
            // SAFETY: see above.
            let ret = unsafe { callbacks::pre_patch_object(o) };
            if ret != 0 {
                // SAFETY: see above.
                unsafe { callbacks::set_object_module(o, core::ptr::null_mut()) };
                return Err(Error::from_errno(ret));
            }
        }
        ObjectEvent::PostPatch => {
            // SAFETY: see above.
            unsafe {
                callbacks::set_object_patched(o, true);
                callbacks::post_patch_object(o);
            }
        }
        // SAFETY: see above.
        ObjectEvent::PreUnpatch => unsafe { callbacks::pre_unpatch_object(o) },
        ObjectEvent::PostUnpatch => {
            // SAFETY: see above.
            unsafe {
                callbacks::set_object_patched(o, false);
                callbacks::post_unpatch_object(o);
                callbacks::set_object_module(o, core::ptr::null_mut());
            }
        }
    }
    Ok(())
}

/// Fills a `LIVEGRAFT_ORIGINAL` word (null: none) for the original at
/// `addr`, before the replacement can run.
pub(super) fn fill_orig_entry(patch: &CStr, fname: &CStr, at: *mut kernel::ffi::c_ulong, addr: usize) -> Result {
    if at.is_null() {
        return Ok(());
    }
    // SAFETY: plain call; it reads the function's text without faulting.
    let entry = unsafe { sys::lg_original_entry(addr as _) };
    if entry == 0 {
        pr_err!("'{}': function '{}' has no ftrace call site to enter the original past\n", patch, fname);
        return Err(EINVAL);
    }
    // SAFETY: the ABI makes a non-null `orig_entry` point to the `unsigned
    // long` of a LIVEGRAFT_ORIGINAL of the patch module, writable data
    // (not `__ro_after_init`), alive while the patch is registered.
    unsafe { at.write_volatile(entry) };
    Ok(())
}

/// The module notifier's COMING (see the glue): 0 or a negative errno,
/// which refuses the load.
#[no_mangle]
extern "C" fn lg_rust_module_coming(name: *const kernel::ffi::c_char) -> i32 {
    let Some(m) = cstr_at(name) else { return 0 };
    match with_registry(|reg| reg.module_coming(m)) {
        Some(Err(e)) => e.to_errno(),
        _ => 0,
    }
}

/// The module notifier's GOING.
#[no_mangle]
extern "C" fn lg_rust_module_going(name: *const kernel::ffi::c_char) {
    if let Some(m) = cstr_at(name) {
        with_registry(|reg| reg.module_going(m));
    }
}

/// sysfs show of `<patch>/<object>/patched`.
#[no_mangle]
extern "C" fn lg_rust_object_show(kobj: *mut sys::kobject, buf: *mut kernel::ffi::c_char) -> isize {
    // SAFETY: sysfs passes a PAGE_SIZE buffer.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), 4096) };
    let mut out = Buf { buf: page, len: 0 };
    match with_registry(|reg| reg.object_patched(kobj)).flatten() {
        Some(patched) => {
            let _ = writeln!(out, "{}", patched as u8);
            out.len as isize
        }
        None => ENODEV.to_errno() as isize,
    }
}
