// SPDX-License-Identifier: GPL-2.0

//! The patch registry: the patch-module ABI, enabling and disabling, the
//! transition work, and the per-patch sysfs files.
//!
//! Everything here runs in process context under the registry mutex, with
//! two exceptions that must not hold it: removing a patch's sysfs directory
//! (it waits for running show/store callbacks, which take the mutex) and
//! dropping the patch module's reference. Both are queued in
//! `Registry::deferred` and done after the mutex is released.
//!
//! Unwinding never allocates: every allocation a patch's life needs (its
//! names, function and directory lists, its slot in the registry and the
//! batch of teardown actions that removes it) is made in `enable` before
//! anything changes, so a failed allocation anywhere leaves the state as it
//! was, and a patch removed later (disabled, or unwound half-way through
//! its enabling) is torn down completely (scenario 63 fails each allocation
//! in turn).
//!
//! Life of a patch (upstream's semantics, see anchors): the patch module's
//! init calls `livegraft_enable_patch()`, which validates and resolves
//! everything *before* changing anything, takes a reference on the patch
//! module, creates `/sys/kernel/livegraft/<patch>/` and starts the patching
//! transition. Writing `0` to `enabled` starts unpatching (or reverses a
//! running patching transition). When unpatching completes the directory is
//! removed and the module reference dropped, so `rmmod` succeeds; a forced
//! patch keeps its reference forever.

use crate::logic::task_table::Universe;
use crate::logic::replace::FuncTop;
use crate::logic::stack_verdict::{affected_code, Affected, CodeOf};
use crate::logic::symbols::Resolution;
use crate::logic::transition::{self as logic, Direction, Event, PatchId, TransitionState};
use crate::patch::{Site, Version};
use crate::symbols::{self, Extent};
use crate::sys;
use crate::transition::{Pending, Transition, Why, KIND_NAMES};
use kernel::ffi::c_char;
use core::fmt::Write;
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::c_str;
use kernel::error::Error;
use kernel::prelude::*;
use kernel::str::{CStr, CString};
use kernel::sync::Mutex;

#[path = "objects.rs"]
mod objects;
#[path = "replace.rs"]
mod replace;

/// Longest delay between two stack-check passes.
const MAX_RETRY_MS: u32 = 250;

/// Pending tasks a pass records for `pending_tasks` (a sysfs page holds
/// about as many lines).
const REPORT_MAX: usize = 128;

/// One function of a patch.
struct PatchFunc {
    name: CString,
    /// Null while its object is a module that is not loaded (`objects.rs`).
    site: *mut Site,
    version: KBox<Version>,
    /// Index of its object in `Patch::objects`.
    obj: usize,
    /// `old_sympos` as given (0: the unique symbol of that name).
    sympos: u64,
    /// The `LIVEGRAFT_ORIGINAL` word to fill when the object loads (null: none).
    orig_entry: *mut kernel::ffi::c_ulong,
    /// A nop of an atomic replace (`replace.rs`): its directory and the
    /// nop itself go when the replace completes, as upstream's
    /// (`klp_discard_nops()`).
    nop: bool,
    /// `<patch>/<object>/<function,sympos>/` (null until `build_tree`, and
    /// once a nop's is removed).
    dir: *mut sys::kobject,
}

/// One object of a patch: vmlinux or a module, loaded or not.
struct PatchObject {
    name: CString,
    /// A module (not vmlinux): it may load and unload under the patch.
    module: bool,
    /// Its functions are resolved and their sites exist.
    loaded: bool,
    /// `<patch>/<object>/` (null until `build_tree`, and once a dynamic
    /// object's is removed).
    dir: *mut sys::kobject,
    /// Added by `replace.rs` for nops only (upstream's `klp_object.dynamic`):
    /// not in the descriptor, gone with the nops.
    dynamic: bool,
}

/// A loaded patch.
struct Patch {
    id: PatchId,
    name: CString,
    module: *mut sys::module,
    /// The patch module's descriptor and objects (callbacks, states).
    desc: *mut sys::livegraft_patch,
    objs: crate::callbacks::Objects,
    funcs: KVec<PatchFunc>,
    state: logic::Patch,
    dir: *mut sys::kobject,
    /// `<object>/` directories and `<object>/<function,sympos>/` ones.
    objdirs: KVec<*mut sys::kobject>,
    funcdirs: KVec<*mut sys::kobject>,
    /// The removal's actions (`Batch::for_patch`), taken by `drop_patch`.
    teardown: Option<KBox<Batch>>,
    /// Whether the versions of its loaded objects are on the sites' stacks
    /// (`<object>/patched` with the object's `loaded`).
    pushed: bool,
    /// The patch's objects; objects that only nops use come last.
    objects: KVec<PatchObject>,
    /// `LIVEGRAFT_F_REPLACE` (the `replace` file).
    replace: bool,
    /// While its patching transition runs, the patches it replaces.
    replaces: KVec<PatchId>,
    /// For a replace: the removal of the nops' directories when it
    /// completes (`finish_replace`), allocated at enable.
    nop_teardown: Option<KBox<Batch>>,
}

impl Patch {
    /// The functions whose object is loaded (their site exists).
    fn live_funcs(&self) -> impl Iterator<Item = &PatchFunc> {
        self.funcs.iter().filter(|f| !f.site.is_null())
    }
}

/// The transition in progress.
struct Running {
    patch: PatchId,
    direction: Direction,
    transition: Transition,
    started_ns: i64,
    /// How long the setup took, for the `livegraft-stats:` line.
    setup_us: i64,
    reported: bool,
    /// The pending tasks the transition work's last pass found (at most
    /// `REPORT_MAX`), which `pending_tasks` shows: reading it must not run a
    /// pass (stack walks, switches, IPIs) on behalf of any user who can read
    /// a 0444 file, nor perturb the work's backoff.
    last_pass: KVec<Pending>,
}

enum Deferred {
    RemoveDir(*mut sys::kobject),
    RemoveObjDir(*mut sys::kobject),
    PutKobj(*mut sys::kobject),
    PutModule(*mut sys::module),
}

/// A patch's teardown actions, allocated with room for all of them when the
/// patch is enabled, and chained into `Registry::deferred` without
/// allocating when it goes.
struct Batch {
    actions: KVec<Deferred>,
    next: Option<KBox<Batch>>,
}

impl Batch {
    /// Room for the teardown of a patch with `dirs` function directories:
    /// as many object directories at most, its own, the module reference.
    fn for_patch(dirs: usize) -> Result<KBox<Batch>> {
        let room = dirs.checked_mul(2).and_then(|n| n.checked_add(2)).ok_or(ENOMEM)?;
        Ok(KBox::new(Batch { actions: KVec::with_capacity(room, GFP_KERNEL)?, next: None }, GFP_KERNEL)?)
    }

    /// Within the room `for_patch` made: never allocates (an action beyond
    /// it would be a bug; it is dropped with a message rather than risk an
    /// allocation failure half-way through a teardown).
    fn add(&mut self, d: Deferred) {
        if self.actions.len() < self.actions.capacity() {
            // Within capacity, `push` does not allocate and cannot fail.
            let _ = self.actions.push(d, GFP_NOWAIT);
        } else {
            pr_err!("teardown batch overflow: an action is lost\n");
        }
    }
}

/// Everything the mutex protects.
struct Registry {
    patches: KVec<Option<KBox<Patch>>>,
    sites: KVec<Option<KBox<Site>>>,
    state: TransitionState,
    running: Option<Running>,
    /// A completed transition whose hooks and table are not removed yet.
    retiring: Option<Transition>,
    /// Registered while any function is patched (`direct::PermanentAnchor`).
    anchor: Option<crate::direct::PermanentAnchor>,
    next_id: u32,
    /// Teardown batches to run once the mutex is released.
    deferred: Option<KBox<Batch>>,
    root: *mut sys::kobject,
    /// Modules whose GOING notification ran and that did not come again:
    /// still in kallsyms for a while, but not loaded for a patch (objects.rs).
    going: KVec<CString>,
}

// SAFETY: the raw pointers are kobjects, modules and sites owned by the
// registry; they are only used under the registry mutex.
unsafe impl Send for Registry {}

/// The module-wide state, reachable from C entry points through `STATE`.
#[pin_data]
pub(crate) struct State {
    #[pin]
    registry: Mutex<Registry>,
}

static STATE: AtomicPtr<State> = AtomicPtr::new(core::ptr::null_mut());

/// Owner of the published state; dropping it unpublishes it.
pub(crate) struct Core {
    state: Pin<KBox<State>>,
}

impl Core {
    /// Creates and publishes the registry; `root` is `/sys/kernel/livegraft`.
    pub(crate) fn new(root: *mut sys::kobject) -> Result<Self> {
        // Name resolution first: a kernel livegraft cannot work on fails
        // the load before anything exists.
        crate::symbols::init()?;
        crate::transition::resolve_idle_task();
        crate::callbacks::resolve_find_module();
        crate::stack::resolve_pinning();
        crate::safepoints::resolve()?;
        crate::worker::create()?;
        let state = KBox::pin_init(
            pin_init!(State {
                registry <- kernel::new_mutex!(Registry {
                    patches: KVec::new(),
                    sites: KVec::new(),
                    state: TransitionState::Idle,
                    running: None,
                    retiring: None,
                    anchor: None,
                    next_id: 1,
                    deferred: None,
                    root,
                    going: KVec::new(),
                }),
            }),
            GFP_KERNEL,
        );
        let state = match state {
            Ok(s) => s,
            Err(e) => {
                crate::worker::destroy();
                return Err(e);
            }
        };
        // Release: pairs with the Acquire in `state()`.
        STATE.store((&*state as *const State).cast_mut(), Ordering::Release);
        // Objects that are modules loaded later (objects.rs): after the
        // state is published, which the notifier uses.
        // SAFETY: plain call.
        let res = unsafe { sys::lg_module_notifier_register() };
        if res != 0 {
            STATE.store(core::ptr::null_mut(), Ordering::Release);
            crate::worker::destroy();
            return Err(errno(res));
        }
        Ok(Core { state })
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        // No patch module can be loaded (they depend on our symbols), so no
        // patch, site or transition exists; the work cannot be queued.
        // SAFETY: plain call; on return no notifier call runs.
        unsafe { sys::lg_module_notifier_unregister() };
        // SAFETY: plain call.
        unsafe { sys::lg_cancel_transition_work_sync() };
        self.state.registry.lock().retire();
        STATE.store(core::ptr::null_mut(), Ordering::Release);
        crate::worker::destroy();
        crate::shadow::release_all();
    }
}

fn state() -> Option<&'static State> {
    // Acquire: pairs with the Release in `Core::new`.
    let s = STATE.load(Ordering::Acquire);
    // SAFETY: the state lives until module exit, and module exit happens
    // only when no patch module (caller of our export), sysfs file or work
    // item can run (they are removed or cancelled first).
    unsafe { s.as_ref() }
}

fn now_ns() -> i64 {
    kernel::time::Ktime::ktime_get().to_ns()
}

fn errno(e: i32) -> Error {
    Error::from_errno(-e)
}

/// Runs the deferred batches, outside the mutex.
fn run_deferred(mut chain: Option<KBox<Batch>>) {
    while let Some(mut batch) = chain {
        run_actions(&batch.actions);
        chain = batch.next.take();
    }
}

fn run_actions(list: &KVec<Deferred>) {
    for d in list.iter() {
        match *d {
            // SAFETY: the directory was created by `lg_patch_dir_create`
            // and removed from the registry, so this is its last user.
            Deferred::RemoveDir(kobj) => unsafe { sys::lg_patch_dir_destroy(kobj) },
            // SAFETY: as above, for an object directory (its function
            // directories were queued, and so released, before it).
            Deferred::RemoveObjDir(kobj) => unsafe { sys::lg_object_dir_destroy(kobj) },
            // SAFETY: as above, for a function directory.
            Deferred::PutKobj(kobj) => unsafe { sys::lg_kobject_put(kobj) },
            // SAFETY: the reference was taken in `enable_patch`.
            Deferred::PutModule(m) => unsafe { sys::lg_module_put(m) },
        }
    }
}

/// Locks the registry, runs `f`, then the deferred actions.
fn with_registry<R>(f: impl FnOnce(&mut Registry) -> R) -> Option<R> {
    let st = state()?;
    let (r, deferred) = {
        let mut reg = st.registry.lock();
        let r = f(&mut reg);
        (r, reg.deferred.take())
    };
    run_deferred(deferred);
    Some(r)
}

// --- the ABI -----------------------------------------------------------------

fn cstr_at(p: *const c_char) -> Option<&'static CStr> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the ABI requires NUL-terminated strings that live as long as
    // the patch module, which we pin with a reference before keeping them
    // (and we copy them anyway).
    Some(unsafe { CStr::from_char_ptr(p) })
}

fn valid_name(name: &CStr) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 55
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// One function of a parsed patch.
struct ParsedFunc {
    name: CString,
    /// Index in `Parsed::objects`.
    obj: usize,
    sympos: u64,
    /// The original's extent, if its object is loaded.
    old: Option<Extent>,
    new: Extent,
    orig_entry: *mut kernel::ffi::c_ulong,
}

struct Parsed {
    name: CString,
    module: *mut sys::module,
    /// Per object: its name, whether it is a module, whether it is loaded.
    objects: KVec<(CString, bool, bool)>,
    funcs: KVec<ParsedFunc>,
    replace: bool,
    desc: *mut sys::livegraft_patch,
    objs: crate::callbacks::Objects,
}

/// Validates and resolves a patch description without changing anything.
///
/// # Safety
///
/// `raw` must point to a `livegraft_patch` of the calling patch module.
unsafe fn parse(raw: *const sys::livegraft_patch) -> Result<Parsed> {
    if raw.is_null() {
        return Err(EINVAL);
    }
    // Every ABI version starts with abi_version and size: read those first.
    // SAFETY: the caller passes a valid patch; the first two fields exist in
    // every ABI version.
    let (abi, size) = unsafe { ((*raw).abi_version, (*raw).size) };
    if abi != sys::LIVEGRAFT_ABI_VERSION {
        pr_err!(
            "refusing patch: built for livegraft ABI {}, this core implements ABI {}\n",
            abi,
            sys::LIVEGRAFT_ABI_VERSION
        );
        if abi == 2 {
            pr_err!("refusing patch: rebuild it against this livegraft's include/livegraft.h (ABI 3: callbacks, states, replace)\n");
        }
        if abi == 1 {
            // Its replacements may reach the original by calling the
            // function by name, which ABI 2 runs as an ordinary call.
            pr_err!("refusing patch: ABI 1 patches call the original by name; rebuild it with LIVEGRAFT_ORIGINAL()\n");
        }
        return Err(errno(sys::EPROTO as i32));
    }
    if size as usize != core::mem::size_of::<sys::livegraft_patch>() {
        pr_err!("refusing patch: descriptor size {} does not match ABI {}\n", size, abi);
        return Err(errno(sys::EPROTO as i32));
    }
    // SAFETY: the ABI version and size match our definition.
    let p = unsafe { &*raw };
    if p.flags & !sys::LIVEGRAFT_F_REPLACE != 0 || p.reserved != 0 {
        pr_err!("refusing patch: unknown flags {:#x}\n", p.flags);
        return Err(EINVAL);
    }
    let replace = p.flags & sys::LIVEGRAFT_F_REPLACE != 0 || p.replace;
    if p.mod_.is_null() {
        pr_err!("refusing patch: no module in the patch descriptor\n");
        return Err(EINVAL);
    }
    // No name: the module's, as upstream names every patch.
    // SAFETY: `mod_` is the caller's THIS_MODULE, whose name is a
    // NUL-terminated array.
    let name = cstr_at(p.name).unwrap_or_else(|| unsafe { CStr::from_char_ptr(sys::lg_module_name(p.mod_)) });
    if !valid_name(name) {
        pr_err!("refusing patch: invalid name (use 1-55 of [A-Za-z0-9_-])\n");
        return Err(EINVAL);
    }
    if p.objs.is_null() {
        pr_err!("'{}': no module or no objects in the patch descriptor\n", name);
        return Err(EINVAL);
    }
    let mut funcs: KVec<ParsedFunc> = KVec::new();
    let mut objects: KVec<(CString, bool, bool)> = KVec::new();
    // (LIVEGRAFT_ORIGINAL stub's word, the original's address) per function
    // whose replacement calls the original.
    let mut originals: KVec<(*mut kernel::ffi::c_ulong, usize, &CStr)> = KVec::new();
    let mut obj = p.objs;
    // The objects array ends with an entry whose name and funcs are NULL
    // (upstream's klp_for_each_object_static()).
    let end = |o: *mut sys::livegraft_object| {
        // SAFETY: inside the terminated array.
        unsafe { (*o).funcs.is_null() && (*o).name.is_null() }
    };
    if end(obj) {
        pr_err!("'{}': the patch has no objects\n", name);
        return Err(EINVAL);
    }
    // (object, its module) per module object, filled in once all is valid.
    let mut modules: KVec<(*mut sys::livegraft_object, *mut sys::module)> = KVec::new();
    loop {
        if end(obj) {
            break;
        }
        // vmlinux, or a module: loaded now, or later (`objects.rs`), as
        // upstream: its functions are resolved and patched when it loads,
        // before its init runs, and unpatched when it goes.
        // SAFETY: inside the terminated array.
        let o = unsafe { &*obj };
        let object = cstr_at(o.name).filter(|n| n.as_bytes() != b"vmlinux");
        let objname = object.unwrap_or(c_str!("vmlinux"));
        if o.funcs.is_null() {
            // upstream: -EINVAL from klp_enable_patch()
            pr_err!("'{}': object '{}' has no funcs array\n", name, objname);
            return Err(EINVAL);
        }
        let loaded = match object {
            // Checked again under the registry mutex (`Registry::recheck_objects`).
            Some(m) => symbols::module_loaded(m),
            None => true,
        };
        if objects.iter().any(|(n, _, _): &(CString, bool, bool)| n.as_bytes() == objname.as_bytes()) {
            pr_err!("'{}': object '{}' listed twice\n", name, objname);
            return Err(EINVAL);
        }
        let obj_index = objects.len();
        objects.push((CString::try_from(objname)?, object.is_some(), loaded), GFP_KERNEL)?;
        if let (Some(m), true) = (object, loaded) {
            // The engine's obj->mod (upstream's), for the callbacks; a
            // module loading later gets it from `objects.rs`.
            // SAFETY: plain call with a NUL-terminated name.
            modules.push((obj, unsafe { sys::lg_find_module(m.as_char_ptr()) }), GFP_KERNEL)?;
        }
        // An object may have no functions (callbacks only), as upstream.
        let mut f = o.funcs;
        loop {
            // SAFETY: each funcs array ends with an entry whose old_name is NULL.
            let func = unsafe { &*f };
            let Some(fname) = cstr_at(func.old_name) else { break };
            if fname.as_bytes().is_empty() {
                pr_err!("'{}': empty function name in object '{}'\n", name, objname);
                return Err(EINVAL);
            }
            // KSYM_NAME_LEN (512) with its NUL: no symbol has a longer name.
            if fname.as_bytes().len() > 511 {
                pr_err!(
                    "'{}': function name of {} bytes in object '{}' is too long (at most 511)\n",
                    name,
                    fname.as_bytes().len(),
                    objname
                );
                return Err(errno(sys::ENAMETOOLONG as i32));
            }
            if func.new_func.is_null() {
                pr_err!("'{}': function '{}' has no replacement\n", name, fname);
                return Err(EINVAL);
            }
            // The replacement runs for as long as the patch is registered,
            // which pins the patch module, and only that module: code
            // elsewhere (vmlinux, another module) or data is refused.
            // SAFETY: plain call; the patch module is loading (its init
            // calls us), so its memory layout is stable.
            if !unsafe { sys::lg_within_module_text(func.new_func as _, p.mod_) } {
                let mut b = [0u8; 256];
                let mut w = Buf { buf: &mut b, len: 0 };
                let _ = symbols::describe(func.new_func as usize, &mut w);
                let len = w.len;
                let at = core::str::from_utf8(b.get(..len).unwrap_or(&[])).unwrap_or("?");
                pr_err!("'{}': replacement for '{}' is not code of the patch module ({})\n", name, fname, at);
                return Err(EINVAL);
            }
            let sympos = u64::try_from(func.old_sympos).unwrap_or(u64::MAX);
            let new = symbols::extent_of(func.new_func as usize)?;
            let old = if loaded { Some(resolve(name, object, fname, sympos)?) } else { None };
            let twice = funcs.iter().any(|g| match (g.old, old) {
                (Some(a), Some(b)) => a.start == b.start,
                _ => g.obj == obj_index && g.name.as_bytes() == fname.as_bytes() && g.sympos.max(1) == sympos.max(1),
            });
            if twice {
                pr_err!("'{}': function '{}' listed twice\n", name, fname);
                return Err(EINVAL);
            }
            funcs.push(
                ParsedFunc {
                    name: CString::try_from(fname)?,
                    obj: obj_index,
                    sympos,
                    old,
                    new,
                    orig_entry: func.orig_entry,
                },
                GFP_KERNEL,
            )?;
            if let (false, Some(old)) = (func.orig_entry.is_null(), old) {
                originals.push((func.orig_entry, old.start, fname), GFP_KERNEL)?;
            }
            // SAFETY: still inside the terminated array.
            f = unsafe { f.add(1) };
        }
        // SAFETY: still inside the terminated array.
        obj = unsafe { obj.add(1) };
    }
    // Where each replacement's LIVEGRAFT_ORIGINAL stub enters the original:
    // past its ftrace call site, so no redirection sees those calls.
    let mut entries_at = KVec::new();
    for &(at, addr, fname) in originals.iter() {
        // SAFETY: plain call; it reads the function's text without faulting.
        let entry = unsafe { sys::lg_original_entry(addr as _) };
        if entry == 0 {
            pr_err!("'{}': function '{}' has no ftrace call site to enter the original past\n", name, fname);
            return Err(EINVAL);
        }
        entries_at.push((at, entry), GFP_KERNEL)?;
    }
    // Only now that everything is valid. The stores come before the
    // versions are pushed (`Registry::enable`), whose Release store of a
    // site's top pairs with the Acquire load of it in the decision: a CPU
    // that runs a replacement got there through that load, or through the
    // fast path set up long after, and sees its entry.
    for &(at, entry) in entries_at.iter() {
        // SAFETY: the ABI makes a non-null `orig_entry` point to the
        // `unsigned long` of a LIVEGRAFT_ORIGINAL of the calling patch
        // module, writable data of a module in its init function.
        unsafe { at.write_volatile(entry) };
    }
    // The engine's fields of the objects (upstream's obj->mod): before any
    // callback can read them.
    for &(o, m) in modules.iter() {
        // SAFETY: writable data of the calling patch module, in its init.
        unsafe { (*o).mod_ = m };
    }
    Ok(Parsed {
        name: CString::try_from(name)?,
        module: p.mod_,
        desc: raw.cast_mut(),
        objs: crate::callbacks::Objects(p.objs),
        objects,
        funcs,
        replace,
    })
}

/// Resolves one function of a loaded object with upstream's semantics and
/// messages (`klp_find_object_symbol()`): its extent.
fn resolve(patch: &CStr, object: Option<&CStr>, fname: &CStr, sympos: u64) -> Result<Extent> {
    let objname = object.unwrap_or(c_str!("vmlinux"));
    let addr = match symbols::find(object, fname, sympos) {
        Resolution::Found(addr) => addr,
        Resolution::NotFound => {
            pr_err!("'{}': symbol '{}' not found in symbol table of object '{}'\n", patch, fname, objname);
            return Err(ENOENT);
        }
        Resolution::Ambiguous => {
            pr_err!("'{}': unresolvable ambiguity for symbol '{}' in object '{}'\n", patch, fname, objname);
            return Err(EINVAL);
        }
        Resolution::NoSuchPosition => {
            pr_err!(
                "'{}': symbol position {} for symbol '{}' in object '{}' not found\n",
                patch,
                sympos,
                fname,
                objname
            );
            return Err(ENOENT);
        }
    };
    symbols::extent_of(addr)
}

/// `livegraft_enable_patch()`, called from a patch module's init.
#[no_mangle]
extern "C" fn lg_rust_enable_patch(raw: *mut sys::livegraft_patch) -> i32 {
    // SAFETY: the exported C function passes the patch module's descriptor.
    let parsed = match unsafe { parse(raw) } {
        Ok(p) => p,
        Err(e) => return e.to_errno(),
    };
    match with_registry(|reg| reg.enable(parsed)) {
        Some(Ok(())) => 0,
        Some(Err(e)) => e.to_errno(),
        None => ENODEV.to_errno(),
    }
}

// --- the registry --------------------------------------------------------------

impl Registry {
    fn patch_index(&self, id: PatchId) -> Option<usize> {
        self.patches.iter().position(|p| p.as_ref().map_or(false, |p| p.id == id))
    }

    fn patch_by_kobj(&self, kobj: *mut sys::kobject) -> Option<usize> {
        self.patches.iter().position(|p| p.as_ref().map_or(false, |p| p.dir == kobj))
    }

    fn site_for(&mut self, addr: usize, name: &CStr, extent: Extent) -> Result<*mut Site> {
        for s in self.sites.iter_mut().flatten() {
            if s.extent.start == addr {
                return Ok(&mut **s as *mut Site);
            }
        }
        let site = Site::new(CString::try_from(name)?, extent)?;
        let ptr = &*site as *const Site as *mut Site;
        if let Some(slot) = self.sites.iter_mut().find(|s| s.is_none()) {
            *slot = Some(site);
        } else {
            self.sites.push(Some(site), GFP_KERNEL)?;
        }
        Ok(ptr)
    }

    /// Drops sites whose stack is empty (their ops is unregistered first).
    fn reap_sites(&mut self) {
        for slot in self.sites.iter_mut() {
            if slot.as_ref().map_or(false, |s| s.is_empty()) {
                if let Some(mut s) = slot.take() {
                    s.retire();
                }
            }
        }
    }

    /// Chains a teardown batch for `run_deferred` (no allocation).
    fn defer(&mut self, mut batch: KBox<Batch>) {
        batch.next = self.deferred.take();
        self.deferred = Some(batch);
    }

    fn enable(&mut self, mut parsed: Parsed) -> Result {
        let name = &parsed.name;
        if self.patches.iter().flatten().any(|p| p.name.as_bytes() == name.as_bytes()) {
            pr_err!("'{}': a patch of that name is already loaded\n", &**name);
            return Err(EEXIST);
        }
        if self.state != TransitionState::Idle {
            pr_err!("'{}': another transition is in progress\n", &**name);
            return Err(EBUSY);
        }
        // A module that came or went since `parse` (objects.rs).
        self.recheck_objects(&mut parsed)?;
        let name = &parsed.name;
        // SAFETY: the descriptor of the calling patch module, in its init.
        if !unsafe { crate::state::compatible(parsed.desc, parsed.replace) }? {
            pr_err!("Livepatch patch ({}) is not compatible with the already installed livepatches.\n", &**name);
            return Err(EINVAL);
        }
        // Unwinding allocates nothing (see the file comment): until the
        // patch owns its teardown batch, `early` drops the module reference.
        let early = Batch::for_patch(0)?;
        // SAFETY: `module` is the caller's THIS_MODULE, in its init function.
        if !unsafe { sys::lg_try_module_get(parsed.module) } {
            return Err(ENODEV);
        }
        let module = parsed.module;
        let fail = |reg: &mut Registry, mut early: KBox<Batch>, e: Error| {
            reg.reap_sites();
            early.add(Deferred::PutModule(module));
            reg.defer(early);
            e
        };
        let mut funcs = KVec::new();
        for pf in parsed.funcs.iter() {
            let made = match pf.old {
                Some(old) => self
                    .site_for(old.start, &pf.name, old)
                    .and_then(|site| Ok((site, KBox::new(Version::new(pf.new.start, pf.new), GFP_KERNEL)?))),
                None => KBox::new(Version::new(pf.new.start, pf.new), GFP_KERNEL)
                    .map(|v| (core::ptr::null_mut(), v))
                    .map_err(Error::from),
            };
            let (site, version) = match made {
                Ok(v) => v,
                Err(e) => return Err(fail(self, early, e)),
            };
            let fname = match CString::try_from(&*pf.name) {
                Ok(n) => n,
                Err(e) => return Err(fail(self, early, e.into())),
            };
            let func = PatchFunc {
                name: fname,
                site,
                version,
                obj: pf.obj,
                sympos: pf.sympos,
                orig_entry: pf.orig_entry,
                nop: false,
                dir: core::ptr::null_mut(),
            };
            if let Err(e) = funcs.push(func, GFP_KERNEL) {
                return Err(fail(self, early, e.into()));
            }
        }
        let mut objects = KVec::new();
        for (oname, module, loaded) in parsed.objects.iter() {
            let oname = match CString::try_from(&**oname) {
                Ok(n) => n,
                Err(e) => return Err(fail(self, early, e.into())),
            };
            let o = PatchObject {
                name: oname,
                module: *module,
                loaded: *loaded,
                dir: core::ptr::null_mut(),
                dynamic: false,
            };
            if let Err(e) = objects.push(o, GFP_KERNEL) {
                return Err(fail(self, early, e.into()));
            }
        }
        // An atomic replace: every registered patch (all enabled, since no
        // transition runs) is replaced; nops for the functions only they
        // touch (replace.rs).
        let mut replaces = KVec::new();
        if parsed.replace {
            if let Err(e) = self.add_nops(&mut funcs, &mut objects, &mut replaces) {
                return Err(fail(self, early, e));
            }
        }
        // The rest of the patch's allocations, before its directory exists.
        let reserved = (|| -> Result<_> {
            let pname = CString::try_from(&**name)?;
            let objdirs = KVec::with_capacity(objects.len(), GFP_KERNEL)?;
            let funcdirs = KVec::with_capacity(funcs.len(), GFP_KERNEL)?;
            let dirs = objects.len().checked_add(funcs.len()).ok_or(ENOMEM)?;
            let teardown = Batch::for_patch(dirs)?;
            let nops = funcs.iter().filter(|f| f.nop).count();
            let nop_teardown = if replaces.is_empty() { None } else { Some(Batch::for_patch(nops)?) };
            let uninit = KBox::<Patch>::new_uninit(GFP_KERNEL)?;
            Ok((pname, objdirs, funcdirs, teardown, nop_teardown, uninit))
        })()
        .and_then(|r| {
            if !self.patches.iter().any(|p| p.is_none()) {
                self.patches.reserve(1, GFP_KERNEL)?;
            }
            Ok(r)
        });
        let (pname, objdirs, funcdirs, teardown, nop_teardown, uninit) = match reserved {
            Ok(r) => r,
            Err(e) => return Err(fail(self, early, e)),
        };
        // SAFETY: `root` is our live sysfs root and `name` a valid C string.
        let dir = unsafe { sys::lg_patch_dir_create(self.root, name.as_char_ptr()) };
        if dir.is_null() {
            return Err(fail(self, early, ENOMEM));
        }
        let id = PatchId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        let patch = KBox::write(
            uninit,
            Patch {
                id,
                name: pname,
                module: parsed.module,
                desc: parsed.desc,
                objs: parsed.objs,
                funcs,
                state: logic::Patch::new(),
                dir,
                objdirs,
                funcdirs,
                teardown: Some(teardown),
                pushed: false,
                objects,
                replace: parsed.replace,
                replaces,
                nop_teardown,
            },
        );
        // The patch's own batch drops the module reference from here on.
        drop(early);
        if let Some(slot) = self.patches.iter_mut().find(|p| p.is_none()) {
            *slot = Some(patch);
        } else {
            // Within the capacity reserved above: cannot fail.
            let _ = self.patches.push(Some(patch), GFP_NOWAIT);
        }
        if let Err(e) = self.build_tree(id) {
            self.drop_patch(id);
            self.reap_sites();
            return Err(e);
        }
        // For livegraft_get_prev_state(): registered patches in order.
        if let Err(e) = crate::state::register(parsed.desc) {
            self.drop_patch(id);
            self.reap_sites();
            return Err(e);
        }
        pr_info!("enabling patch '{}'\n", &**name);
        let res = self.request(id, Event::Enable);
        if res.is_err() {
            self.drop_patch(id);
            self.reap_sites();
            // `pin_ftrace` may have registered the anchor for this patch.
            if self.sites.iter().flatten().next().is_none() {
                self.anchor = None;
            }
        }
        res
    }

    /// Creates `<patch>/<object>/` (with `patched`) and
    /// `<patch>/<object>/<function,sympos>/`, as upstream's sysfs tree: the
    /// nops of a replace and the objects only they use included, as
    /// upstream's `klp_init_object()` adds its dynamic objects and nop
    /// functions (`finish_replace` removes them). Every directory created
    /// is recorded without allocating, so `drop_patch` removes whatever
    /// exists if this fails half-way.
    fn build_tree(&mut self, id: PatchId) -> Result {
        let i = self.patch_index(id).ok_or(ENOENT)?;
        let p: &mut Patch = self.patches.as_mut_slice().get_mut(i).and_then(|p| p.as_mut()).ok_or(ENOENT)?;
        for f in p.funcs.iter_mut() {
            let o = p.objects.as_mut_slice().get_mut(f.obj).ok_or(EINVAL)?;
            if o.dir.is_null() {
                // SAFETY: `p.dir` is this patch's live directory.
                let k = unsafe { sys::lg_object_dir_create(p.dir, o.name.as_char_ptr()) };
                if k.is_null() {
                    return Err(ENOMEM);
                }
                // Within the capacity reserved by `enable`: cannot fail.
                let _ = p.objdirs.push(k, GFP_NOWAIT);
                o.dir = k;
            }
            // The sysfs name is "<function>,<sympos>" with 0 shown as 1, as upstream.
            let dname = CString::try_from_fmt(kernel::fmt!("{},{}", &*f.name, f.sympos.max(1)))?;
            // SAFETY: `o.dir` is a live object directory of this patch.
            let k = unsafe { sys::lg_func_dir_create(o.dir, dname.as_char_ptr()) };
            if k.is_null() {
                return Err(ENOMEM);
            }
            // Within the capacity reserved by `enable`: cannot fail.
            let _ = p.funcdirs.push(k, GFP_NOWAIT);
            f.dir = k;
        }
        // An object of the descriptor without functions (callbacks only)
        // has its directory too, as upstream's.
        for (j, o) in p.objects.iter_mut().enumerate() {
            if !o.dir.is_null() || p.funcs.iter().any(|f| f.obj == j) {
                continue;
            }
            // SAFETY: `p.dir` is this patch's live directory.
            let k = unsafe { sys::lg_object_dir_create(p.dir, o.name.as_char_ptr()) };
            if k.is_null() {
                return Err(ENOMEM);
            }
            // Within the capacity reserved by `enable`: cannot fail.
            let _ = p.objdirs.push(k, GFP_NOWAIT);
            o.dir = k;
        }
        Ok(())
    }

    /// Removes a patch that is not on any stack.
    fn drop_patch(&mut self, id: PatchId) {
        let Some(i) = self.patch_index(id) else { return };
        let Some(mut p) = self.patches.as_mut_slice().get_mut(i).and_then(|slot| slot.take()) else { return };
        crate::state::unregister(p.desc);
        if let Some(mut t) = p.teardown.take() {
            // Children before parents: a kobject pins its parent. (Null:
            // a nop's or dynamic object's, removed by `finish_replace`.)
            for &f in p.funcdirs.iter().filter(|f| !f.is_null()) {
                t.add(Deferred::PutKobj(f));
            }
            for &o in p.objdirs.iter().filter(|o| !o.is_null()) {
                t.add(Deferred::RemoveObjDir(o));
            }
            t.add(Deferred::RemoveDir(p.dir));
            if !p.state.forced {
                t.add(Deferred::PutModule(p.module));
            }
            self.defer(t);
        }
        // Functions left without versions are unhooked now, before the
        // patch's directory goes (once a disable is seen complete, the
        // functions are free for anyone else, upstream livepatch too) and
        // before its versions are freed: unregistering waits until no CPU
        // runs their trampoline or handler any more.
        self.reap_sites();
        drop(p);
    }

    /// Applies a user or ABI request through the pure state machine.
    fn request(&mut self, id: PatchId, event: Event) -> Result {
        let i = self.patch_index(id).ok_or(ENOENT)?;
        let pstate = self.patches.get(i).and_then(|p| p.as_ref()).map(|p| p.state).ok_or(ENOENT)?;
        let step = logic::next(self.state, id, pstate, event).map_err(|e| errno(-e.errno()))?;
        self.apply(i, id, event, step)
    }

    fn apply(&mut self, i: usize, id: PatchId, event: Event, step: logic::Step) -> Result {
        let before = self.state;
        match (before, step.transition) {
            (TransitionState::Idle, TransitionState::Initializing { direction, .. }) => {
                if direction == Direction::Unpatching {
                    self.check_stack_order(i)?;
                }
                self.state = step.transition;
                self.set_patch_state(i, step.patch);
                let name = self.patch_name(i);
                let (desc, objs) = self.patches.get(i).and_then(|p| p.as_ref()).map(|p| (p.desc, p.objs)).ok_or(ENOENT)?;
                let verb = if direction == Direction::Patching { "patching" } else { "unpatching" };
                pr_info!("'{}': initializing {} transition\n", name, verb);
                // The callbacks run here, in the caller's context, with the
                // registry held, as upstream's under klp_mutex (callbacks.rs).
                crate::state::set_transition(desc);
                if direction == Direction::Patching {
                    if let Err(ret) = crate::callbacks::pre_patch_all(objs) {
                        crate::callbacks::cancel(&name, objs);
                        crate::state::set_transition(core::ptr::null_mut());
                        self.state = TransitionState::Idle;
                        // `ret` is the callback's negative errno.
                        return Err(Error::from_errno(ret));
                    }
                } else {
                    crate::callbacks::pre_unpatch_all(objs);
                }
                // The text-rewriting setup runs on the FIFO setup worker
                // (see worker.rs); this caller waits for it and keeps the mutex.
                if let Err(e) = crate::worker::on_setup_worker(|| self.begin(i, direction)) {
                    self.state = TransitionState::Idle;
                    if direction == Direction::Patching {
                        crate::callbacks::cancel(&name, objs);
                    } else {
                        // A failed disable leaves the patch enabled (its
                        // pre-unpatch callbacks ran: see design.rst).
                        self.set_patch_state(i, logic::Patch { state: logic::PatchState::Enabled, ..step.patch });
                    }
                    crate::state::set_transition(core::ptr::null_mut());
                    return Err(e);
                }
                let started = logic::next(self.state, id, step.patch, Event::Started).map_err(|_| EINVAL)?;
                self.state = started.transition;
            }
            (TransitionState::Running { direction: d0, .. }, TransitionState::Running { direction: d1, .. })
                if d0 != d1 =>
            {
                let name = self.patch_name(i);
                let (from, to) = match d0 {
                    Direction::Patching => ("patching", "unpatching"),
                    Direction::Unpatching => ("unpatching", "patching"),
                };
                pr_info!("'{}': reversing transition from {} to {}\n", name, from, to);
                if d1 == Direction::Unpatching {
                    self.check_stack_order(i)?;
                }
                let run = self.running.as_mut().ok_or(EINVAL)?;
                run.transition.reverse()?;
                run.direction = d1;
                self.state = step.transition;
                self.set_patch_state(i, step.patch);
                // upstream's klp_reverse_transition() restarts the transition.
                pr_info!(
                    "'{}': starting {} transition\n",
                    name,
                    if d1 == Direction::Patching { "patching" } else { "unpatching" }
                );
                // SAFETY: plain call.
                unsafe { sys::lg_schedule_transition_work(0) };
            }
            _ if event == Event::Force => {
                let name = self.patch_name(i);
                let run = self.running.as_mut().ok_or(EINVAL)?;
                pr_warn!(
                    "'{}': forcing remaining tasks to the {} state\n",
                    name,
                    if run.direction == Direction::Patching { "patched" } else { "unpatched" }
                );
                pr_warn!("'{}': the patch module can never be unloaded now\n", name);
                run.transition.force();
                self.set_patch_state(i, step.patch);
                // SAFETY: plain call.
                unsafe { sys::lg_schedule_transition_work(0) };
            }
            _ => return Err(EINVAL),
        }
        Ok(())
    }

    /// A copy of patch `i`'s name, for messages printed while the patch is borrowed.
    fn patch_name(&self, i: usize) -> Name {
        let mut n = Name { buf: [0; 56], len: 0 };
        if let Some(Some(p)) = self.patches.get(i) {
            let b = p.name.as_bytes();
            let len = b.len().min(n.buf.len());
            if let (Some(dst), Some(src)) = (n.buf.get_mut(..len), b.get(..len)) {
                dst.copy_from_slice(src);
                n.len = len;
            }
        }
        n
    }

    fn set_patch_state(&mut self, i: usize, s: logic::Patch) {
        if let Some(Some(p)) = self.patches.as_mut_slice().get_mut(i) {
            p.state = s;
        }
    }

    /// Stack order: a patch can be unpatched only if it is the newest on every function.
    fn check_stack_order(&self, i: usize) -> Result {
        let p = self.patches.get(i).and_then(|p| p.as_ref()).ok_or(ENOENT)?;
        // The same rule as the model test's (`logic::replace::newer_on_top`), for
        // every function, those of modules not loaded included (an inert nop
        // without a site, replace.rs, never counts).
        let tops = p.funcs.iter().map(|f| {
            if f.site.is_null() {
                let k = replace::key(&p.objects, f);
                let newer = !f.nop
                    && self.patches.iter().flatten().any(|q| {
                        q.id.0 > p.id.0 && q.funcs.iter().any(|g| replace::key(&q.objects, g) == k)
                    });
                return FuncTop::Unloaded(newer);
            }
            // SAFETY: sites outlive the versions on their stacks.
            let top = unsafe { (*f.site).top() };
            FuncTop::Live((!top.is_null()).then_some(top), &*f.version as *const Version)
        });
        if let Some(f) = crate::logic::replace::newer_on_top(tops).and_then(|k| p.funcs.get(k)) {
            pr_err!(
                "'{}': cannot disable: a newer patch also replaces '{}'; disable it first\n",
                &*p.name,
                &*f.name
            );
            return Err(EBUSY);
        }
        Ok(())
    }

    /// Builds the transition for patch `i` (state already Initializing).
    fn begin(&mut self, i: usize, direction: Direction) -> Result {
        self.retire();
        let setup_start = now_ns();
        let verb = if direction == Direction::Patching { "patching" } else { "unpatching" };
        // "initializing" and the pre-patch callbacks came first (`apply`).
        if direction == Direction::Patching {
            self.pin_ftrace(i)?;
        }
        let p = self.patches.as_mut_slice().get_mut(i).and_then(|p| p.as_mut()).ok_or(ENOENT)?;
        // The code a switching task must not have on its stack, per side
        // (`stack_verdict::affected_code`, as the model test): the version
        // it leaves and the original, which a replacement may have entered
        // through its LIVEGRAFT_ORIGINAL stub by a tail call.
        let mut old_code = KVec::new();
        let mut new_code = KVec::new();
        for f in p.live_funcs() {
            // SAFETY: the site outlives the patch's versions.
            let site = unsafe { &*f.site };
            // The version under the patch's own: the top before the push
            // when patching, the one below it when unpatching.
            let below = if direction == Direction::Patching {
                // SAFETY: the top version is alive while on the stack, and
                // the registry mutex (held) keeps it there.
                unsafe { site.top().as_ref() }
            } else {
                site.below(&f.version)
            };
            let extent = |c: CodeOf<&Version>| match c {
                CodeOf::Version(v) => v.new_extent,
                CodeOf::Original => site.extent,
            };
            for (side, out) in [(Affected::OldCode, &mut old_code), (Affected::NewCode, &mut new_code)] {
                for code in affected_code(side, below, &*f.version) {
                    let e = extent(code);
                    if !out.contains(&e) {
                        out.push(e, GFP_KERNEL)?;
                    }
                }
            }
        }
        // A task inside a direct-call trampoline is about to enter one of
        // the versions: its stack must not pass a check (direct.rs).
        let (tramp_start, tramp_end) = crate::direct::text();
        let tramps = Extent { start: tramp_start, end: tramp_end };
        old_code.push(tramps, GFP_KERNEL)?;
        new_code.push(tramps, GFP_KERNEL)?;
        let mut t = Transition::begin(direction, old_code, new_code)?;
        // Versions are marked before they are pushed (patch.rs: ordering 2).
        for f in p.funcs.iter() {
            f.version.set_transition(true);
        }
        if direction == Direction::Patching {
            let mut pushed = 0usize;
            let mut failed = None;
            for f in p.live_funcs() {
                // SAFETY: the version lives in the patch until it is popped
                // and every context synchronised (`complete`).
                if let Err(e) = unsafe { (*f.site).push(&f.version) } {
                    failed = Some((e, f.obj));
                    break;
                }
                pushed = pushed.wrapping_add(1);
            }
            if let Some((e, obj)) = failed {
                abort_begin(&p.funcs, pushed, t);
                // Upstream's messages for a failed enable (test-ftrace.sh).
                let oname = p.objects.get(obj).map_or(c_str!("?"), |o| &*o.name);
                pr_err!("failed to patch object '{}'\n", oname);
                // The rest of upstream's sequence ("failed to enable patch",
                // the cancelled transition, its callbacks) is
                // `callbacks::cancel`'s, which the caller runs.
                self.reap_sites();
                return Err(e);
            }
        }
        // Every function's calls go through the per-task decision before any
        // task may switch (direct.rs).
        for f in p.live_funcs() {
            // SAFETY: the site outlives the patch's versions; the caller
            // holds the registry mutex.
            unsafe { (*f.site).enter_transition() };
        }
        if let Err(e) = t.start() {
            pr_err!("'{}': cannot register the safe points ({})\n", &*p.name, e.to_errno());
            let pushed = if direction == Direction::Patching { p.live_funcs().count() } else { 0 };
            abort_begin(&p.funcs, pushed, t);
            self.reap_sites();
            return Err(e);
        }
        p.pushed = true;
        p.objs.set_patched(true);
        // Upstream's line exactly; the setup time goes to the stats line.
        pr_info!("'{}': starting {} transition\n", &*p.name, verb);
        self.running = Some(Running {
            patch: p.id,
            direction,
            transition: t,
            started_ns: now_ns(),
            setup_us: now_ns().wrapping_sub(setup_start) / 1000,
            reported: false,
            last_pass: KVec::new(),
        });
        // First attempt right away, as upstream does.
        // SAFETY: plain call.
        unsafe { sys::lg_schedule_transition_work(0) };
        Ok(())
    }

    /// One run of the transition work.
    fn work(&mut self) {
        self.retire();
        self.settle_sites();
        let name = match self.running.as_ref().and_then(|r| self.patch_index(r.patch)) {
            Some(i) => self.patch_name(i),
            None => return,
        };
        let Some(run) = self.running.as_mut() else { return };
        let elapsed_ms = now_ns().wrapping_sub(run.started_ns) / 1_000_000;
        if let Err(e) = run.transition.rebuild() {
            pr_warn!("'{}': cannot rebuild the task table ({})\n", name, e.to_errno());
        }
        // SAFETY: plain call reading a module parameter.
        if run.transition.passes == 0 && unsafe { sys::lg_sweep_enabled() } {
            run.transition.sweep();
        }
        let mut done = run.transition.active().table().pending() == 0 && run.transition.verify();
        if !done {
            // SAFETY: plain calls reading the module parameters
            // `nudge_after_ms` and `report_after_ms` (see the glue).
            let (nudge_after, report_after) = unsafe { (sys::lg_nudge_after_ms(), sys::lg_report_after_ms()) };
            let nudge = elapsed_ms >= i64::from(nudge_after);
            let report = elapsed_ms >= i64::from(report_after) && !run.reported;
            // Room first: the pass reports under RCU, where pushing within
            // the capacity never allocates.
            let mut found = KVec::new();
            let _ = found.reserve(REPORT_MAX, GFP_KERNEL);
            let room = found.capacity().min(REPORT_MAX);
            let pending = run.transition.pass(nudge, &mut |p: Pending| {
                if found.len() < room {
                    let _ = found.push(p, GFP_ATOMIC);
                }
            });
            run.last_pass = found;
            if report {
                // Printed outside RCU, with symbol names.
                for p in run.last_pass.iter().take(32) {
                    report_pending(&name, p);
                }
            }
            if report {
                run.reported = true;
            }
            if nudge && run.transition.passes % 8 == 1 {
                // Not upstream's "signaling remaining tasks", which it prints
                // after 15 s: livegraft nudges from nudge_after_ms on.
                stats(format_args!("signaling remaining tasks\n"));
            }
            let untracked = run.transition.active().untracked_forks.load(Ordering::Relaxed);
            if untracked > 0 && !run.transition.full_reported {
                run.transition.full_reported = true;
                pr_warn!(
                    "'{}': task table full: {} new tasks are not tracked and the transition cannot complete; reverse it (write the opposite value to 'enabled')\n",
                    name,
                    untracked
                );
            }
            // A fork that failed even the reserve while its parent had
            // switched (`decide::Forked::Untracked { mixed }`).
            let mixed = run.transition.active().mixed_forks.load(Ordering::Relaxed);
            if mixed > 0 && !run.transition.mixed_reported {
                run.transition.mixed_reported = true;
                pr_err!(
                    "'{}': {} untracked new tasks were forked by tasks that had switched: they started in the other universe, and their first unit of work may have mixed versions\n",
                    name,
                    mixed
                );
            }
            done = pending == 0 && run.transition.verify();
        }
        if done {
            self.complete();
        } else if let Some(run) = self.running.as_ref() {
            let shift = run.transition.passes.min(8);
            let delay_ms = (1u32 << shift).min(MAX_RETRY_MS);
            // SAFETY: plain calls.
            unsafe { sys::lg_schedule_transition_work(sys::__msecs_to_jiffies(delay_ms) as _) };
        }
    }

    /// Completes the running transition (every task is in the target).
    fn complete(&mut self) {
        let Some(run) = self.running.take() else { return };
        let Some(i) = self.patch_index(run.patch) else { return };
        let name = self.patch_name(i);
        let Some(Some(p)) = self.patches.as_mut_slice().get_mut(i) else { return };
        let verb = if run.direction == Direction::Patching { "patching" } else { "unpatching" };
        pr_info!("'{}': completing {} transition\n", name, verb);
        let id = p.id;
        run.transition.stop_switching();
        if run.direction == Direction::Patching {
            // From here on the handler redirects unconditionally.
            for f in p.funcs.iter() {
                f.version.set_transition(false);
            }
        } else {
            for f in p.live_funcs() {
                // SAFETY: the patch is on top of every site (stack order).
                unsafe { (*f.site).pop(&f.version) };
            }
            p.pushed = false;
            p.objs.set_patched(false);
            // A function that keeps older versions keeps its decision: wait
            // until no CPU can still use a popped version. Functions left
            // with none are unhooked by `drop_patch` below, whose
            // unregistration waits for that, before the patch (and its
            // module) may go.
            // SAFETY: the sites outlive their versions.
            if p.live_funcs().any(|f| unsafe { !(*f.site).is_empty() }) {
                // SAFETY: plain call in process context.
                unsafe { sys::lg_synchronize_all_contexts() };
            }
            for f in p.funcs.iter() {
                f.version.set_transition(false);
            }
        }
        if let Ok(step) = logic::next(self.state, id, p.state, Event::AllSwitched) {
            if let Ok(done) = logic::next(step.transition, id, step.patch, Event::CompletionDone) {
                self.state = done.transition;
            }
        }
        self.state = TransitionState::Idle;
        let objs = p.objs;
        // The callbacks see the replaced patches still registered (their
        // states are klp_get_prev_state()'s), as upstream's post-patch
        // callbacks do: klp_complete_transition() runs them before
        // klp_free_replaced_patches_async() removes those patches.
        crate::callbacks::complete(
            objs,
            if run.direction == Direction::Patching {
                crate::logic::compat::Completion::PostPatch
            } else {
                crate::logic::compat::Completion::PostUnpatch
            },
        );
        crate::state::set_transition(core::ptr::null_mut());
        if run.direction == Direction::Patching {
            // An atomic replace: the replaced patches go (replace.rs).
            self.finish_replace(id);
        }
        pr_info!("'{}': {} complete\n", name, verb);
        // Where the tasks switched, for whoever follows the transition in
        // dmesg: a line of its own, without the patch's name or the
        // `livegraft:` prefix, so that the message sequence of a patch is
        // upstream's exactly (the conformance runner compares it).
        let mut line = [0u8; 200];
        let mut out = Buf { buf: &mut line, len: 0 };
        let a = run.transition.active();
        let _ = write!(
            out,
            "{} transition: setup {} us, switched in {} ms:",
            verb,
            run.setup_us,
            now_ns().wrapping_sub(run.started_ns) / 1_000_000
        );
        for (k, c) in KIND_NAMES.iter().zip(a.switched.iter()) {
            let n = c.load(Ordering::Relaxed);
            if n != 0 {
                let _ = write!(out, " {}={}", k, n);
            }
        }
        let len = out.len;
        if let Some(Ok(text)) = line.get(..len).map(core::str::from_utf8) {
            stats(format_args!("{}\n", text));
        }
        if run.direction == Direction::Unpatching {
            self.drop_patch(id);
        }
        // The per-task machinery (hooks, table) is retired right after, by
        // the work, so that completion is not delayed by the hooks'
        // unregistration; no task consults it any more.
        self.retiring = Some(run.transition);
        // SAFETY: plain call.
        unsafe { sys::lg_schedule_transition_work(0) };
    }

    /// Removes the hooks and the task table of the last completed
    /// transition: after `unhook()` no probe runs, after the sync no
    /// handler can still be reading the table (it stopped consulting it
    /// when the versions left the transition).
    fn retire(&mut self) {
        if let Some(mut t) = self.retiring.take() {
            // The versions left the transition at completion, before this:
            // the unhooking's synchronisation (SafePoints::unregister_all)
            // also covers every decision that could still read the table.
            t.unhook();
            t.dispose_synchronized();
        }
    }

    /// Registers the PERMANENT anchor (direct.rs) before patch `i` patches
    /// anything, as upstream registers its ftrace ops PERMANENT: with
    /// `kernel.ftrace_enabled` 0 the enable fails with EBUSY and upstream's
    /// messages (test-ftrace.sh), and while any function is patched the
    /// sysctl cannot be set to 0.
    fn pin_ftrace(&mut self, i: usize) -> Result {
        let Some(Some(p)) = self.patches.get(i) else { return Err(ENOENT) };
        let Some(first) = p.live_funcs().next() else { return Ok(()) };
        if self.anchor.is_some() {
            return Ok(());
        }
        match crate::direct::PermanentAnchor::new() {
            Ok(a) => {
                self.anchor = Some(a);
                Ok(())
            }
            Err(e) => {
                let oname = p.objects.get(first.obj).map_or(c_str!("?"), |o| &*o.name);
                pr_err!("failed to register ftrace handler for function '{}' ({})\n", &*first.name, e.to_errno());
                pr_err!("failed to patch object '{}'\n", oname);
                // The rest of upstream's sequence ("failed to enable patch",
                // the cancelled transition, its callbacks) is
                // `callbacks::cancel`'s, which the caller runs.
                Err(e)
            }
        }
    }

    /// With no transition running or being set up (the transition work
    /// only), functions left without versions are unhooked, and the others
    /// take the retired fast path (direct calls). Not from `begin`: the
    /// sites of the patch being set up are still empty there.
    fn settle_sites(&mut self) {
        if self.running.is_some() || self.state != TransitionState::Idle {
            return;
        }
        self.reap_sites();
        let patching = self.sites.iter().flatten().next().is_some();
        if patching && self.anchor.is_none() {
            // Before any handler (PERMANENT) gives way to a direct call.
            match crate::direct::PermanentAnchor::new() {
                Ok(a) => self.anchor = Some(a),
                Err(e) => {
                    pr_warn!("cannot pin ftrace on ({}); keeping the ftrace handlers\n", e.to_errno());
                    return;
                }
            }
        } else if !patching {
            self.anchor = None;
        }
        for site in self.sites.iter_mut().flatten() {
            site.go_fast();
        }
    }

    fn show(&mut self, i: usize, attr: u32, out: &mut Buf<'_>) {
        let running = self.running.as_ref();
        let Some(Some(p)) = self.patches.get(i) else { return };
        match attr {
            sys::LG_ATTR_ENABLED => {
                let _ = writeln!(out, "{}", p.state.enabled() as u8);
            }
            sys::LG_ATTR_TRANSITION => {
                let _ = writeln!(out, "{}", self.state.is_in_transition(p.id) as u8);
            }
            sys::LG_ATTR_REPLACE => {
                let _ = writeln!(out, "{}", p.replace as u8);
            }
            sys::LG_ATTR_STACK_ORDER => {
                let ids = self.patches.iter().flatten().map(|q| q.id.0);
                let order = crate::logic::replace::stack_order(ids, p.id.0).unwrap_or(0);
                let _ = writeln!(out, "{}", order);
            }
            sys::LG_ATTR_PENDING_TASKS => {
                // What the work's last pass found, minus the tasks that
                // switched (or were freed) since: a lock-free lookup each,
                // no walk, no stack check, no switch.
                if let Some(run) = running.filter(|r| r.patch == p.id) {
                    let table = run.transition.active().table();
                    let target = table.target();
                    let still = |t: &&Pending| matches!(table.lookup(t.key), Some(u) if u != target);
                    for t in run.last_pass.iter().filter(still) {
                        let _ = write!(out, "{} ", t.pid);
                        write_comm(out, &t.comm);
                        let _ = match t.why {
                            Why::Running => writeln!(out, " running"),
                            Why::Unreliable => writeln!(out, " unreliable-stack"),
                            Why::SleepingOn(addr) => {
                                let _ = write!(out, " sleeping-on ");
                                let _ = symbols::describe(addr, &mut *out);
                                writeln!(out)
                            }
                        };
                    }
                }
            }
            sys::LG_ATTR_SUMMARY => {
                let _ = writeln!(out, "state: {}", state_name(self.state, p.id));
                if let Some(run) = running.filter(|r| r.patch == p.id) {
                    let a = run.transition.active();
                    let _ = writeln!(
                        out,
                        "direction: {}\nelapsed_ms: {}\npending: {}\ntracked: {}\ntarget: {}\ntable_bytes: {}",
                        if run.direction == Direction::Patching { "patching" } else { "unpatching" },
                        now_ns().wrapping_sub(run.started_ns) / 1_000_000,
                        a.table().pending(),
                        a.table().live(),
                        if a.table().target() == Universe::Patched { "patched" } else { "unpatched" },
                        a.table().capacity().saturating_mul(core::mem::size_of::<crate::logic::task_table::Slot>()),
                    );
                    let _ = writeln!(out, "passes: {}", run.transition.passes);
                    for (k, c) in KIND_NAMES.iter().zip(a.switched.iter()) {
                        let _ = writeln!(out, "switched_{}: {}", k, c.load(Ordering::Relaxed));
                    }
                }
                let _ = writeln!(out, "forced: {}", p.state.forced as u8);
                let direct = p
                    .live_funcs()
                    // SAFETY: sites outlive the versions on their stacks.
                    .filter(|f| unsafe { (*f.site).is_fast() && (*f.site).top() == &*f.version as *const Version })
                    .count();
                let _ = writeln!(out, "fast_path: {}", direct);
            }
            _ => {}
        }
    }

    fn store(&mut self, i: usize, attr: u32, input: &[u8]) -> Result {
        let id = self.patches.get(i).and_then(|p| p.as_ref()).map(|p| p.id).ok_or(ENOENT)?;
        let value = parse_bool(input).ok_or(EINVAL)?;
        match attr {
            sys::LG_ATTR_ENABLED => {
                let pstate = self.patches.get(i).and_then(|p| p.as_ref()).map(|p| p.state).ok_or(ENOENT)?;
                let step = logic::enabled_write(self.state, id, pstate, value).map_err(|e| errno(-e.errno()))?;
                let event = if self.state.is_in_transition(id) {
                    Event::Reverse
                } else if value {
                    Event::Enable
                } else {
                    Event::Disable
                };
                self.apply(i, id, event, step)
            }
            sys::LG_ATTR_FORCE => {
                if !value {
                    return Err(EINVAL);
                }
                self.request(id, Event::Force)
            }
            _ => Err(EINVAL),
        }
    }
}

/// Undoes a transition that failed before any task switched: every task
/// still runs the initial universe, so it is enough to remove the hooks, pop
/// the first `pushed` versions, wait until no handler can use them, and drop
/// the table. The caller then reaps the sites left empty.
fn abort_begin(funcs: &KVec<PatchFunc>, pushed: usize, mut t: Transition) {
    t.unhook();
    for f in funcs.iter().filter(|f| !f.site.is_null()).take(pushed) {
        // SAFETY: the site outlives its versions; the caller holds the mutex.
        unsafe { (*f.site).pop(&f.version) };
    }
    // SAFETY: plain call; afterwards no handler uses the popped versions.
    unsafe { sys::lg_synchronize_all_contexts() };
    for f in funcs.iter() {
        f.version.set_transition(false);
    }
    drop(t);
}

fn state_name(s: TransitionState, id: PatchId) -> &'static str {
    match s {
        TransitionState::Running { patch, .. } if patch == id => "running",
        TransitionState::Initializing { patch, .. } if patch == id => "initializing",
        TransitionState::Completing { patch, .. } if patch == id => "completing",
        _ => "idle",
    }
}

/// Strict boolean: exactly `0` or `1`, optionally followed by one newline.
fn parse_bool(input: &[u8]) -> Option<bool> {
    match input {
        b"0" | b"0\n" => Some(false),
        b"1" | b"1\n" => Some(true),
        _ => None,
    }
}

fn write_comm(out: &mut Buf<'_>, comm: &[u8; 16]) {
    for &c in comm.iter().take_while(|&&c| c != 0) {
        let _ = out.write_char(if c.is_ascii_graphic() { c as char } else { '?' });
    }
}

/// A line of livegraft's own details (timing, switch counts, nudges,
/// stalled tasks), with the prefix `livegraft-stats: ` and never a patch's
/// name: a patch's message sequence (lines with `livegraft: ` or its name)
/// stays upstream livepatch's exactly, which the conformance runner and
/// the compat scenarios compare line by line.
fn stats(args: core::fmt::Arguments<'_>) {
    // SAFETY: one of `format_strings`, and a NUL-terminated prefix of the
    // line's own, not the module's.
    unsafe {
        kernel::print::call_printk(&kernel::print::format_strings::INFO, b"livegraft-stats\0", args)
    };
}

/// One stalled-task line: `livegraft-stats: pending: comm:pid is ...`
/// (upstream's debug lines say `klp_try_switch_task: comm:pid is ...`).
fn report_pending(_patch: &Name, p: &Pending) {
    let mut b = [0u8; 256];
    let mut w = Buf { buf: &mut b, len: 0 };
    write_comm(&mut w, &p.comm);
    let _ = write!(w, ":{} ", p.pid);
    let _ = match p.why {
        Why::Running => write!(w, "is running"),
        Why::Unreliable => write!(w, "has an unreliable stack"),
        Why::SleepingOn(addr) => {
            let _ = write!(w, "is sleeping on function ");
            symbols::describe(addr, &mut w)
        }
    };
    let len = w.len;
    let line = core::str::from_utf8(b.get(..len).unwrap_or(&[])).unwrap_or("?");
    stats(format_args!("pending: {}\n", line));
}

/// A patch name copied out of the registry (names are at most 55 bytes).
struct Name {
    buf: [u8; 56],
    len: usize,
}

impl core::fmt::Display for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(core::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("?"))
    }
}

/// A `core::fmt::Write` into a fixed buffer (a sysfs page), truncating.
struct Buf<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Write for Buf<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for &c in s.as_bytes() {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = c;
                self.len = self.len.wrapping_add(1);
            }
        }
        Ok(())
    }
}

// --- C entry points --------------------------------------------------------------

/// The transition work (see the glue).
#[no_mangle]
extern "C" fn lg_transition_work_fn() {
    with_registry(|reg| reg.work());
}

/// sysfs show of a patch attribute.
#[no_mangle]
extern "C" fn lg_rust_patch_show(kobj: *mut sys::kobject, attr: i32, buf: *mut c_char) -> isize {
    // SAFETY: sysfs passes a PAGE_SIZE buffer.
    let page = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), 4096) };
    let mut out = Buf { buf: page, len: 0 };
    let found = with_registry(|reg| {
        let Some(i) = reg.patch_by_kobj(kobj) else { return false };
        reg.show(i, attr as u32, &mut out);
        true
    });
    match found {
        Some(true) => out.len as isize,
        _ => ENODEV.to_errno() as isize,
    }
}

/// sysfs store of a patch attribute.
#[no_mangle]
extern "C" fn lg_rust_patch_store(kobj: *mut sys::kobject, attr: i32, buf: *const c_char, count: usize) -> isize {
    // SAFETY: sysfs passes `count` readable bytes.
    let input = unsafe { core::slice::from_raw_parts(buf.cast::<u8>(), count) };
    let res = with_registry(|reg| {
        let i = reg.patch_by_kobj(kobj).ok_or(ENODEV)?;
        reg.store(i, attr as u32, input)
    });
    match res {
        Some(Ok(())) => count as isize,
        Some(Err(e)) => e.to_errno() as isize,
        None => ENODEV.to_errno() as isize,
    }
}
