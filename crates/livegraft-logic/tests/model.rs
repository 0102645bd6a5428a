//! Model test: a deterministic random simulation of livegraft's kernel protocol, built on the
//! real `TaskTable`, the real state machine (`transition::{next, enabled_write}`) and the real
//! kernel-side decisions (`decide::{select_version, task_forked, switch_at, universe_of}`,
//! `stack_verdict::{judge, judge_stable, affected_for, affected_code, late_code}`,
//! `replace::{reverted, at_replace_end, coming}`): the module calls these very functions at
//! every decision (`src/patch.rs`, `src/transition.rs`, `src/stack.rs`, `src/core.rs`,
//! `src/replace.rs`, `src/objects.rs`), so the rules the module runs are the rules the model
//! exercises, with no
//! second copy here. The seeded bugs replay earlier kernel rules; the one rule the kernel no
//! longer has (the return-address rule for calls of the original) lives here, as that bug.
//!
//! # What is simulated
//!
//! * **Patches** (up to 8, each replacing a random subset of 6 functions; function 3 lives in
//!   `.sched.text`, functions 4 and 5 in a module) loaded, enabled, disabled (in stack order, as
//!   the kernel requires), reversed and forced; per function a **version stack** whose versions
//!   carry the kernel's `in_transition` flag.
//! * **Atomic replace**: some patches are cumulative; they replace every enabled patch in one
//!   transition, with a nop (the original) for each function only the replaced patches touch;
//!   the completion unhooks the nops' functions, cuts the replaced versions and disables the
//!   replaced patches; a reversal pops the versions and nops.
//! * **An object loaded later**: the module loads (in a user task's `finit_module`, its init
//!   calling into it) and unloads at any time between the transition work's steps; every
//!   registered patch's versions are pushed before the init, marked for the patch in transition,
//!   whose stack checks then include the module's code; the unload empties its stacks.
//! * **Tasks** with a **call stack**: user tasks (user mode, syscalls, exit), kthreads (loop
//!   iterations; some run their loop *inside* a patched function), kworkers (work items), idle
//!   tasks (idle-loop iterations). Frames of old and new code nest; a task sleeps or is
//!   interrupted inside any frame; a tail call replaces the top frame; a replacement calls the
//!   function it replaces by an explicit call of the original (no decision); hard and soft
//!   interrupts nest on a running task and run patched code with the task's universe; exiting
//!   tasks run the exit path before they become zombies; a forked child starts on
//!   `ret_from_fork` and continues its parent's unit of work (it returns from the same fork).
//! * **Every call** of a patched function goes through the redirect decision with the task's
//!   universe as the published table says (or [`decide::NO_TABLE_UNIVERSE`] while none is).
//! * **The transition's steps, each a separate step** with task activity in between:
//!   publish the table, register fork/free tracking, the walk inserting tasks one by one, mark
//!   each version in transition, push each version, start switching; completion's stop, the
//!   per-function clears and pops; reversal's stop, reverse, start; the table rebuild's stop,
//!   copy and restart.
//! * **Switches** at every safe point through `decide::switch_at` (task context only; stack
//!   checks of the current task at loop heads, work-item ends, `cond_resched`, the return to
//!   user mode and between idle-loop iterations; pinned stack checks of blocked tasks by the
//!   transition work and of idle tasks parked off a busy CPU), judged with
//!   `stack_verdict::judge*` on the task's simulated stack against the kernel's affected code.
//!
//! # What is checked (after every step)
//!
//! * (a) **No unit of work mixes a patch**: every call is recorded with the version it ran
//!   (the original included, and calls made before a version was pushed), and each record says,
//!   per patch covering the function (or with a nop on it), "applied" or "not applied": whether
//!   the patch is in the *world* of the version that ran (fixed at its push: the world below,
//!   minus what its patch replaces, plus its patch); a record that holds both is a
//!   violation. Records: the task's unit of work (a syscall, a kthread iteration, a work item, an
//!   idle iteration, the exit path, a forked child's return from fork), every call tree rooted in
//!   an outermost patched frame, and every hard or soft interrupt. A task switched mid-unit by a
//!   stack check (a blocked task, `cond_resched`) keeps only upstream's guarantee (no affected
//!   function on the stack): its unit record is then exempt, its call-tree records are not.
//!   `force` exempts the records it breaks (it is unsafe by design).
//! * (s) **At every switch, no frame on the task's stack belongs to the code it leaves**, and no
//!   switch happens with an interrupt frame on the stack.
//! * (b) A transition completes only when no task is pending (an independent shadow of each
//!   task's universe, kept from the `SwitchResult`s, must agree).
//! * (c) `pending()` equals a recount by scan and the shadow count, every lookup agrees with the
//!   shadow, `live()` equals the number of tracked tasks.
//! * (l) A call never loops back into the replacement it came from.
//! * (r) When a replace completes, no replaced version and no nop is left on any stack.
//!
//! `Bug` injects a seeded bug; the `model_catches_*` tests assert that the checker reports it, so
//! the checker itself is tested. `LG_MODEL_SEEDS` / `LG_MODEL_STEPS` scale the search (the
//! default keeps `cargo test` fast; `model_holds_long` is the big, ignored run).

use livegraft_logic::decide::{
    self, select_version, switch_at, task_forked, Context, Forked, SafePoint,
};
use livegraft_logic::replace::{
    at_replace_end, coming, newer_on_top, reverted, Coming, FuncTop, ReplaceEnd,
};
use livegraft_logic::stack_verdict::{
    affected_code, affected_for, judge, judge_stable, late_code, Affected, CodeOf, Verdict,
};
use livegraft_logic::task_table::{Inserted, Removed, Slot, SwitchResult, TaskTable, Universe};
use livegraft_logic::transition::{
    enabled_write, next, Direction, Event, Patch, PatchId, PatchState, TransitionError,
    TransitionState,
};

/// A bug to inject into the simulated kernel (or into the rules it runs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Bug {
    /// The correct protocol.
    #[default]
    None,
    /// The stack-check verdict is always "clean".
    VerdictAlwaysClean,
    /// A forked child gets the target universe instead of its parent's.
    ForkChildGetsTarget,
    /// The completion work trusts the "last switched" signal that queued it and completes
    /// without rechecking `pending()` and scanning (a reversal may have happened since).
    CompleteOnStaleSignal,
    /// `choose()` never returns `UseOlder`.
    ChooseNeverOlder,
    /// Tasks in the middle of a unit of work when patching starts are inserted straight into the
    /// patched universe.
    MidUnitIntoPatched,
    /// Versions are pushed before they are marked in transition.
    PushBeforeMark,
    /// Versions are marked in transition before the table is published.
    MarkBeforePublish,
    /// The table accepts switches before it is published (and before the versions are marked
    /// and pushed).
    StartBeforePublish,
    /// The table accepts switches after the marks but before the versions are pushed.
    StartBeforePush,
    /// Unpatching completion clears `in_transition` before it pops the versions.
    UnpatchClearBeforePop,
    /// The kthread loop-head safe point skips its stack check.
    LoopHeadNoStackCheck,
    /// A replacement calls the function it replaces through the trampoline, relying on the
    /// return-address rule of ABI 1 ([`redirect_by_caller`]), and does so by a tail call.
    TailCallViaReturnAddress,
    /// A patch may be disabled although a newer patch also replaces one of its functions.
    DisableOutOfOrder,
    /// Today's tick rule: the hard interrupt that finds a task in user mode switches it.
    TickSwitchInHardirq,
    /// Today's work-item rule in softirq: a BH work item's end switches the interrupted task.
    BhWorkItemSwitch,
    /// Today's idle rule: the idle task switches at `cpu_idle`, mid-iteration, without a check.
    IdleSwitchMidIteration,
    /// Stack checks of other tasks miss `.sched.text` frames (`stack_trace_save_tsk()`).
    SchedFramesHidden,
    /// The affected code is the versions only, not the originals a replacement may have
    /// entered past their fentry by a tail call (the kernel's `old_code`/`new_code` before
    /// VM scenario 55).
    AffectedWithoutOriginal,
    /// An atomic replace adds no nops: the functions only the replaced patches touch keep the
    /// replaced versions for the tasks that switch, until the completion drops them at once.
    ReplaceWithoutNops,
    /// The unpatching completion of a reversed replace pops the cumulative patch's versions but
    /// not its nops (they stay on top, out of transition: every task runs the original).
    ReplaceReverseKeepsNops,
    /// The stack checks of a replace see no replaced version under a nop (its affected code is
    /// computed as if the function were unpatched before).
    ReplaceCheckBlindToReplaced,
    /// A module loading during a transition gets the versions of the patch in transition pushed
    /// out of transition (`replace::coming`'s `in_transition` ignored).
    LateObjectUnmarked,
    /// A module's functions are patched after its init ran (at `MODULE_STATE_LIVE`, not
    /// `COMING`).
    LateObjectAfterInit,
    /// The transition's stack checks miss the functions of a module loaded during it (no
    /// `add_late_code`).
    LateCodeUnchecked,
    /// A module's unload leaves the versions on its functions' stacks (the sites are forgotten,
    /// not emptied): they are there again when it loads again.
    UnloadKeepsVersions,
    /// The stack-order rule of a disable looks at the functions with a site only (the kernel's
    /// `check_stack_order` until the model found it): a patch is disabled although a newer one
    /// also replaces a function of a module that is not loaded; the module loads during the
    /// unpatching, and the newer version lands above the one in transition.
    StackOrderLoadedOnly,
}

/// The redirect's last step until ABI 2 (seeded bug `TailCallViaReturnAddress` only; the kernel
/// has no such rule any more): a call whose return address lies in the selected version's own
/// replacement ran the original (`None`), so that a replacement calling the function it replaces
/// did not call itself. Wrong for a tail call (`return orig(x);` compiled to `jmp`): the return
/// address is then the replacement's caller, and the call loops back into the replacement
/// (issue 13, item 2).
fn redirect_by_caller<V: Copy>(
    selected: Option<V>,
    called_from: impl FnOnce(V) -> bool,
) -> Option<V> {
    match selected {
        Some(v) if !called_from(v) => Some(v),
        _ => None,
    }
}

/// Functions 0..KERNEL_FUNCS are vmlinux's, the others a module's, loaded and unloaded at random
/// (a patch's object loaded later).
const NFUNCS: usize = 6;
const KERNEL_FUNCS: usize = 4;
/// The function that lives in `.sched.text`.
const SCHED_FUNC: usize = 3;

fn in_module(f: usize) -> bool {
    f >= KERNEL_FUNCS
}
const MAX_TASKS: usize = 24;
const MAX_PATCHES: usize = 8;
const MAX_DEPTH: usize = 7;

/// xorshift64* PRNG: deterministic per seed.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03 | 1)
    }
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// True with probability `per_mille`/1000.
    fn chance(&mut self, per_mille: u32) -> bool {
        (self.next_u64() % 1000) < per_mille as u64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    User,
    Kthread,
    Kworker,
    Idle,
}

/// What one unit of work (or call tree, or interrupt) has seen.
#[derive(Clone, Debug)]
struct Record {
    what: &'static str,
    /// A call-tree record of a frame of this function: only the patches replacing it count
    /// (upstream's guarantee is about call trees rooted in a function of the patch).
    only: Option<usize>,
    /// (patch, applied, function, version) of the first call that told about the patch.
    seen: Vec<(u32, bool, usize, u32)>,
    /// Not checked any more (force; or, for a task's unit, a mid-unit stack-check switch).
    exempt: bool,
    /// A unit of work continued by a child the fork hook could not track (table full) although
    /// the parent ran it in another universe than the child runs in.
    untracked_fork: bool,
}

impl Record {
    fn new(what: &'static str) -> Record {
        Record {
            what,
            only: None,
            seen: Vec::new(),
            exempt: false,
            untracked_fork: false,
        }
    }

    fn call_tree(f: usize) -> Record {
        Record {
            only: Some(f),
            ..Record::new("call tree")
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum IrqKind {
    Hard,
    Soft,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Code {
    /// Unpatched kernel code (syscall body, kthread function, worker, idle loop, exit path).
    Base(&'static str),
    /// Version `v` (0: the original) of patched function `f`; `via`: the original entered past
    /// its fentry by the replacement of version `via` (no decision: part of its work); `nop`:
    /// the original run because the decision selected this cumulative patch's nop.
    Patched {
        f: usize,
        v: u32,
        via: Option<u32>,
        nop: Option<u32>,
    },
    /// An interrupt nested on the task.
    Irq(IrqKind),
}

#[derive(Clone, Debug)]
struct Frame {
    code: Code,
    /// The records this frame opened (a patched frame: its call tree, and after a tail call
    /// that of the frame it replaced; an interrupt: the interrupt's).
    recs: Vec<Record>,
    /// On the stack when a transition was forced: (s) does not apply to it any more.
    forced: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Run {
    /// A user task in user mode: no kernel frame.
    UserMode,
    /// Running (or runnable) kernel code.
    Kernel,
    /// Sleeping inside its top frame; the transition work may pin it and check its stack.
    Blocked,
}

#[derive(Clone, Debug)]
struct Task {
    key: usize,
    kind: Kind,
    /// Exited, not yet freed: never runs again, still in the task list.
    zombie: bool,
    /// Rarely reaches the end of its unit of work.
    stubborn: bool,
    run: Run,
    frames: Vec<Frame>,
    /// Frames below the unit of work (the kthread function, the worker, the idle loop; for a
    /// kthread whose loop runs inside a patched function, that frame too).
    base: usize,
    unit: Option<Record>,
    /// Takes the exit path at the end of its current unit.
    exiting: bool,
    /// The idle task passed `cpu_idle` in this iteration.
    idle_mid: bool,
    /// Independent shadow of the task's table entry during a transition, `None` if untracked.
    shadow: Option<Universe>,
    /// A child the fork hook could not track (table full): whether its parent was in another
    /// universe than the table's default (the one the child then runs in).
    untracked_fork: Option<bool>,
    /// Left untracked by a forced completion, which flips it: not checked any more.
    tainted: bool,
}

impl Task {
    fn in_irq(&self) -> Option<IrqKind> {
        self.frames.iter().rev().find_map(|fr| match fr.code {
            Code::Irq(k) => Some(k),
            _ => None,
        })
    }
    fn context(&self) -> Context {
        match self.in_irq() {
            None => Context::Task,
            Some(IrqKind::Soft) => Context::SoftIrq,
            Some(IrqKind::Hard) => Context::HardIrq,
        }
    }
}

/// A protocol violation found by the checker.
#[derive(Clone, Debug)]
pub struct Violation {
    pub seed: u64,
    pub step: usize,
    pub msg: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seed {} step {}: {}", self.seed, self.step, self.msg)
    }
}

/// Counters showing what a run exercised.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub transitions_started: usize,
    pub refused_starts: usize,
    pub completed: usize,
    pub reversals: usize,
    pub forced: usize,
    pub switches: usize,
    pub stack_switches: usize,
    pub stack_refusals: usize,
    pub forks: usize,
    pub untracked_forks: usize,
    /// Untracked forks whose parent was in the other universe (the rule's `mixed`).
    pub mixed_forks: usize,
    pub frees: usize,
    pub calls: usize,
    /// Calls that ran an older version because the task was in the unpatched universe.
    pub older_calls: usize,
    /// Calls made while a transition was being set up or torn down (between its split steps).
    pub calls_in_setup: usize,
    pub irq_calls: usize,
    pub tail_calls: usize,
    pub original_calls: usize,
    pub sleeps: usize,
    /// Stack checks of idle tasks parked off a busy CPU.
    pub parked_checks: usize,
    pub exits: usize,
    pub order_refusals: usize,
    pub stale_signals: usize,
    pub max_tombstones: usize,
    pub rebuilds: usize,
    pub fsm_checks: usize,
    /// Calls that ran the original through a cumulative patch's nop.
    pub nop_calls: usize,
    pub module_calls: usize,
    pub module_loads: usize,
    /// Module loads while a transition runs.
    pub late_loads: usize,
    /// Nops pushed by a module load (during their replace transition).
    pub late_nops: usize,
    pub module_unloads: usize,
    /// Enables of a cumulative patch that replaces others.
    pub replaces: usize,
    pub replaces_completed: usize,
    /// Replace transitions that completed as unpatching after a reversal.
    pub replaces_reverted: usize,
}

impl Stats {
    fn add(&mut self, o: &Stats) {
        macro_rules! sum {
            ($($f:ident),*) => { $( self.$f += o.$f; )* };
        }
        sum!(
            transitions_started,
            refused_starts,
            completed,
            reversals,
            forced,
            switches,
            stack_switches,
            stack_refusals,
            forks,
            untracked_forks,
            mixed_forks,
            frees,
            calls,
            older_calls,
            calls_in_setup,
            irq_calls,
            tail_calls,
            original_calls,
            sleeps,
            parked_checks,
            exits,
            order_refusals,
            stale_signals,
            rebuilds,
            fsm_checks,
            nop_calls,
            module_calls,
            module_loads,
            late_loads,
            late_nops,
            module_unloads,
            replaces,
            replaces_completed,
            replaces_reverted
        );
        self.max_tombstones = self.max_tombstones.max(o.max_tombstones);
    }
}

/// Why a transition phase returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PhaseEnd {
    Completed,
    OutOfSteps,
    /// The table asked for a rebuild and the rebuild work runs now.
    Rebuild,
}

/// One version on a function's stack.
#[derive(Clone, Debug)]
struct Ver {
    patch: u32,
    in_transition: bool,
    /// A nop of a cumulative patch: its code is the original.
    nop: bool,
    /// The patches whose work a task running this version sees (for check (a)): those of the
    /// version below it when it was pushed (none for the original), minus those its patch
    /// replaces, plus its patch.
    world: Vec<u32>,
}

struct LoadedPatch {
    id: PatchId,
    state: Patch,
    /// Until its replace transition is over: the patches a cumulative patch replaces.
    replaces: Vec<u32>,
    /// The functions it has a nop for (a cumulative patch).
    nops: [bool; NFUNCS],
    /// Its versions are on the stacks (from its patching setup until its unpatching completes).
    pushed: bool,
}

/// Run configuration.
#[derive(Clone, Copy, Debug)]
struct Config {
    bug: Bug,
    /// Table slots (power of two); `None`: 4 slots per task (odd seeds) or 2 (even seeds).
    cap: Option<usize>,
    /// Whether the transition work rebuilds a table loaded above 1/2.
    rebuilds: bool,
}

struct Sim {
    seed: u64,
    rng: Rng,
    cfg: Config,
    step: usize,
    max_steps: usize,
    tasks: Vec<Task>,
    /// Freed task_struct addresses, reused LIFO like a slab.
    free_addrs: Vec<usize>,
    /// Functions each patch replaces (index: patch id - 1), fixed for the whole run so that
    /// calls made before a patch is even loaded are judged too.
    defs: Vec<[bool; NFUNCS]>,
    stacks: [Vec<Ver>; NFUNCS],
    patches: Vec<LoadedPatch>,
    next_patch: u32,
    transition: TransitionState,
    /// The table is published to the decisions (`ACTIVE`).
    published: bool,
    /// Fork and free tracking hooks are registered.
    lifecycle: bool,
    /// Universe the verification walk inserts untracked tasks in (force sets it to the target).
    walk_universe: Universe,
    /// Code a task must not have on its stack to switch to Patched / to Unpatched (addresses,
    /// captured when the transition begins, as the kernel does).
    old_code: Vec<usize>,
    new_code: Vec<usize>,
    /// Code added to both sides by modules loaded during the transition.
    late_code: Vec<usize>,
    /// The module of functions KERNEL_FUNCS.. is loaded.
    module_loaded: bool,
    /// `rmmod` waits for the module's users: no new calls into it.
    module_going: bool,
    /// The completion work is queued.
    completion_queued: bool,
    /// A transition step is in progress (setup or teardown).
    in_setup: bool,
    stats: Stats,
    /// `LG_MODEL_TRACE=<seed>`: print every event of that seed.
    trace: bool,
}

type Res<T> = Result<T, Violation>;

/// Whether patch `patch` replaces function `f`.
fn self_covers(defs: &[[bool; NFUNCS]], patch: u32, f: usize) -> bool {
    patch >= 1 && defs.get(patch as usize - 1).is_some_and(|d| d[f])
}

/// The return address a frame of `code` leaves on the stack.
fn addr(code: Code) -> usize {
    match code {
        Code::Base(_) => 0x10,
        Code::Irq(_) => 0x20,
        Code::Patched { f, v, .. } => ((f + 1) << 20) | v as usize,
    }
}

impl Sim {
    fn new(seed: u64, cfg: Config, max_steps: usize) -> Sim {
        let mut rng = Rng::new(seed);
        let defs = (0..MAX_PATCHES)
            .map(|_| loop {
                let mut funcs = [false; NFUNCS];
                for f in &mut funcs {
                    *f = rng.chance(450);
                }
                if funcs.iter().any(|&b| b) {
                    break funcs;
                }
            })
            .collect();
        let mut sim = Sim {
            seed,
            rng,
            cfg,
            step: 0,
            max_steps,
            tasks: Vec::new(),
            free_addrs: Vec::new(),
            defs,
            stacks: Default::default(),
            patches: Vec::new(),
            next_patch: 1,
            transition: TransitionState::Idle,
            published: false,
            lifecycle: false,
            walk_universe: Universe::Unpatched,
            old_code: Vec::new(),
            new_code: Vec::new(),
            late_code: Vec::new(),
            module_loaded: false,
            module_going: false,
            completion_queued: false,
            in_setup: false,
            stats: Stats::default(),
            trace: std::env::var("LG_MODEL_TRACE").is_ok_and(|v| v == seed.to_string()),
        };
        // Two idle tasks (one per CPU), then a mix of user tasks, kthreads and kworkers.
        for _ in 0..2 {
            sim.spawn(Kind::Idle, false, None);
        }
        let n = 4 + sim.rng.below(10);
        for _ in 0..n {
            let kind = match sim.rng.below(10) {
                0..=5 => Kind::User,
                6..=7 => Kind::Kthread,
                _ => Kind::Kworker,
            };
            let stubborn = kind != Kind::User && sim.rng.chance(250);
            let ti = sim.spawn(kind, stubborn, None);
            // Some kthreads run their whole loop inside a patched function (it never returns;
            // nothing is patched yet, so it is the original).
            if kind == Kind::Kthread && sim.rng.chance(300) {
                let f = sim.rng.below(KERNEL_FUNCS);
                let t = &mut sim.tasks[ti];
                t.frames.push(Frame {
                    code: Code::Patched {
                        f,
                        v: 0,
                        via: None,
                        nop: None,
                    },
                    recs: vec![Record::call_tree(f)],
                    forced: false,
                });
                t.base = 2;
            }
        }
        sim
    }

    fn log(&self, what: impl FnOnce() -> String) {
        if self.trace {
            eprintln!("[{}] {}", self.step, what());
        }
    }

    fn bug(&self) -> Bug {
        self.cfg.bug
    }

    fn violation(&self, msg: String) -> Violation {
        Violation {
            seed: self.seed,
            step: self.step,
            msg,
        }
    }

    /// A task_struct address: a recently freed one (slab reuse, LIFO) or a random 64-byte
    /// aligned address. (Consecutive addresses would hash perfectly evenly and never exercise
    /// probing, tombstones and their reclamation.)
    fn alloc_addr(&mut self) -> usize {
        if !self.free_addrs.is_empty() && self.rng.chance(500) {
            return self.free_addrs.pop().unwrap();
        }
        loop {
            let a = 0xffff_8880_0000_0000usize + self.rng.below(1 << 24) * 64;
            if !self.tasks.iter().any(|t| t.key == a) && !self.free_addrs.contains(&a) {
                return a;
            }
        }
    }

    /// A new task: its base frames and its first unit of work (`unit`: a forked child continues
    /// its parent's).
    fn spawn(&mut self, kind: Kind, stubborn: bool, unit: Option<Record>) -> usize {
        let key = self.alloc_addr();
        let mut frames = Vec::new();
        let mut run = Run::Kernel;
        let mut base = 1;
        let mut first_unit = unit;
        match kind {
            Kind::User => {
                if first_unit.is_some() {
                    // A forked child returns from fork through ret_from_fork.
                    frames.push(Frame {
                        code: Code::Base("ret_from_fork"),
                        recs: Vec::new(),
                        forced: false,
                    });
                    base = 0;
                } else {
                    run = Run::UserMode;
                    base = 0;
                }
            }
            Kind::Kthread => frames.push(Frame {
                code: Code::Base("kthread"),
                recs: Vec::new(),
                forced: false,
            }),
            Kind::Kworker => frames.push(Frame {
                code: Code::Base("worker_thread"),
                recs: Vec::new(),
                forced: false,
            }),
            Kind::Idle => frames.push(Frame {
                code: Code::Base("do_idle"),
                recs: Vec::new(),
                forced: false,
            }),
        }
        if kind != Kind::User && first_unit.is_none() {
            first_unit = Some(Record::new(match kind {
                Kind::Kthread => "kthread iteration",
                Kind::Kworker => "work item",
                _ => "idle iteration",
            }));
        }
        self.tasks.push(Task {
            key,
            kind,
            zombie: false,
            stubborn,
            run,
            frames,
            base,
            unit: first_unit,
            exiting: false,
            idle_mid: false,
            shadow: None,
            untracked_fork: None,
            tainted: false,
        });
        self.tasks.len() - 1
    }

    fn pick_task(&mut self, pred: impl Fn(&Task) -> bool) -> Option<usize> {
        let candidates: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| pred(&self.tasks[i]))
            .collect();
        if candidates.is_empty() {
            None
        } else {
            Some(candidates[self.rng.below(candidates.len())])
        }
    }

    fn patch_index(&self, id: PatchId) -> usize {
        self.patches.iter().position(|p| p.id == id).unwrap()
    }

    fn covers(&self, patch: u32, f: usize) -> bool {
        self_covers(&self.defs, patch, f)
    }

    /// Whether a call of `f` tells about `patch` (check (a)): it replaces `f`, or has a nop for
    /// it on the stack (during its replace transition).
    fn cares(&self, patch: u32, f: usize) -> bool {
        self.covers(patch, f) || self.stacks[f].iter().any(|v| v.nop && v.patch == patch)
    }

    /// Whether `f` has a site: vmlinux's functions, and the module's while it is loaded (the
    /// kernel's `live_funcs`).
    fn live(&self, f: usize) -> bool {
        !in_module(f) || self.module_loaded
    }

    fn loaded(&self, id: u32) -> Option<&LoadedPatch> {
        self.patches.iter().find(|p| p.id.0 == id)
    }

    /// The functions of patch `id` with a site, with whether each is a nop.
    fn funcs_of(&self, id: u32) -> Vec<(usize, bool)> {
        let nops = self.loaded(id).map_or([false; NFUNCS], |p| p.nops);
        (0..NFUNCS)
            .filter(|&f| self.live(f))
            .filter_map(|f| {
                if self.covers(id, f) {
                    Some((f, false))
                } else if nops[f] {
                    Some((f, true))
                } else {
                    None
                }
            })
            .collect()
    }

    /// The code a version runs (0: the original, for a nop).
    fn code_of(ver: &Ver) -> u32 {
        if ver.nop {
            0
        } else {
            ver.patch
        }
    }

    // ---------------------------------------------------------------- records (check a)

    /// Records that task `ti` ran the version at `sel` on `f`'s stack (`None`: the original) in
    /// every record open on it; checks (a).
    fn record(&mut self, ti: usize, f: usize, sel: Option<usize>) -> Res<()> {
        // What the call tells about each patch that cares about f: applied if the world of the
        // version it ran holds the patch (the original: no patch).
        let (v, world) = match sel {
            Some(i) => (Self::code_of(&self.stacks[f][i]), self.stacks[f][i].world.clone()),
            None => (0, Vec::new()),
        };
        // Which patches count for a call tree rooted in a frame of g: bit p of care[g].
        let care: [u32; NFUNCS] = std::array::from_fn(|g| {
            let mut bits = 0u32;
            for ver in self.stacks[g].iter().filter(|v| v.nop) {
                bits |= 1 << ver.patch;
            }
            for p in 1..=MAX_PATCHES as u32 {
                if self.covers(p, g) {
                    bits |= 1 << p;
                }
            }
            bits
        });
        let mut facts = Vec::new();
        for p in 1..=MAX_PATCHES as u32 {
            if care[f] & (1 << p) != 0 {
                facts.push((p, world.contains(&p)));
            }
        }
        let task = &mut self.tasks[ti];
        let key = task.key;
        let tainted = task.tainted;
        let who = match task.untracked_fork {
            Some(true) => "untracked child of a switched parent",
            Some(false) => "untracked child",
            None => "task",
        };
        let mut conflict = None;
        let recs = task
            .unit
            .iter_mut()
            .chain(task.frames.iter_mut().flat_map(|fr| fr.recs.iter_mut()));
        for rec in recs {
            for &(p, applied) in &facts {
                if rec.only.is_some_and(|g| care[g] & (1 << p) == 0) {
                    continue;
                }
                match rec.seen.iter().find(|s| s.0 == p) {
                    Some(&(_, was, f0, v0)) if was != applied && !rec.exempt && !tainted => {
                        conflict.get_or_insert((rec.what, p, was, f0, v0, rec.untracked_fork));
                    }
                    Some(_) => {}
                    None => rec.seen.push((p, applied, f, v)),
                }
            }
        }
        if let Some((what, p, was, f0, v0, untracked)) = conflict {
            let who = if untracked {
                "untracked child of a switched parent"
            } else {
                who
            };
            let word = |a: bool| if a { "applied" } else { "not applied" };
            return Err(self.violation(format!(
                "(a) {who} {key:#x} mixed patch {p} in one {what}: {} (f{f0} ran version {v0}), \
                 then {} (f{f} ran version {v}); transition {:?}, stacks {:?}",
                word(was),
                word(!was),
                self.transition,
                self.stack_ids()
            )));
        }
        Ok(())
    }

    fn stack_ids(&self) -> Vec<Vec<(u32, bool)>> {
        self.stacks
            .iter()
            .map(|s| s.iter().map(|v| (v.patch, v.in_transition)).collect())
            .collect()
    }

    /// Exempts every record open on task `ti` (force).
    fn exempt_all(&mut self, ti: usize) {
        let t = &mut self.tasks[ti];
        if let Some(u) = &mut t.unit {
            u.exempt = true;
        }
        for fr in &mut t.frames {
            fr.forced = true;
            for r in &mut fr.recs {
                r.exempt = true;
            }
        }
    }

    // ---------------------------------------------------------------- the simulated kernel

    /// The table the decisions see (`ACTIVE`).
    fn visible<'t>(&self, table: Option<&'t TaskTable<'t>>) -> Option<&'t TaskTable<'t>> {
        if self.published {
            table
        } else {
            None
        }
    }

    /// The redirect decision for a call of `f` by task `key`: the index of the version that
    /// runs on `f`'s stack (`None`: the original). `caller`: the code of the call's return
    /// address, for the caller rule of ABI 1 (seeded bug only).
    fn decide(
        &self,
        f: usize,
        key: usize,
        table: Option<&TaskTable<'_>>,
        caller: Option<Code>,
    ) -> Option<usize> {
        let stack = &self.stacks[f];
        let visible = self.visible(table);
        let top = stack.len().checked_sub(1);
        let selected = if self.bug() == Bug::ChooseNeverOlder {
            top
        } else {
            select_version(
                top,
                |i| stack[i].in_transition,
                || decide::universe_of(visible, key),
                |i| i.checked_sub(1),
            )
        };
        match caller {
            Some(c) => redirect_by_caller(selected, |i| {
                addr(c)
                    == addr(Code::Patched {
                        f,
                        v: Self::code_of(&stack[i]),
                        via: None,
                        nop: None,
                    })
            }),
            None => selected,
        }
    }

    /// Task `ti` calls `f` from its top frame: decision, record, push.
    fn call(&mut self, ti: usize, f: usize, table: Option<&TaskTable<'_>>) -> Res<()> {
        let key = self.tasks[ti].key;
        let sel = self.decide(f, key, table, None);
        self.push_call(ti, f, sel)
    }

    fn push_call(&mut self, ti: usize, f: usize, sel: Option<usize>) -> Res<()> {
        let ver = sel.map(|i| &self.stacks[f][i]);
        let v = ver.map_or(0, Self::code_of);
        let nop = ver.filter(|ver| ver.nop).map(|ver| ver.patch);
        self.log(|| {
            format!(
                "task {:#x} ({:?}) calls f{f} -> v{v}",
                self.tasks[ti].key, self.tasks[ti].shadow
            )
        });
        self.stats.calls += 1;
        if self.in_setup {
            self.stats.calls_in_setup += 1;
        }
        if self.tasks[ti].in_irq().is_some() {
            self.stats.irq_calls += 1;
        }
        if !self.stacks[f].is_empty() && sel != self.stacks[f].len().checked_sub(1) {
            self.stats.older_calls += 1;
        }
        if nop.is_some() {
            self.stats.nop_calls += 1;
        }
        if in_module(f) {
            self.stats.module_calls += 1;
        }
        self.tasks[ti].frames.push(Frame {
            code: Code::Patched { f, v, via: None, nop },
            recs: vec![Record::call_tree(f)],
            forced: false,
        });
        self.record(ti, f, sel)
    }

    /// The replacement on top of task `ti`'s stack calls the function it replaces.
    fn call_original(&mut self, ti: usize, tail: bool, table: Option<&TaskTable<'_>>) -> Res<()> {
        let Some(&Frame {
            code: Code::Patched {
                f, v, via: None, ..
            },
            ..
        }) = self.tasks[ti].frames.last()
        else {
            return Ok(());
        };
        if v == 0 {
            return Ok(());
        }
        self.stats.original_calls += 1;
        let orig = Frame {
            code: Code::Patched {
                f,
                v: 0,
                via: Some(v),
                nop: None,
            },
            recs: vec![Record::call_tree(f)],
            forced: false,
        };
        if self.bug() != Bug::TailCallViaReturnAddress {
            // An explicit call of the original past its fentry: no decision.
            if tail {
                self.stats.tail_calls += 1;
                *self.tasks[ti].frames.last_mut().unwrap() = orig;
            } else {
                self.tasks[ti].frames.push(orig);
            }
            return Ok(());
        }
        // Today's rule: through the trampoline; the return address decides.
        let key = self.tasks[ti].key;
        let frames = &self.tasks[ti].frames;
        let caller = if tail {
            frames.len().checked_sub(2).map(|i| frames[i].code)
        } else {
            frames.last().map(|fr| fr.code)
        };
        let sel = self.decide(f, key, table, caller.or(Some(Code::Base("entry"))));
        let got = sel.map_or(0, |i| Self::code_of(&self.stacks[f][i]));
        self.log(|| format!("orig call of f{f} v{v} tail={tail} -> {got}"));
        if tail && got == v {
            return Err(self.violation(format!(
                "(l) task {key:#x}: the replacement of f{f} (version {v}) tail-calls its \
                 original and re-enters itself (the return address is its caller's)"
            )));
        }
        if got == 0 {
            if tail {
                self.stats.tail_calls += 1;
                *self.tasks[ti].frames.last_mut().unwrap() = orig;
            } else {
                self.tasks[ti].frames.push(orig);
            }
            Ok(())
        } else {
            self.push_call(ti, f, sel)
        }
    }

    /// A tail call from the top patched frame of task `ti` to `g`: the frame is replaced, the
    /// call tree goes on.
    fn tail_call(&mut self, ti: usize, g: usize, table: Option<&TaskTable<'_>>) -> Res<()> {
        let t = &mut self.tasks[ti];
        if !matches!(
            t.frames.last(),
            Some(Frame {
                code: Code::Patched { .. },
                ..
            })
        ) {
            return Ok(());
        }
        // The replaced frame's body is done (no trace of it is left on the stack): its call
        // tree ends; the callee's starts.
        t.frames.pop();
        self.stats.tail_calls += 1;
        let key = self.tasks[ti].key;
        let sel = self.decide(g, key, table, None);
        self.push_call(ti, g, sel)
    }

    /// The stack trace of task `ti` (return addresses, innermost first).
    fn trace(&self, ti: usize, other_task: bool) -> Vec<usize> {
        self.tasks[ti]
            .frames
            .iter()
            .rev()
            .filter(|fr| {
                !(other_task
                    && self.bug() == Bug::SchedFramesHidden
                    && matches!(fr.code, Code::Patched { f: SCHED_FUNC, .. }))
            })
            .map(|fr| addr(fr.code))
            .collect()
    }

    /// The kernel's stack check of task `ti` against the affected code of the table's target.
    fn verdict(&self, ti: usize, table: &TaskTable<'_>, pinned: bool) -> Verdict<usize> {
        if self.bug() == Bug::VerdictAlwaysClean {
            return Verdict::Clean;
        }
        let affected = match affected_for(table.target()) {
            Affected::OldCode => &self.old_code,
            Affected::NewCode => &self.new_code,
        };
        let entries = self.trace(ti, pinned);
        let is = |a: usize| affected.contains(&a) || self.late_code.contains(&a);
        if pinned {
            let dead = self.tasks[ti].zombie;
            judge_stable(dead, || judge(&entries, true, is))
        } else {
            judge(&entries, true, is)
        }
    }

    /// Task `ti` reached safe point `point`; the kernel's rule decides (`ignore_context`: a
    /// seeded bug replays an earlier rule that did not look at the context).
    fn safe_point(
        &mut self,
        ti: usize,
        point: SafePoint,
        table: Option<&TaskTable<'_>>,
        ignore_context: bool,
    ) -> Res<()> {
        // Probes (and the IPI that checks a parked idle task) see the published table only
        // (`ACTIVE`); the transition work has its own.
        let pinned = matches!(point, SafePoint::Blocked | SafePoint::IdleParked);
        let Some(t) = (if point == SafePoint::Blocked {
            table
        } else {
            self.visible(table)
        }) else {
            return Ok(());
        };
        let context = if ignore_context {
            Context::Task
        } else {
            self.tasks[ti].context()
        };
        let key = self.tasks[ti].key;
        let skip_check =
            point == SafePoint::KthreadLoopHead && self.bug() == Bug::LoopHeadNoStackCheck;
        let verdict = if skip_check {
            Verdict::Clean
        } else {
            self.verdict(ti, t, pinned)
        };
        let mut checked = false;
        let res = switch_at(t, key, point, context, || {
            checked = true;
            verdict
        });
        if checked && verdict != Verdict::Clean {
            self.stats.stack_refusals += 1;
        }
        if let Some(r) = res {
            let via_check = checked;
            self.switched(ti, t, r, via_check, point)?;
        }
        Ok(())
    }

    /// Accounts for a `switch_task` result of task `ti`; checks (s).
    fn switched(
        &mut self,
        ti: usize,
        table: &TaskTable<'_>,
        r: SwitchResult,
        via_check: bool,
        point: SafePoint,
    ) -> Res<()> {
        let key = self.tasks[ti].key;
        let target = table.target();
        match r {
            SwitchResult::Switched | SwitchResult::SwitchedLast => {
                if self.tasks[ti].shadow != Some(target.opposite()) {
                    return Err(self.violation(format!(
                        "switch_task switched {key:#x} whose shadow is {:?}",
                        self.tasks[ti].shadow
                    )));
                }
                self.log(|| {
                    format!(
                        "task {key:#x} switched to {target:?} at {point:?}, frames {:?}",
                        self.tasks[ti]
                            .frames
                            .iter()
                            .map(|f| f.code)
                            .collect::<Vec<_>>()
                    )
                });
                self.check_leaving(ti, target, point)?;
                self.tasks[ti].shadow = Some(target);
                self.stats.switches += 1;
                if via_check {
                    self.stats.stack_switches += 1;
                }
                // A mid-unit switch by a stack check of a blocked task, or at cond_resched,
                // gives upstream's guarantee only: the unit record is exempt from then on.
                if matches!(point, SafePoint::Blocked | SafePoint::CondResched) {
                    if let Some(u) = &mut self.tasks[ti].unit {
                        u.exempt = true;
                    }
                }
                if r == SwitchResult::SwitchedLast {
                    self.completion_queued = true;
                }
            }
            SwitchResult::AlreadyThere => {
                if self.tasks[ti].shadow != Some(target) {
                    return Err(self.violation(format!("AlreadyThere for pending {key:#x}")));
                }
            }
            SwitchResult::NotTracked => {
                if self.tasks[ti].shadow.is_some() {
                    return Err(self.violation(format!("NotTracked for tracked {key:#x}")));
                }
            }
            SwitchResult::Refused => {
                if table.accepting() {
                    return Err(self.violation(format!("Refused while accepting: {key:#x}")));
                }
            }
        }
        Ok(())
    }

    /// (s): no frame of the code the task leaves; (i): no interrupt frame.
    fn check_leaving(&self, ti: usize, target: Universe, point: SafePoint) -> Res<()> {
        let Some(p) = self.transition.patch() else {
            return Err(self.violation("switch without a transition".into()));
        };
        let p = p.0;
        let t = &self.tasks[ti];
        for fr in &t.frames {
            let leaving = match fr.code {
                Code::Irq(k) => {
                    return Err(self.violation(format!(
                        "(i) task {:#x} switched at {point:?} inside a {k:?} interrupt",
                        t.key
                    )))
                }
                Code::Base(_) => false,
                _ if fr.forced => false,
                Code::Patched { f, v, via, nop } => {
                    // An original entered by a replacement is that replacement's work, one run
                    // through a nop the cumulative patch's.
                    let side = via.or(nop).unwrap_or(v);
                    self.cares(p, f)
                        && match target {
                            Universe::Patched => side < p,
                            Universe::Unpatched => side == p,
                        }
                }
            };
            if leaving {
                return Err(self.violation(format!(
                    "(s) task {:#x} switched to {target:?} at {point:?} with {:?} of patch {p}'s \
                     old side on its stack {:?}",
                    t.key,
                    fr.code,
                    t.frames.iter().map(|f| f.code).collect::<Vec<_>>()
                )));
            }
        }
        Ok(())
    }

    /// Fork by task `parent` (in a syscall or a kthread): the child continues the parent's unit
    /// of work from `ret_from_fork`.
    fn fork(&mut self, parent: usize, table: Option<&TaskTable<'_>>) -> Res<()> {
        self.log(|| format!("fork {:?}", self.transition));
        let p = self.tasks[parent].clone();
        let kind = match p.kind {
            Kind::Idle | Kind::Kworker => Kind::Kthread,
            k => k,
        };
        let stubborn = kind != Kind::User && self.rng.chance(200);
        let mut unit = p
            .unit
            .clone()
            .unwrap_or_else(|| Record::new("fork (child)"));
        unit.what = "fork (child)";
        let child = self.spawn(kind, stubborn, Some(unit));
        self.tasks[child].tainted = p.tainted;
        self.stats.forks += 1;
        let Some(t) = table.filter(|_| self.lifecycle) else {
            return Ok(());
        };
        let key = self.tasks[child].key;
        self.log(|| {
            format!(
                "fork: parent {:#x} ({:?}, table {:?}) child {key:#x}",
                p.key,
                p.shadow,
                t.lookup(p.key)
            )
        });
        let bug = self.bug() == Bug::ForkChildGetsTarget;
        match task_forked(t, p.key, key, |k, u| {
            t.insert_fork(k, if bug { t.target() } else { u })
        }) {
            Forked::Tracked { universe, .. } => {
                let universe = if bug { t.target() } else { universe };
                self.tasks[child].shadow = Some(universe);
            }
            Forked::AlreadyTracked => {
                return Err(self.violation(format!("stale entry for new task {key:#x}")))
            }
            Forked::Untracked { mixed } => {
                self.stats.untracked_forks += 1;
                if mixed {
                    self.stats.mixed_forks += 1;
                }
                // Its unit of work comes from the parent, which ran it in the parent's
                // universe (`mixed`: not the child's), or inherited it from a switched ancestor
                // the same way.
                let switched = mixed || p.unit.as_ref().is_some_and(|u| u.untracked_fork);
                self.tasks[child].untracked_fork = Some(switched);
                // After a force, an untracked task is flipped by the completion: not checked.
                self.tasks[child].tainted |= self.walk_universe == t.target();
                if let Some(u) = &mut self.tasks[child].unit {
                    u.untracked_fork = switched;
                }
            }
        }
        Ok(())
    }

    /// Free of a zombie's task_struct (after an RCU grace period): removal from the table.
    fn free(&mut self, ti: usize, table: Option<&TaskTable<'_>>) -> Res<()> {
        self.log(|| format!("free {:?}", self.transition));
        let task = self.tasks.swap_remove(ti);
        self.free_addrs.push(task.key);
        self.stats.frees += 1;
        if let Some(t) = table.filter(|_| self.lifecycle) {
            match t.remove(task.key) {
                Removed::NotTracked if task.shadow.is_some() => {
                    return Err(self.violation(format!("free of tracked {:#x} missed", task.key)))
                }
                Removed::Removed | Removed::RemovedLast if task.shadow.is_none() => {
                    return Err(
                        self.violation(format!("free of untracked {:#x} found it", task.key))
                    )
                }
                Removed::RemovedLast => self.completion_queued = true,
                _ => {}
            }
        }
        Ok(())
    }

    /// The end of task `ti`'s unit of work, at the bottom of its stack.
    fn end_unit(&mut self, ti: usize, table: Option<&TaskTable<'_>>) -> Res<()> {
        self.log(|| format!("end_unit {:?}", self.transition));
        let kind = self.tasks[ti].kind;
        if self.tasks[ti].exiting {
            // The exit path ran: the task never runs again.
            let t = &mut self.tasks[ti];
            t.zombie = true;
            t.unit = None;
            t.frames.clear();
            t.run = Run::Kernel;
            self.stats.exits += 1;
            return Ok(());
        }
        match kind {
            Kind::User => {
                // Syscall exit (or the end of ret_from_fork): the kernel stack is empty.
                let t = &mut self.tasks[ti];
                t.unit = None;
                t.frames.clear();
                t.run = Run::UserMode;
                self.safe_point(ti, SafePoint::SyscallExit, table, false)
            }
            Kind::Kthread | Kind::Kworker => {
                let (point, what) = if kind == Kind::Kthread {
                    (SafePoint::KthreadLoopHead, "kthread iteration")
                } else {
                    (SafePoint::WorkItemEnd, "work item")
                };
                let t = &mut self.tasks[ti];
                t.unit = None;
                let base = t.base;
                t.frames.truncate(base.max(1));
                self.safe_point(ti, point, table, false)?;
                self.tasks[ti].unit = Some(Record::new(what));
                Ok(())
            }
            Kind::Idle => {
                if !self.tasks[ti].idle_mid {
                    // cpu_idle fires in cpuidle_enter_state(), mid-iteration.
                    self.tasks[ti].idle_mid = true;
                    if self.bug() == Bug::IdleSwitchMidIteration {
                        // The idle rule of issue 13: the idle loop's check, at cpu_idle.
                        self.safe_point(ti, SafePoint::IdleLoop, table, false)?;
                    }
                    return Ok(());
                }
                let t = &mut self.tasks[ti];
                t.idle_mid = false;
                t.unit = None;
                t.frames.truncate(1);
                self.safe_point(ti, SafePoint::IdleLoop, table, false)?;
                self.tasks[ti].unit = Some(Record::new("idle iteration"));
                if self.rng.chance(300) {
                    // Another task runs on this CPU: the idle task is parked in
                    // schedule_idle() until it runs again.
                    self.tasks[ti].run = Run::Blocked;
                }
                Ok(())
            }
        }
    }

    /// An interrupt arrives on running task `ti`.
    fn interrupt(&mut self, ti: usize, kind: IrqKind) {
        let t = &mut self.tasks[ti];
        t.frames.push(Frame {
            code: Code::Irq(kind),
            recs: vec![Record::new(match kind {
                IrqKind::Hard => "hard interrupt",
                IrqKind::Soft => "softirq",
            })],
            forced: false,
        });
        if t.run == Run::UserMode {
            t.run = Run::Kernel;
        }
    }

    /// One step of running task `ti`.
    fn run_task(&mut self, ti: usize, table: Option<&TaskTable<'_>>) -> Res<()> {
        let t = &self.tasks[ti];
        if t.run == Run::UserMode {
            if self.rng.chance(600) {
                let t = &mut self.tasks[ti];
                t.run = Run::Kernel;
                t.frames.push(Frame {
                    code: Code::Base("syscall"),
                    recs: Vec::new(),
                    forced: false,
                });
                t.unit = Some(Record::new("syscall"));
                if self.rng.chance(60) {
                    t.exiting = true; // exit_group(): the exit path runs in this syscall
                }
                return Ok(());
            }
            // Return to user mode by another path (signal delivery, task work): empty stack.
            return self.safe_point(ti, SafePoint::ReturnToUser, table, false);
        }
        let depth = t.frames.len();
        let irq = t.in_irq();
        let top = t.frames.last().map(|fr| fr.code);
        let base = t.base;
        let kind = t.kind;
        let stubborn = t.stubborn;
        let r = self.rng.below(1000);
        // Calls nest less the deeper the stack is, so that units of work end.
        let call_p = 400usize.saturating_sub(90 * depth.saturating_sub(base.max(1)));
        if r < call_p && depth < MAX_DEPTH {
            let mut f = self.rng.below(NFUNCS);
            if in_module(f) && (!self.module_loaded || self.module_going) {
                f -= KERNEL_FUNCS;
            }
            return self.call(ti, f, table);
        }
        if r < 650 {
            // Return from the top frame.
            match top {
                Some(Code::Patched { .. }) if depth > base => {
                    self.tasks[ti].frames.pop();
                }
                Some(Code::Irq(k)) => {
                    // The interrupt ends. Softirqs run on the way out of a hard interrupt.
                    if k == IrqKind::Hard && self.rng.chance(300) {
                        self.tasks[ti].frames.last_mut().unwrap().code = Code::Irq(IrqKind::Soft);
                        return Ok(());
                    }
                    self.tasks[ti].frames.pop();
                    if self.tasks[ti].frames.is_empty() {
                        self.tasks[ti].run = Run::UserMode;
                        return self.safe_point(ti, SafePoint::ReturnToUser, table, false);
                    }
                }
                _ if irq.is_none() && depth <= base.max(1) => {
                    if !stubborn || self.rng.chance(40) {
                        return self.end_unit(ti, table);
                    }
                }
                _ => {}
            }
            return Ok(());
        }
        if r < 680 {
            let mut g = self.rng.below(NFUNCS);
            if in_module(g) && (!self.module_loaded || self.module_going) {
                g -= KERNEL_FUNCS;
            }
            return self.tail_call(ti, g, table);
        }
        if r < 720 {
            let tail = self.rng.chance(400);
            return self.call_original(ti, tail, table);
        }
        if r < 790 && irq.is_none() && kind != Kind::Idle {
            // Sleep (or preemption) inside the top frame.
            self.tasks[ti].run = Run::Blocked;
            self.stats.sleeps += 1;
            return Ok(());
        }
        if r < 830 && irq.is_none() && matches!(kind, Kind::Kthread | Kind::Kworker) {
            return self.safe_point(ti, SafePoint::CondResched, table, false);
        }
        if r < 880 {
            match top {
                // The tick (hrtimer_interrupt) in a hard interrupt of a user-mode task: no safe
                // point (the return to user mode after it is one). The rule of issue 13, item 6
                // switched the task right there, as if it were back in user mode.
                Some(Code::Irq(IrqKind::Hard))
                    if depth == 1
                        && kind == Kind::User
                        && self.bug() == Bug::TickSwitchInHardirq =>
                {
                    return self.safe_point(ti, SafePoint::ReturnToUser, table, true);
                }
                // A BH work item ends in this softirq: the tracepoint fires on top of the
                // interrupted task, and the rule refuses the context (issue 13, item 6: it did
                // not look, and switched the interrupted task after a check of its stack).
                Some(Code::Irq(IrqKind::Soft)) => {
                    let ignore = self.bug() == Bug::BhWorkItemSwitch;
                    return self.safe_point(ti, SafePoint::WorkItemEnd, table, ignore);
                }
                _ => {}
            }
        }
        if r < 900 && irq.is_none() && kind == Kind::User && !self.tasks[ti].exiting {
            if self.tasks.len() < MAX_TASKS {
                return self.fork(ti, table);
            }
        }
        if r < 950 && irq.is_none() && kind != Kind::Idle {
            self.tasks[ti].exiting = true;
        }
        Ok(())
    }

    // ---------------------------------------------------------------- the random scheduler

    /// One random task-level event.
    fn task_event(&mut self, table: Option<&TaskTable<'_>>) -> Res<()> {
        let r = self.rng.below(1000);
        if r < 700 {
            // A task runs for a while: a few steps of its code.
            if let Some(ti) = self.pick_task(|t| !t.zombie && t.run != Run::Blocked) {
                for _ in 0..1 + self.rng.below(4) {
                    if self
                        .tasks
                        .get(ti)
                        .is_none_or(|t| t.zombie || t.run == Run::Blocked)
                    {
                        break;
                    }
                    self.run_task(ti, table)?;
                }
            }
        } else if r < 770 {
            if let Some(ti) = self.pick_task(|t| t.run == Run::Blocked && !t.zombie) {
                self.tasks[ti].run = Run::Kernel;
            }
        } else if r < 860 {
            // The transition work's pass: a pinned stack check of a blocked (or dead) task.
            if let Some(t) = table.filter(|_| self.published) {
                if let Some(ti) = self.pick_task(|t| t.run == Run::Blocked || t.zombie) {
                    // An idle task is parked off its busy CPU: the pass's IPI checks it there.
                    let point = if self.tasks[ti].kind == Kind::Idle {
                        self.stats.parked_checks += 1;
                        SafePoint::IdleParked
                    } else {
                        SafePoint::Blocked
                    };
                    self.safe_point(ti, point, Some(t), false)?;
                }
            }
        } else if r < 910 {
            if let Some(ti) = self.pick_task(|t| {
                !t.zombie
                    && t.run != Run::Blocked
                    && t.frames
                        .iter()
                        .filter(|f| matches!(f.code, Code::Irq(_)))
                        .count()
                        < 2
            }) {
                let kind = if self.rng.chance(700) {
                    IrqKind::Hard
                } else {
                    IrqKind::Soft
                };
                self.interrupt(ti, kind);
            }
        } else if r < 960 {
            if let Some(ti) = self.pick_task(|t| t.zombie) {
                self.free(ti, table)?;
            }
        } else {
            self.sysfs_noise()?;
        }
        Ok(())
    }

    /// 0 to 4 task events between two steps of the transition (other CPUs run meanwhile).
    fn interleave(&mut self, table: Option<&TaskTable<'_>>) -> Res<()> {
        self.interleave_n(table, 5)
    }

    /// Fewer than `max` task events between two steps of the transition.
    fn interleave_n(&mut self, table: Option<&TaskTable<'_>>, max: usize) -> Res<()> {
        let n = self.rng.below(max);
        for _ in 0..n {
            self.step += 1;
            self.in_setup = true;
            let r = self.task_event(table);
            self.in_setup = false;
            r?;
            if let Some(t) = table {
                self.check_counters(t)?;
            }
        }
        Ok(())
    }

    /// Sysfs writes that must fail, checked against upstream's errors.
    fn sysfs_noise(&mut self) -> Res<()> {
        if self.patches.is_empty() {
            return Ok(());
        }
        let pi = self.rng.below(self.patches.len());
        let (id, st) = (self.patches[pi].id, self.patches[pi].state);
        let mine = self.transition.is_in_transition(id);
        let idle = self.transition == TransitionState::Idle;
        let r = enabled_write(self.transition, id, st, st.enabled()).map(|_| ());
        if r != Err(TransitionError::AlreadyInState) {
            return Err(self.violation(format!("fsm: current value write gave {r:?}")));
        }
        if !mine {
            let r = enabled_write(self.transition, id, st, !st.enabled()).map(|_| ());
            let want = match st.state {
                PatchState::Disabled => Err(TransitionError::CannotReenable),
                PatchState::Enabled if !idle => Err(TransitionError::Busy),
                PatchState::Fresh if !idle => Err(TransitionError::Busy),
                _ => r,
            };
            if r != want {
                return Err(self.violation(format!("fsm: {st:?} write gave {r:?}")));
            }
            let r = next(self.transition, id, st, Event::Force).map(|_| ());
            if r != Err(TransitionError::NotInTransition) {
                return Err(self.violation(format!("fsm: force on idle patch gave {r:?}")));
            }
        }
        self.stats.fsm_checks += 1;
        Ok(())
    }

    /// (c): counters and lookups agree with a recount and with the shadow state.
    fn check_counters(&mut self, table: &TaskTable<'_>) -> Res<()> {
        let target = table.target();
        let pending = table.pending();
        let recount = table.recount_pending();
        let shadow = self
            .tasks
            .iter()
            .filter(|t| t.shadow.is_some_and(|u| u != target))
            .count();
        if pending != recount || pending != shadow {
            return Err(self.violation(format!(
                "(c) pending {pending} != recount {recount} / shadow {shadow}"
            )));
        }
        let tracked = self.tasks.iter().filter(|t| t.shadow.is_some()).count();
        if table.live() != tracked {
            return Err(self.violation(format!(
                "(c) live {} != tracked tasks {tracked}",
                table.live()
            )));
        }
        for t in &self.tasks {
            if table.lookup(t.key) != t.shadow {
                return Err(self.violation(format!(
                    "(c) lookup({:#x}) = {:?}, shadow {:?}",
                    t.key,
                    table.lookup(t.key),
                    t.shadow
                )));
            }
        }
        self.stats.max_tombstones = self.stats.max_tombstones.max(table.tombstones());
        Ok(())
    }

    /// The kernel's stack-order rule (`replace::newer_on_top`): a patch is disabled only if it
    /// is the newest on every function it replaces.
    fn stack_order_ok(&self, id: PatchId) -> bool {
        let nops = self.loaded(id.0).map_or([false; NFUNCS], |p| p.nops);
        let funcs = (0..NFUNCS).filter(|&f| self.covers(id.0, f) || nops[f]);
        newer_on_top(funcs.map(|f| {
            if self.live(f) {
                return FuncTop::Live(self.stacks[f].last().map(|v| v.patch), id.0);
            }
            // The kernel's rule before the model found the mix (seeded bug): loaded only.
            if self.bug() == Bug::StackOrderLoadedOnly {
                return FuncTop::Live(None, id.0);
            }
            // A nop never counts (the kernel's rule for an inert one without a site).
            FuncTop::Unloaded(
                self.covers(id.0, f)
                    && self.patches.iter().any(|q| {
                        q.id.0 > id.0
                            && (q.state.state != PatchState::Disabled || q.pushed)
                            && (self.covers(q.id.0, f) || q.nops[f])
                    }),
            )
        }))
        .is_none()
    }

    /// Idle phase: tasks run; eventually an admin enables a new patch or disables one.
    /// Returns the transition to start, if any.
    fn idle_phase(&mut self) -> Res<Option<Direction>> {
        while self.step < self.max_steps {
            self.step += 1;
            if self.rng.chance(25) {
                self.module_event(None)?;
                continue;
            }
            if self.rng.chance(40) {
                let enabled: Vec<usize> = (0..self.patches.len())
                    .filter(|&i| self.patches[i].state.state == PatchState::Enabled)
                    .collect();
                let load_new = self.next_patch as usize <= MAX_PATCHES
                    && (enabled.is_empty() || self.rng.chance(500));
                if load_new {
                    let id = PatchId(self.next_patch);
                    self.next_patch += 1;
                    let s = next(self.transition, id, Patch::new(), Event::Enable)
                        .map_err(|e| self.violation(format!("enable refused: {e:?}")))?;
                    self.transition = s.transition;
                    // An atomic replace, sometimes: it replaces every enabled patch (no
                    // transition runs, so that is every registered one), with a nop for each
                    // function only they touch (the kernel's `add_nops`).
                    let mut replaces = Vec::new();
                    let mut nops = [false; NFUNCS];
                    if !enabled.is_empty() && self.rng.chance(350) {
                        replaces = enabled.iter().map(|&i| self.patches[i].id.0).collect();
                        replaces.sort_unstable();
                        let defs = &self.defs;
                        let older: Vec<usize> = replaces
                            .iter()
                            .flat_map(|&r| (0..NFUNCS).filter(move |&f| self_covers(defs, r, f)))
                            .collect();
                        let new: Vec<usize> = (0..NFUNCS).filter(|&f| self.covers(id.0, f)).collect();
                        if self.bug() != Bug::ReplaceWithoutNops {
                            for f in reverted(&older, &new) {
                                nops[f] = true;
                            }
                        }
                        self.stats.replaces += 1;
                    }
                    self.patches.push(LoadedPatch {
                        id,
                        state: s.patch,
                        replaces,
                        nops,
                        pushed: false,
                    });
                    return Ok(Some(Direction::Patching));
                } else if !enabled.is_empty() {
                    let pi = enabled[self.rng.below(enabled.len())];
                    let (id, st) = (self.patches[pi].id, self.patches[pi].state);
                    if !self.stack_order_ok(id) && self.bug() != Bug::DisableOutOfOrder {
                        // -EBUSY: "a newer patch also replaces ...; disable it first".
                        self.stats.order_refusals += 1;
                        continue;
                    }
                    let s = enabled_write(self.transition, id, st, false)
                        .map_err(|e| self.violation(format!("disable refused: {e:?}")))?;
                    self.transition = s.transition;
                    self.patches[pi].state = s.patch;
                    return Ok(Some(Direction::Unpatching));
                }
            }
            self.task_event(None)?;
        }
        Ok(None)
    }

    /// The code addresses a switching task must not have on its stack (the kernel's
    /// `old_code`/`new_code`, captured before anything is pushed).
    fn capture_code(&mut self, id: u32, direction: Direction) {
        self.old_code.clear();
        self.new_code.clear();
        self.late_code.clear();
        for (f, nop) in self.funcs_of(id) {
            let st = &self.stacks[f];
            let below = match direction {
                Direction::Patching => st.last(),
                Direction::Unpatching => {
                    let i = st.iter().position(|v| v.patch == id);
                    i.and_then(|i| i.checked_sub(1)).map(|i| &st[i])
                }
            };
            let below = below.map(|v| (v.patch, v.nop));
            let below = if nop && self.bug() == Bug::ReplaceCheckBlindToReplaced {
                None
            } else {
                below
            };
            let code = |c: CodeOf<(u32, bool)>| {
                let v = match c {
                    CodeOf::Version((_, true)) | CodeOf::Original => 0,
                    CodeOf::Version((v, false)) => v,
                };
                addr(Code::Patched {
                    f,
                    v,
                    via: None,
                    nop: None,
                })
            };
            for (side, out) in [
                (Affected::OldCode, &mut self.old_code),
                (Affected::NewCode, &mut self.new_code),
            ] {
                let [own, orig] = affected_code(side, below, (id, nop));
                out.push(code(own));
                // Today's kernel: the version only (seeded bug).
                if self.cfg.bug != Bug::AffectedWithoutOriginal {
                    out.push(code(orig));
                }
            }
        }
    }

    fn mark(&mut self, id: u32, on: bool, table: Option<&TaskTable<'_>>) -> Res<()> {
        for f in 0..NFUNCS {
            if !self.live(f) {
                continue;
            }
            if let Some(v) = self.stacks[f].iter_mut().find(|v| v.patch == id) {
                v.in_transition = on;
                self.interleave_n(table, 12)?;
            }
        }
        Ok(())
    }

    fn push(&mut self, id: u32, marked: bool, table: Option<&TaskTable<'_>>) -> Res<()> {
        for (f, nop) in self.funcs_of(id) {
            self.push_one(id, f, nop, marked);
            // The first push of a function registers it with ftrace (text rewriting).
            self.interleave_n(table, 12)?;
        }
        Ok(())
    }

    /// Pushes patch `id`'s version (or nop) of `f`.
    fn push_one(&mut self, id: u32, f: usize, nop: bool, marked: bool) {
        let replaces = self.loaded(id).map_or(Vec::new(), |p| p.replaces.clone());
        let mut world: Vec<u32> = self.stacks[f].last().map_or(Vec::new(), |v| v.world.clone());
        world.retain(|p| !replaces.contains(p));
        world.push(id);
        self.stacks[f].push(Ver {
            patch: id,
            in_transition: marked,
            nop,
            world,
        });
    }

    /// Transition start (state `Initializing`), step by step with task activity in between.
    /// Returns false if the table could not take every task (the kernel refuses: `-ENOMEM`).
    fn begin_transition(&mut self, table: &TaskTable<'_>, direction: Direction) -> Res<bool> {
        self.log(|| format!("begin_transition {:?}", self.transition));
        let id = self.transition.patch().unwrap();
        let pi = self.patch_index(id);
        let t = Some(table);
        let patching = direction == Direction::Patching;
        let bug = self.bug();
        self.capture_code(id.0, direction);
        self.walk_universe = direction.initial_universe();
        let mut started = false;
        if bug == Bug::StartBeforePublish {
            table.start_switching();
            started = true;
        }
        // Versions are marked before they are pushed. A version not pushed yet is invisible, so
        // marking it early changes nothing; a mark before the publication shows when unpatching.
        if bug == Bug::MarkBeforePublish && !patching {
            self.mark(id.0, true, None)?;
        }
        // 1. Publish the table (ACTIVE), 2. fork/free tracking, 3. the walk.
        self.published = true;
        self.interleave(t)?;
        self.lifecycle = true;
        self.interleave(t)?;
        let keys: Vec<usize> = self.tasks.iter().map(|t| t.key).collect();
        for key in keys {
            let Some(ti) = self.tasks.iter().position(|t| t.key == key) else {
                continue; // freed meanwhile
            };
            let mut u = direction.initial_universe();
            if bug == Bug::MidUnitIntoPatched && patching && self.tasks[ti].unit.is_some() {
                u = Universe::Patched;
            }
            match table.insert(key, u) {
                Ok(Inserted::New) => self.tasks[ti].shadow = Some(u),
                Ok(Inserted::AlreadyPresent) => {}
                Err(_) => {
                    self.refuse_start(table, id, pi, direction)?;
                    return Ok(false);
                }
            }
            self.interleave(t)?;
        }
        if bug == Bug::StartBeforePush {
            table.start_switching();
            started = true;
        }
        // 4. Mark, 5. push (patching).
        if bug == Bug::PushBeforeMark && patching {
            self.push(id.0, false, t)?;
            self.mark(id.0, true, t)?;
        } else if patching {
            // Marked before the push (invisible until then): pushed marked.
            self.push(id.0, true, t)?;
        } else if bug != Bug::MarkBeforePublish {
            self.mark(id.0, true, t)?;
        }
        // 6. Start switching.
        let s = next(self.transition, id, self.patches[pi].state, Event::Started)
            .map_err(|e| self.violation(format!("start refused: {e:?}")))?;
        self.transition = s.transition;
        if !started {
            table.start_switching();
        }
        if patching {
            self.patches[pi].pushed = true;
        }
        self.completion_queued = table.pending() == 0;
        self.stats.transitions_started += 1;
        self.check_counters(table)?;
        Ok(true)
    }

    /// The kernel refuses a transition whose table cannot take every task: nothing was marked
    /// or pushed yet, the table is unpublished and freed.
    fn refuse_start(
        &mut self,
        table: &TaskTable<'_>,
        id: PatchId,
        pi: usize,
        direction: Direction,
    ) -> Res<()> {
        table.stop_switching();
        self.published = false;
        self.lifecycle = false;
        for t in &mut self.tasks {
            t.shadow = None;
        }
        for st in &mut self.stacks {
            for v in st.iter_mut() {
                v.in_transition = false;
            }
        }
        self.transition = TransitionState::Idle;
        if direction == Direction::Patching {
            // The patch module's init fails: the patch is gone.
            self.patches.remove(pi);
        } else {
            let st = self.patches[pi].state;
            self.patches[pi].state = Patch {
                state: PatchState::Enabled,
                ..st
            };
        }
        let _ = id;
        self.stats.refused_starts += 1;
        Ok(())
    }

    /// Reversal: the sysfs write, then stop, (grace period), reverse under the lock, start,
    /// each a step.
    fn reverse(&mut self, table: &TaskTable<'_>) -> Res<()> {
        self.log(|| format!("reverse {:?}", self.transition));
        let id = self.transition.patch().unwrap();
        let pi = self.patch_index(id);
        let value = !self.patches[pi].state.enabled();
        let step = enabled_write(self.transition, id, self.patches[pi].state, value)
            .map_err(|e| self.violation(format!("reversal refused: {e:?}")))?;
        if !value && !self.stack_order_ok(id) {
            return Err(self.violation("reversal to unpatching out of stack order".into()));
        }
        let t = Some(table);
        table.stop_switching();
        self.interleave(t)?;
        // Grace period: in-flight switchers are done (atomic in this model; loom checks the
        // real race, tests/loom.rs).
        let pending = table
            .reverse()
            .map_err(|e| self.violation(format!("reverse failed: {e:?}")))?;
        self.interleave(t)?;
        table.start_switching();
        self.transition = step.transition;
        self.patches[pi].state = step.patch;
        self.stats.reversals += 1;
        if pending == 0 {
            self.completion_queued = true;
        }
        Ok(())
    }

    /// Force: every tracked task is moved to the target (unsafe by design: the units in
    /// progress are exempt).
    fn force(&mut self, table: &TaskTable<'_>) -> Res<()> {
        self.log(|| format!("force {:?}", self.transition));
        let id = self.transition.patch().unwrap();
        let pi = self.patch_index(id);
        let step = next(self.transition, id, self.patches[pi].state, Event::Force)
            .map_err(|e| self.violation(format!("force refused: {e:?}")))?;
        self.patches[pi].state = step.patch;
        table.force_all();
        let target = table.target();
        for ti in 0..self.tasks.len() {
            if self.tasks[ti].shadow.is_some_and(|u| u != target) {
                self.exempt_all(ti);
                self.tasks[ti].shadow = Some(target);
            }
        }
        // Untracked tasks are inserted in the target by later walks.
        self.walk_universe = target;
        self.stats.forced += 1;
        self.completion_queued = true;
        Ok(())
    }

    /// The verification walk of the completion work: every task in the task list is tracked
    /// (untracked ones are inserted now) and in the target universe.
    fn verify_walk(&mut self, table: &TaskTable<'_>) -> bool {
        let target = table.target();
        let mut ok = true;
        for ti in 0..self.tasks.len() {
            let key = self.tasks[ti].key;
            // The kernel's `tracked_universe`: the entry, or insert in the walk's universe.
            let u = match table.lookup(key) {
                Some(u) => u,
                None => {
                    let u = self.walk_universe;
                    if u != table.default_universe() {
                        // After a force the walk puts untracked tasks straight into the target,
                        // where the completion would put them anyway: unsafe by design.
                        self.exempt_all(ti);
                    }
                    if let Ok(Inserted::New) = table.insert(key, u) {
                        self.tasks[ti].shadow = Some(u);
                    }
                    u
                }
            };
            if u != target {
                ok = false;
            }
        }
        ok
    }

    /// The completion work (queued by a signal, or polled). Returns whether it completed the
    /// transition; checks (b). The teardown is split into its steps.
    fn completion_work(&mut self, table: &TaskTable<'_>, signalled: bool) -> Res<bool> {
        self.log(|| format!("completion_work {:?}", self.transition));
        let trust_signal = signalled && self.bug() == Bug::CompleteOnStaleSignal;
        let all_switched = table.pending() == 0 && self.verify_walk(table);
        if !trust_signal && !all_switched {
            self.log(|| {
                let target = table.target();
                let pend: Vec<String> = self
                    .tasks
                    .iter()
                    .filter(|t| t.shadow != Some(target))
                    .map(|t| {
                        format!(
                            "{:?}/{:?}/stubborn={}/{:?}",
                            t.kind,
                            t.run,
                            t.stubborn,
                            t.frames.iter().map(|f| f.code).collect::<Vec<_>>()
                        )
                    })
                    .collect();
                format!("pending: {pend:?}")
            });
            if signalled {
                self.stats.stale_signals += 1;
            }
            return Ok(false);
        }
        let target = table.target();
        let forced = self.walk_universe == target;
        if let Some(t) = self
            .tasks
            .iter()
            .find(|t| t.shadow != Some(target) && !(forced && t.shadow.is_none()))
        {
            return Err(self.violation(format!(
                "(b) transition {:?} completing while task {:#x} is still {:?} \
                 (table pending {})",
                self.transition,
                t.key,
                t.shadow,
                table.pending()
            )));
        }
        if forced {
            for t in self.tasks.iter_mut().filter(|t| t.shadow.is_none()) {
                t.tainted = true;
            }
        }
        let id = self.transition.patch().unwrap();
        let pi = self.patch_index(id);
        let s = next(
            self.transition,
            id,
            self.patches[pi].state,
            Event::AllSwitched,
        )
        .map_err(|e| self.violation(format!("AllSwitched refused: {e:?}")))?;
        let direction = self.transition.direction().unwrap();
        self.transition = s.transition;
        let t = Some(table);
        table.stop_switching();
        self.interleave(t)?;
        if direction == Direction::Unpatching {
            if self.bug() == Bug::UnpatchClearBeforePop {
                self.mark(id.0, false, t)?;
            }
            // Pop each version and nop (the kernel synchronises before it frees them), then
            // clear.
            let keep_nops = self.bug() == Bug::ReplaceReverseKeepsNops;
            for f in 0..NFUNCS {
                if !self.live(f) {
                    continue;
                }
                if let Some(i) = self.stacks[f]
                    .iter()
                    .position(|v| v.patch == id.0 && !(keep_nops && v.nop))
                {
                    self.stacks[f].remove(i);
                    self.interleave(t)?;
                }
            }
            self.mark(id.0, false, t)?;
            self.patches[pi].pushed = false;
            if !self.patches[pi].replaces.is_empty() {
                self.stats.replaces_reverted += 1;
            }
        } else {
            self.mark(id.0, false, t)?;
            if !self.patches[pi].replaces.is_empty() {
                self.finish_replace(pi, t)?;
            }
        }
        let s = next(self.transition, id, s.patch, Event::CompletionDone)
            .map_err(|e| self.violation(format!("CompletionDone refused: {e:?}")))?;
        self.transition = s.transition;
        self.patches[pi].state = s.patch;
        // Retirement: hooks unregistered, ACTIVE cleared, the table freed after a grace period.
        self.published = false;
        self.lifecycle = false;
        for t in &mut self.tasks {
            t.shadow = None;
        }
        self.completion_queued = false;
        self.stats.completed += 1;
        Ok(true)
    }

    /// The end of an atomic replace (the kernel's `finish_replace`), its versions out of
    /// transition: per function `replace::at_replace_end`, tasks running in between; then the
    /// replaced patches end disabled and the nops are gone.
    fn finish_replace(&mut self, pi: usize, t: Option<&TaskTable<'_>>) -> Res<()> {
        let id = self.patches[pi].id.0;
        for (f, nop) in self.funcs_of(id) {
            match at_replace_end(nop) {
                ReplaceEnd::Unhook => self.stacks[f].clear(),
                ReplaceEnd::CutOlder => {
                    if let Some(i) = self.stacks[f].iter().position(|v| v.patch == id) {
                        self.stacks[f].drain(..i);
                    }
                }
            }
            self.interleave(t)?;
        }
        let replaced = std::mem::take(&mut self.patches[pi].replaces);
        // The nops are discarded (the kernel trims them from the patch's functions).
        self.patches[pi].nops = [false; NFUNCS];
        for p in &mut self.patches {
            if replaced.contains(&p.id.0) {
                p.state = Patch {
                    state: PatchState::Disabled,
                    ..p.state
                };
                p.pushed = false;
            }
        }
        if self.bug() == Bug::ReplaceWithoutNops {
            // The replaced patches' versions on functions without a nop go with them.
            for f in 0..NFUNCS {
                self.stacks[f].retain(|v| !replaced.contains(&v.patch));
                self.interleave(t)?;
            }
        }
        // (r) The replaced patches are gone from every stack, and no nop is left.
        if let Some(f) = (0..NFUNCS).find(|&f| {
            self.stacks[f]
                .iter()
                .any(|v| v.nop || replaced.contains(&v.patch))
        }) {
            return Err(self.violation(format!(
                "(r) after the replace by {id}, f{f}'s stack still has a replaced version or a \
                 nop: {:?}",
                self.stack_ids()
            )));
        }
        self.stats.replaces_completed += 1;
        Ok(())
    }

    /// The module loads or unloads (each under the registry mutex in the kernel: between two
    /// steps of the transition work, never inside one). `table`: the running transition's.
    fn module_event(&mut self, table: Option<&TaskTable<'_>>) -> Res<()> {
        if !self.module_loaded {
            return self.module_load(table);
        }
        // Unload: `rmmod` waits until nothing runs the module's code.
        self.module_going = true;
        if self.tasks.iter().any(|t| {
            t.frames
                .iter()
                .any(|fr| matches!(fr.code, Code::Patched { f, .. } if in_module(f)))
        }) {
            return Ok(());
        }
        self.log(|| "module unloads".into());
        self.module_loaded = false;
        self.module_going = false;
        if self.bug() != Bug::UnloadKeepsVersions {
            for f in KERNEL_FUNCS..NFUNCS {
                self.stacks[f].clear();
            }
        }
        self.stats.module_unloads += 1;
        Ok(())
    }

    /// A user task loads the module (`finit_module`): the COMING notifier patches its functions
    /// (`replace::coming`, every patch oldest first), then its init runs, calling into it, in
    /// that task's unit of work.
    fn module_load(&mut self, table: Option<&TaskTable<'_>>) -> Res<()> {
        let Some(ti) = self.pick_task(|t| !t.zombie && t.run == Run::UserMode && !t.exiting)
        else {
            return Ok(());
        };
        let t = &mut self.tasks[ti];
        t.run = Run::Kernel;
        t.frames.push(Frame {
            code: Code::Base("finit_module"),
            recs: Vec::new(),
            forced: false,
        });
        t.unit = Some(Record::new("syscall"));
        self.module_loaded = true;
        self.stats.module_loads += 1;
        if table.is_some() {
            self.stats.late_loads += 1;
        }
        let after_init = self.bug() == Bug::LateObjectAfterInit;
        if after_init {
            self.module_init(ti, table)?;
        }
        let in_transition = self.transition.patch().map(|p| p.0);
        let mut ids: Vec<u32> = self.patches.iter().map(|p| p.id.0).collect();
        ids.sort_unstable();
        for id in ids {
            let p = self.loaded(id).unwrap();
            if p.state.state == PatchState::Disabled && !p.pushed {
                continue; // not registered any more
            }
            let (replacing, pushed, nops) = (!p.replaces.is_empty(), p.pushed, p.nops);
            for f in KERNEL_FUNCS..NFUNCS {
                let nop = !self.covers(id, f) && nops[f];
                if !self.covers(id, f) && !nop {
                    continue;
                }
                let Coming::Push { in_transition } =
                    coming(nop, replacing, pushed, in_transition == Some(id))
                else {
                    continue;
                };
                if in_transition && self.bug() != Bug::LateCodeUnchecked {
                    let below = self.stacks[f].last().map(|v| (v.patch, v.nop));
                    for c in late_code(below, (id, nop)) {
                        let v = match c {
                            CodeOf::Version((_, true)) | CodeOf::Original => 0,
                            CodeOf::Version((v, false)) => v,
                        };
                        self.late_code.push(addr(Code::Patched {
                            f,
                            v,
                            via: None,
                            nop: None,
                        }));
                    }
                }
                let marked = in_transition && self.bug() != Bug::LateObjectUnmarked;
                if nop {
                    self.stats.late_nops += 1;
                }
                self.push_one(id, f, nop, marked);
            }
        }
        if !after_init {
            self.module_init(ti, table)?;
        }
        Ok(())
    }

    /// The module's init, in the loading task's syscall: a few calls, most into the module.
    fn module_init(&mut self, ti: usize, table: Option<&TaskTable<'_>>) -> Res<()> {
        for _ in 0..1 + self.rng.below(3) {
            let f = if self.rng.chance(700) {
                KERNEL_FUNCS + self.rng.below(NFUNCS - KERNEL_FUNCS)
            } else {
                self.rng.below(KERNEL_FUNCS)
            };
            self.call(ti, f, table)?;
            self.tasks[ti].frames.pop();
        }
        Ok(())
    }

    /// A late visit of the init walk (it races with the fork hook in the kernel): inserting a
    /// tracked task again must leave its entry alone.
    fn rewalk(&mut self, table: &TaskTable<'_>) -> Res<()> {
        if let Some(ti) = self.pick_task(|t| t.shadow.is_some()) {
            let key = self.tasks[ti].key;
            let r = table.insert(key, table.default_universe());
            if r != Ok(Inserted::AlreadyPresent) {
                return Err(self.violation(format!("(c) re-insert of {key:#x} gave {r:?}")));
            }
        }
        Ok(())
    }

    /// Transition phase: until completion, a rebuild, or the step budget runs out.
    fn transition_phase(&mut self, table: &TaskTable<'_>) -> Res<PhaseEnd> {
        while self.step < self.max_steps {
            self.step += 1;
            let r = self.rng.below(1000);
            if r < 3 {
                self.reverse(table)?;
            } else if r < 4 && self.rng.chance(100) {
                self.force(table)?;
            } else if self.completion_queued && r < 150 {
                let done = self.completion_work(table, true)?;
                self.completion_queued = false;
                if done {
                    return Ok(PhaseEnd::Completed);
                }
            } else if self.step % 64 == 0 {
                // Periodic poll (the work retries with backoff).
                if self.completion_work(table, false)? {
                    return Ok(PhaseEnd::Completed);
                }
            } else if r < 180 && self.rng.chance(200) {
                self.rewalk(table)?;
            } else if r < 200 && self.rng.chance(150) {
                self.module_event(Some(table))?;
            } else if self.cfg.rebuilds && table.needs_rebuild() && r < 250 {
                return Ok(PhaseEnd::Rebuild);
            } else {
                self.task_event(Some(table))?;
            }
            self.check_counters(table)?;
        }
        Ok(PhaseEnd::OutOfSteps)
    }

    /// Runs a transition on `table` until it completes or steps run out, rebuilding the table
    /// (stop, drain, copy under the lock, publish, start) whenever it asks for it.
    fn run_transition(&mut self, table: &TaskTable<'_>, cap: usize) -> Res<PhaseEnd> {
        match self.transition_phase(table)? {
            PhaseEnd::Rebuild => {
                let accepting = table.accepting();
                table.stop_switching();
                self.interleave(Some(table))?;
                // Grace period, then copy and publish under the table lock.
                let storage: Vec<Slot> = (0..cap).map(|_| Slot::new()).collect();
                let new = table
                    .rebuild_into(&storage)
                    .map_err(|e| self.violation(format!("rebuild failed: {e:?}")))?;
                if accepting {
                    new.start_switching();
                }
                self.stats.rebuilds += 1;
                self.check_counters(&new)?;
                if new.tombstones() != 0 || new.needs_rebuild() {
                    return Err(self.violation("rebuilt table is not clean".into()));
                }
                self.run_transition(&new, cap)
            }
            end => Ok(end),
        }
    }
}

/// Runs one seed: returns the stats, or the first violation.
fn run_cfg(seed: u64, steps: usize, cfg: Config) -> Result<Stats, Violation> {
    let mut sim = Sim::new(seed, cfg, steps);
    // Odd seeds: 4 slots per task, as the kernel sizes it (without the 4096-slot floor). Even
    // seeds: 2 slots per task, so that the load passes 1/2 and rebuilds happen.
    let cap = cfg.cap.unwrap_or(
        if seed % 2 == 1 {
            4 * MAX_TASKS
        } else {
            2 * MAX_TASKS
        }
        .next_power_of_two(),
    );
    while let Some(direction) = sim.idle_phase()? {
        // Fresh zeroed memory per transition, as the kernel allocates it.
        let storage: Vec<Slot> = (0..cap).map(|_| Slot::new()).collect();
        let table = TaskTable::new(&storage, direction.initial_universe()).unwrap();
        if !sim.begin_transition(&table, direction)? {
            continue;
        }
        if sim.run_transition(&table, cap)? == PhaseEnd::OutOfSteps {
            break;
        }
    }
    Ok(sim.stats)
}

fn run(seed: u64, steps: usize, bug: Bug) -> Result<Stats, Violation> {
    run_cfg(
        seed,
        steps,
        Config {
            bug,
            cap: None,
            rebuilds: true,
        },
    )
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seeds() -> u64 {
    env_or("LG_MODEL_SEEDS", 400)
}

fn steps() -> usize {
    env_or("LG_MODEL_STEPS", 3000) as usize
}

/// Runs `seeds` seeds from `first`; returns total stats and the violations found (stops at the
/// first violation if `stop_early`).
fn run_all(cfg: Config, first: u64, seeds: u64, stop_early: bool) -> (Stats, Vec<Violation>) {
    let mut total = Stats::default();
    let mut violations = Vec::new();
    for seed in first..first + seeds {
        match run_cfg(seed, steps(), cfg) {
            Ok(s) => total.add(&s),
            Err(v) => {
                violations.push(v);
                if stop_early {
                    break;
                }
            }
        }
    }
    (total, violations)
}

fn correct() -> Config {
    Config {
        bug: Bug::None,
        cap: None,
        rebuilds: true,
    }
}

fn assert_holds(first: u64, seeds: u64) -> Stats {
    let (stats, violations) = run_all(correct(), first, seeds, false);
    eprintln!("model stats: {stats:?}");
    if let Some(v) = violations.first() {
        panic!("{} violations; first: {v}", violations.len());
    }
    stats
}

#[test]
fn model_holds() {
    let stats = assert_holds(0, seeds());
    // The model must actually exercise the protocol (bounds for the default 400 x 3000; a
    // third or less of what it does).
    let scale = |n: usize| (n as u64 * seeds() / 400) as usize;
    assert!(stats.completed > scale(500), "{stats:?}");
    assert!(stats.reversals > scale(300), "{stats:?}");
    assert!(stats.forced > scale(20), "{stats:?}");
    assert!(stats.stack_switches > scale(3000), "{stats:?}");
    assert!(stats.stack_refusals > scale(3000), "{stats:?}");
    assert!(
        stats.forks > scale(5000) && stats.frees > scale(5000),
        "{stats:?}"
    );
    assert!(stats.exits > scale(5000), "{stats:?}");
    assert!(stats.stale_signals > scale(5), "{stats:?}");
    assert!(stats.older_calls > scale(20_000), "{stats:?}");
    assert!(stats.calls_in_setup > scale(10_000), "{stats:?}");
    assert!(stats.irq_calls > scale(10_000), "{stats:?}");
    assert!(stats.tail_calls > scale(10_000), "{stats:?}");
    assert!(stats.original_calls > scale(3000), "{stats:?}");
    assert!(stats.sleeps > scale(10_000), "{stats:?}");
    assert!(stats.parked_checks > scale(100), "{stats:?}");
    assert!(stats.order_refusals > scale(50), "{stats:?}");
    assert!(
        stats.max_tombstones > 0,
        "probing never exercised: {stats:?}"
    );
    assert!(stats.rebuilds > scale(5), "{stats:?}");
    assert!(stats.replaces > scale(50), "{stats:?}");
    assert!(stats.replaces_completed > scale(25), "{stats:?}");
    assert!(stats.replaces_reverted > scale(10), "{stats:?}");
    assert!(stats.nop_calls > scale(1500), "{stats:?}");
    assert!(stats.module_loads > scale(150), "{stats:?}");
    assert!(stats.late_loads > scale(100), "{stats:?}");
    assert!(stats.late_nops > 0, "{stats:?}");
    assert!(stats.module_unloads > scale(40), "{stats:?}");
    assert!(stats.module_calls > scale(10_000), "{stats:?}");
}

/// The big search: `cargo test -p livegraft-logic --test model -- --ignored` (LG_MODEL_SEEDS
/// scales it further).
#[test]
#[ignore]
fn model_holds_long() {
    assert_holds(1_000_000, seeds() * 25);
}

/// Asserts that the checker reports `bug`, with a message starting with one of `what`.
fn assert_caught(bug: Bug, what: &[&str]) {
    let cfg = Config { bug, ..correct() };
    let (_, violations) = run_all(cfg, 0, seeds(), true);
    let v = violations
        .first()
        .unwrap_or_else(|| panic!("the checker missed {bug:?}"));
    eprintln!("{bug:?} caught: {v}");
    assert!(
        what.iter().any(|w| v.msg.starts_with(w)),
        "{bug:?} not reported as {what:?}: {v}"
    );
}

macro_rules! seeded {
    ($($name:ident: $bug:ident => [$($what:expr),*];)*) => {
        $(
            #[test]
            fn $name() {
                assert_caught(Bug::$bug, &[$($what),*]);
            }
        )*
    };
}

seeded! {
    model_catches_verdict_always_clean: VerdictAlwaysClean => ["(a)", "(s)"];
    model_catches_fork_child_gets_target: ForkChildGetsTarget => ["(a)", "(s)"];
    model_catches_completion_on_stale_signal: CompleteOnStaleSignal => ["(b)"];
    model_catches_choose_never_older: ChooseNeverOlder => ["(a)"];
    model_catches_mid_unit_into_patched: MidUnitIntoPatched => ["(a)"];
    model_catches_push_before_mark: PushBeforeMark => ["(a)"];
    model_catches_mark_before_publish: MarkBeforePublish => ["(a)"];
    model_catches_start_before_publish: StartBeforePublish => ["(a)"];
    model_catches_start_before_push: StartBeforePush => ["(a)"];
    model_catches_unpatch_clear_before_pop: UnpatchClearBeforePop => ["(a)"];
    model_catches_loop_head_without_stack_check: LoopHeadNoStackCheck => ["(a)", "(s)"];
    model_catches_tail_call_via_return_address: TailCallViaReturnAddress => ["(l)"];
    model_catches_disable_out_of_stack_order: DisableOutOfOrder => ["(a)"];
    model_catches_tick_switch_in_hardirq: TickSwitchInHardirq => ["(a)", "(i)"];
    model_catches_bh_work_item_switch: BhWorkItemSwitch => ["(a)", "(i)"];
    model_catches_idle_switch_mid_iteration: IdleSwitchMidIteration => ["(a)"];
    model_catches_sched_frames_hidden: SchedFramesHidden => ["(a)", "(s)"];
    model_catches_affected_without_original: AffectedWithoutOriginal => ["(a)", "(s)"];
    model_catches_replace_without_nops: ReplaceWithoutNops => ["(a)"];
    model_catches_replace_reverse_keeps_nops: ReplaceReverseKeepsNops => ["(a)"];
    model_catches_replace_check_blind_to_replaced: ReplaceCheckBlindToReplaced => ["(a)", "(s)"];
    model_catches_late_object_unmarked: LateObjectUnmarked => ["(a)"];
    model_catches_late_object_after_init: LateObjectAfterInit => ["(a)"];
    model_catches_late_code_unchecked: LateCodeUnchecked => ["(a)", "(s)"];
    model_catches_unload_keeps_versions: UnloadKeepsVersions => ["(a)", "(r)"];
    model_catches_stack_order_loaded_only: StackOrderLoadedOnly => ["(a)"];
}

#[test]
fn model_is_deterministic() {
    let a = run(42, steps(), Bug::None).unwrap();
    let b = run(42, steps(), Bug::None).unwrap();
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

/// The kernel's fallback when the fork hook cannot track a child (table full, the fork's reserve
/// of `TaskTable::insert_fork` included): the child runs in the table's default universe (the
/// transition's initial one) until a verification walk inserts it there. A small table without
/// rebuilds exhausts even the reserve; the model then decides whether the fallback is safe. Its
/// verdict (written down in `Documentation/design.rst`, "Fork and exit"):
/// * every violation it finds is on an untracked child **whose parent had already switched**
///   (the fork rule's `Forked::Untracked { mixed: true }`): the child returns from the same fork
///   in the other universe than the parent ran it, a mix of the fork's unit of work (the window
///   between the completion's verification walk and the clearing of `in_transition` is a case
///   of it: every parent has switched by then);
/// * an untracked child of a parent still in the initial universe runs where its parent runs, and
///   never mixes: that part of the fallback is safe.
/// Hence the reserve: the fork hook is the inserter that must fail last.
#[test]
fn model_untracked_fork_fallback() {
    let cfg = Config {
        bug: Bug::None,
        cap: Some(32),
        rebuilds: false,
    };
    let (stats, violations) = run_all(cfg, 0, seeds(), false);
    eprintln!("untracked forks: {stats:?}");
    for v in &violations {
        assert!(
            v.msg
                .starts_with("(a) untracked child of a switched parent"),
            "the fallback failed otherwise: {v}"
        );
    }
    eprintln!(
        "{} of {} seeds: an untracked child of a switched parent mixed; first: {}",
        violations.len(),
        seeds(),
        violations.first().map_or(String::new(), |v| v.to_string())
    );
    assert!(
        !violations.is_empty(),
        "the model no longer shows the unsafe case"
    );
    assert!(stats.untracked_forks > 100, "{stats:?}");
    assert!(
        stats.mixed_forks > 0 && stats.mixed_forks < stats.untracked_forks,
        "{stats:?}"
    );
}
