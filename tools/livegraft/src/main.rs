//! `livegraft`: load, watch, list, disable, unload and install livegraft
//! patches. It reaches the kernel only through syscalls (`finit_module`,
//! `delete_module`), sysfs and `/dev/kmsg`.

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use livegraft_cli::exit;
use livegraft_cli::kmsg::{self, Event, Record};
use livegraft_cli::modinfo::ModInfo;
use livegraft_cli::sysfs::{Patch, Sysfs};
use serde::Serialize;
use std::ffi::CString;
use std::io::{IsTerminal, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(
    name = "livegraft",
    version,
    about = "Load, watch, list, disable, unload and install livegraft patches",
    after_help = exit::TABLE
)]
struct Cli {
    /// Print machine-readable JSON (read commands: list, status, pending, info, log).
    #[arg(long, global = true)]
    json: bool,
    /// Where patches are installed for boot: <DIR>/<kernel release>/*.ko.
    #[arg(long, global = true, env = "LIVEGRAFT_LIB_DIR", default_value = "/var/lib/livegraft")]
    lib_dir: PathBuf,
    /// The sysfs mount (tests point it at a recorded tree).
    #[arg(long, global = true, env = "LIVEGRAFT_SYSFS", default_value = "/sys", hide = true)]
    sysfs: PathBuf,
    /// The kernel log: /dev/kmsg, or a file of kmsg records or dmesg lines.
    #[arg(long, global = true, env = "LIVEGRAFT_KMSG", default_value = "/dev/kmsg", hide = true)]
    kmsg: PathBuf,
    /// The kernel release to use instead of the running one's (tests).
    #[arg(long, global = true, env = "LIVEGRAFT_RELEASE", hide = true)]
    release: Option<String>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum ProgressMode {
    /// A progress bar on a terminal, else plain lines.
    Auto,
    /// A progress bar.
    Bar,
    /// One line per second (logs, serial consoles).
    Plain,
    /// Nothing until the end.
    None,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Table of the loaded patches, installed patches not loaded, and the core.
    List,
    /// Everything about one patch (or every patch): state, progress, objects, functions, pending tasks.
    Status { patch: Option<String> },
    /// The tasks that have not switched yet, and why.
    Pending { patch: Option<String> },
    /// What a module file patches, for which kernel and ABI (without loading it).
    Info { module: PathBuf },
    /// livegraft's transitions from the kernel log, per patch, with timings.
    Log { patch: Option<String> },
    /// Check and load a patch module (and the core first if needed).
    Load {
        module: PathBuf,
        /// Wait until the patching transition completes, showing progress.
        #[arg(long)]
        wait: bool,
        /// Seconds to wait (implies --wait; default 60).
        #[arg(long, value_name = "S")]
        timeout: Option<u64>,
        /// On timeout leave the transition running instead of reverting it.
        #[arg(long)]
        no_revert: bool,
        /// The core module to load if it is not loaded (default: searched).
        #[arg(long, value_name = "LIVEGRAFT_KO")]
        core: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
        progress: ProgressMode,
    },
    /// Start unpatching (or reverse a running patching transition).
    Disable {
        patch: String,
        /// Wait until unpatching completes.
        #[arg(long)]
        wait: bool,
        /// Seconds to wait (implies --wait; default 60).
        #[arg(long, value_name = "S")]
        timeout: Option<u64>,
        #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
        progress: ProgressMode,
    },
    /// Disable the patch, wait for unpatching, remove its module.
    Unload {
        patch: String,
        /// Seconds to wait for unpatching (default 60).
        #[arg(long, value_name = "S", default_value_t = 60)]
        timeout: u64,
        /// The module that holds the patch (default: the patch's name).
        #[arg(long)]
        module: Option<String>,
        #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
        progress: ProgressMode,
    },
    /// Complete a stalled transition at once (breaks the consistency model; the module can never be unloaded).
    Force {
        patch: String,
        /// Confirm: you accept the cost.
        #[arg(long)]
        yes: bool,
    },
    /// Keep a patch (or the core) for boot: copy it to <lib-dir>/<its kernel release>/.
    Install { module: PathBuf },
    /// Remove an installed patch.
    Uninstall {
        /// Patch or module name (or its .ko file name).
        name: String,
        /// The kernel release to remove it from (default: the running one).
        #[arg(long = "for", value_name = "RELEASE")]
        for_release: Option<String>,
    },
    /// Load every patch installed for the running kernel (boot: livegraft.service).
    LoadAll {
        /// Seconds to wait for each patch's transition (default 60).
        #[arg(long, value_name = "S", default_value_t = 60)]
        timeout: u64,
        #[arg(long, value_name = "LIVEGRAFT_KO")]
        core: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
        progress: ProgressMode,
    },
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
}

/// A failure: its exit code and what to tell the user.
#[derive(Debug)]
struct Fail {
    code: i32,
    msg: String,
}

fn fail(code: i32, msg: impl Into<String>) -> Fail {
    Fail { code, msg: msg.into() }
}

type Res<T = i32> = Result<T, Fail>;

struct Ctx {
    json: bool,
    sys: Sysfs,
    kmsg: PathBuf,
    lib_dir: PathBuf,
    release: String,
}

fn main() {
    let cli = Cli::parse();
    let release = cli.release.clone().unwrap_or_else(running_release);
    let ctx = Ctx { json: cli.json, sys: Sysfs::new(&cli.sysfs), kmsg: cli.kmsg.clone(), lib_dir: cli.lib_dir.clone(), release };
    let code = match run(&ctx, cli.cmd) {
        Ok(c) => c,
        Err(f) => {
            let _ = std::io::stdout().flush();
            eprintln!("livegraft: error: {}", f.msg);
            f.code
        }
    };
    std::process::exit(code);
}

fn run(ctx: &Ctx, cmd: Cmd) -> Res {
    match cmd {
        Cmd::List => list(ctx),
        Cmd::Status { patch } => status(ctx, patch.as_deref()),
        Cmd::Pending { patch } => pending(ctx, patch.as_deref()),
        Cmd::Info { module } => info(ctx, &module),
        Cmd::Log { patch } => log(ctx, patch.as_deref()),
        Cmd::Load { module, wait, timeout, no_revert, core, progress } => {
            let wait = (wait || timeout.is_some()).then(|| timeout.unwrap_or(60));
            load(ctx, &module, wait, !no_revert, core.as_deref(), progress).map(|_| exit::OK)
        }
        Cmd::Disable { patch, wait, timeout, progress } => {
            let wait = (wait || timeout.is_some()).then(|| timeout.unwrap_or(60));
            disable(ctx, &patch, wait, progress)
        }
        Cmd::Unload { patch, timeout, module, progress } => unload(ctx, &patch, timeout, module.as_deref(), progress),
        Cmd::Force { patch, yes } => force(ctx, &patch, yes),
        Cmd::Install { module } => install(ctx, &module),
        Cmd::Uninstall { name, for_release } => uninstall(ctx, &name, for_release.as_deref()),
        Cmd::LoadAll { timeout, core, progress } => load_all(ctx, timeout, core.as_deref(), progress),
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "livegraft", &mut std::io::stdout());
            Ok(exit::OK)
        }
    }
}

fn running_release() -> String {
    // SAFETY: `uname` fills the zeroed struct it is given; nothing else reads it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return String::from("unknown");
    }
    // SAFETY: the kernel NUL-terminates utsname.release.
    unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }.to_string_lossy().into_owned()
}

fn print_json<T: Serialize>(v: &T) -> Res {
    println!("{}", serde_json::to_string_pretty(v).map_err(|e| fail(exit::FAILURE, e.to_string()))?);
    Ok(exit::OK)
}

fn io_fail(what: &str, e: std::io::Error) -> Fail {
    let code = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => exit::PERMISSION,
        Some(libc::EBUSY) => exit::BUSY,
        _ => exit::FAILURE,
    };
    let hint = if code == exit::PERMISSION { " (run livegraft as root)" } else { "" };
    fail(code, format!("{what}: {e}{hint}"))
}

fn need_core(ctx: &Ctx) -> Res<()> {
    if ctx.sys.core_loaded() {
        Ok(())
    } else {
        Err(fail(
            exit::NO_CORE,
            format!(
                "the livegraft core is not loaded ({} is missing): `livegraft load PATCH.ko` loads it first, or load livegraft.ko yourself",
                ctx.sys.livegraft_dir().display()
            ),
        ))
    }
}

fn get_patch(ctx: &Ctx, name: &str) -> Res<Patch> {
    need_core(ctx)?;
    match ctx.sys.patch(name) {
        Ok(Some(p)) => Ok(p),
        Ok(None) => {
            let names = ctx.sys.patch_names().unwrap_or_default();
            let have = if names.is_empty() { "no patch is loaded".to_string() } else { format!("loaded: {}", names.join(", ")) };
            Err(fail(exit::NO_PATCH, format!("no patch '{name}' ({have}; see `livegraft list`)")))
        }
        Err(e) => Err(io_fail(&format!("reading patch '{name}'"), e)),
    }
}

// --- read commands ------------------------------------------------------------

#[derive(Serialize)]
struct Installed {
    file: PathBuf,
    module: Option<String>,
    patch: Option<String>,
    loaded: bool,
}

fn installed(ctx: &Ctx, release: &str) -> Vec<Installed> {
    let dir = ctx.lib_dir.join(release);
    let mut v = Vec::new();
    for f in installed_files(&dir) {
        let mi = ModInfo::from_file(&f).ok();
        let module = mi.as_ref().and_then(|m| m.name.clone());
        let patch = mi.as_ref().and_then(|m| m.expected_patch_name().map(str::to_string));
        let loaded = module.as_deref().is_some_and(|m| ctx.sys.module_loaded(m));
        v.push(Installed { file: f, module, patch, loaded });
    }
    v
}

/// The installed patch files of one release, in load order: the order file
/// (install order) first, then the rest by name. The core is not listed.
fn installed_files(dir: &Path) -> Vec<PathBuf> {
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "ko")).collect())
        .unwrap_or_default();
    all.retain(|p| p.file_name().is_some_and(|n| n != "livegraft.ko"));
    all.sort();
    let order = std::fs::read_to_string(dir.join("order")).unwrap_or_default();
    let mut v = Vec::new();
    for name in order.lines() {
        if let Some(i) = all.iter().position(|p| p.file_name().is_some_and(|n| n.to_string_lossy() == name.trim())) {
            v.push(all.remove(i));
        }
    }
    v.extend(all);
    v
}

fn list(ctx: &Ctx) -> Res {
    let core = ctx.sys.core();
    let patches = if core.loaded { ctx.sys.patches().map_err(|e| io_fail("reading patches", e))? } else { Vec::new() };
    let inst: Vec<Installed> = installed(ctx, &ctx.release).into_iter().filter(|i| !i.loaded).collect();
    if ctx.json {
        #[derive(Serialize)]
        struct L<'a> {
            core: &'a livegraft_cli::sysfs::CoreInfo,
            release: &'a str,
            patches: &'a [Patch],
            installed_not_loaded: &'a [Installed],
        }
        return print_json(&L { core: &core, release: &ctx.release, patches: &patches, installed_not_loaded: &inst });
    }
    print_core(&core);
    if core.loaded {
        if patches.is_empty() {
            println!("no patches loaded");
        } else {
            println!(
                "{:<24} {:<20} {:>5} {:>7} {:>6} {:<24} {:>5} {:>5}",
                "PATCH", "STATE", "ORDER", "REPLACE", "FORCED", "OBJECTS (patched)", "FUNCS", "FAST"
            );
            for p in &patches {
                let objs: Vec<String> = p
                    .objects
                    .iter()
                    .map(|o| format!("{}{}", o.name, if o.patched == Some(true) { "" } else { "(no)" }))
                    .collect();
                println!(
                    "{:<24} {:<20} {:>5} {:>7} {:>6} {:<24} {:>5} {:>5}",
                    p.name,
                    p.state_text(),
                    p.stack_order.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                    p.replace.map(|r| if r { "yes" } else { "no" }).unwrap_or("-"),
                    if p.forced { "yes" } else { "no" },
                    objs.join(","),
                    p.function_count(),
                    p.summary.fast_path.map(|n| n.to_string()).unwrap_or_else(|| "-".into()),
                );
            }
        }
    }
    for i in &inst {
        println!(
            "installed, not loaded: {} ({})",
            i.patch.as_deref().unwrap_or("?"),
            i.file.display()
        );
    }
    Ok(exit::OK)
}

fn print_core(core: &livegraft_cli::sysfs::CoreInfo) {
    if !core.loaded {
        println!("core: not loaded");
        return;
    }
    let params: Vec<String> =
        core.parameters.iter().filter(|(k, _)| *k != "abi_version").map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "core: livegraft {} (patch ABI {}); {}",
        core.version.as_deref().unwrap_or("?"),
        core.abi.map(|a| a.to_string()).unwrap_or_else(|| "unknown".into()),
        params.join(" ")
    );
}

fn print_status(p: &Patch) {
    println!("patch {}", p.name);
    println!("  state:       {}{}", p.state_text(), if p.forced { " (forced: the module can never be unloaded)" } else { "" });
    if let Some(o) = p.stack_order {
        println!("  stack order: {o}");
    }
    if let Some(r) = p.replace {
        println!("  replace:     {}", if r { "yes (replaces every older patch)" } else { "no" });
    }
    let s = &p.summary;
    if p.transition {
        if let Some((d, t)) = s.progress() {
            println!("  progress:    {d}/{t} tasks switched, {} pending", s.pending.unwrap_or(0));
        }
        if let Some(ms) = s.elapsed_ms {
            println!("  elapsed:     {ms} ms, {} stack-check passes", s.passes.unwrap_or(0));
        }
        println!("  switched by: {}", if s.switched_text().is_empty() { "-".to_string() } else { s.switched_text() });
    }
    println!("  fast path:   {} of {} functions", s.fast_path.unwrap_or(0), p.function_count());
    for o in &p.objects {
        let st = match o.patched {
            Some(true) => "patched",
            Some(false) => "not patched (object not loaded, or transition not started)",
            None => "?",
        };
        println!("  object {}: {st}", o.name);
        for f in &o.functions {
            println!("    {},{}", f.name, f.sympos);
        }
    }
    for (k, v) in &p.extra {
        println!("  {k}: {v}");
    }
    if !p.pending_tasks.is_empty() {
        println!("  pending tasks:");
        for t in &p.pending_tasks {
            println!("    {}", t.describe());
        }
    }
}

fn status(ctx: &Ctx, patch: Option<&str>) -> Res {
    if let Some(name) = patch {
        let p = get_patch(ctx, name)?;
        if ctx.json {
            return print_json(&p);
        }
        print_status(&p);
        return Ok(exit::OK);
    }
    let core = ctx.sys.core();
    let patches = if core.loaded { ctx.sys.patches().map_err(|e| io_fail("reading patches", e))? } else { Vec::new() };
    if ctx.json {
        #[derive(Serialize)]
        struct S<'a> {
            core: &'a livegraft_cli::sysfs::CoreInfo,
            patches: &'a [Patch],
        }
        return print_json(&S { core: &core, patches: &patches });
    }
    print_core(&core);
    for p in &patches {
        print_status(p);
    }
    Ok(exit::OK)
}

fn pending(ctx: &Ctx, patch: Option<&str>) -> Res {
    need_core(ctx)?;
    let patches = match patch {
        Some(n) => vec![get_patch(ctx, n)?],
        None => ctx.sys.patches().map_err(|e| io_fail("reading patches", e))?,
    };
    let moving: Vec<&Patch> = patches.iter().filter(|p| p.transition).collect();
    if ctx.json {
        #[derive(Serialize)]
        struct P<'a> {
            patch: &'a str,
            direction: Option<&'a str>,
            pending: Option<u64>,
            tasks: &'a [livegraft_cli::sysfs::PendingTask],
        }
        let v: Vec<P> = moving
            .iter()
            .map(|p| P { patch: &p.name, direction: p.summary.direction.as_deref(), pending: p.summary.pending, tasks: &p.pending_tasks })
            .collect();
        return print_json(&v);
    }
    if moving.is_empty() {
        println!("no transition in progress{}", patch.map(|n| format!(" for '{n}'")).unwrap_or_default());
    }
    for p in moving {
        println!("{}: {}, {} pending", p.name, p.state_text(), p.summary.pending.unwrap_or(0));
        for t in &p.pending_tasks {
            println!("  {}", t.describe());
        }
    }
    Ok(exit::OK)
}

fn read_modinfo(path: &Path) -> Res<ModInfo> {
    ModInfo::from_file(path).map_err(|e| fail(exit::REFUSED, format!("{}: {e}", path.display())))
}

/// The ABI the loaded core implements: its sysfs parameter, else its load line.
fn loaded_core_abi(ctx: &Ctx) -> Option<u32> {
    ctx.sys.core().abi.or_else(|| {
        kmsg::read_kmsg(&ctx.kmsg).ok()?.iter().rev().find_map(|r| match Event::parse(r.livegraft_text()?) {
            Event::CoreLoaded { abi, .. } => abi,
            _ => None,
        })
    })
}

fn info(ctx: &Ctx, path: &Path) -> Res {
    let m = read_modinfo(path)?;
    let core_abi = if ctx.sys.core_loaded() { loaded_core_abi(ctx) } else { None };
    let problems: Vec<String> = m.check(&ctx.release, core_abi).iter().map(|x| x.to_string()).collect();
    if ctx.json {
        #[derive(Serialize)]
        struct I<'a> {
            file: &'a Path,
            #[serde(flatten)]
            modinfo: &'a ModInfo,
            running_release: &'a str,
            core_abi: Option<u32>,
            loadable: bool,
            problems: &'a [String],
        }
        return print_json(&I {
            file: path,
            modinfo: &m,
            running_release: &ctx.release,
            core_abi,
            loadable: problems.is_empty(),
            problems: &problems,
        });
    }
    println!("file:        {}", path.display());
    println!("module:      {}", m.name.as_deref().unwrap_or("?"));
    if m.is_core() {
        println!("kind:        the livegraft core {}", m.version.as_deref().unwrap_or(""));
    } else {
        println!("patch:       {}", m.expected_patch_name().unwrap_or("?"));
    }
    if let Some(d) = &m.description {
        println!("description: {d}");
    }
    println!("kernel:      {} (vermagic: {})", m.release.as_deref().unwrap_or("?"), m.vermagic.as_deref().unwrap_or("none"));
    println!("patch ABI:   {}", m.livegraft_abi.map(|a| a.to_string()).unwrap_or_else(|| "not recorded".into()));
    println!("depends:     {}", if m.depends.is_empty() { "-".to_string() } else { m.depends.join(", ") });
    if !m.is_core() {
        if m.functions.is_empty() {
            println!("functions:   not recorded in the file (a C patch module; see its source)");
        } else {
            println!("functions:");
            for f in &m.functions {
                println!("  {}: {},{}", f.object, f.function, f.sympos);
            }
        }
    }
    let core = match core_abi {
        Some(a) => format!("loaded core ABI {a}"),
        None => "core not loaded".to_string(),
    };
    if problems.is_empty() {
        println!("loadable:    yes (running kernel {}, {core})", ctx.release);
    } else {
        println!("loadable:    no (running kernel {}, {core})", ctx.release);
        for p in &problems {
            println!("  - {p}");
        }
    }
    Ok(exit::OK)
}

fn log(ctx: &Ctx, patch: Option<&str>) -> Res {
    let recs = kmsg::read_kmsg(&ctx.kmsg).map_err(|e| io_fail(&format!("reading {}", ctx.kmsg.display()), e))?;
    let trs = kmsg::transitions(&recs, patch);
    if ctx.json {
        return print_json(&trs);
    }
    if trs.is_empty() {
        println!("no livegraft transitions in the kernel log{}", patch.map(|p| format!(" for '{p}'")).unwrap_or_default());
    }
    for t in &trs {
        let at = t.start_us.map(|u| format!("[{:>6}.{:03}] ", u / 1_000_000, (u / 1000) % 1000)).unwrap_or_default();
        let took = match (t.switch_ms, t.duration_ms) {
            (Some(ms), _) | (None, Some(ms)) => format!(" in {ms} ms"),
            _ => String::new(),
        };
        let by: Vec<String> = t.switched_by.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{at}{}: {} -> {}{took}{}{}{}",
            t.patch,
            if t.direction.is_empty() { "?" } else { &t.direction },
            t.outcome.as_deref().unwrap_or("still running"),
            if by.is_empty() { String::new() } else { format!(" ({})", by.join(" ")) },
            if t.reversed { " [reversed]" } else { "" },
            if t.forced { " [forced]" } else { "" },
        );
        for s in &t.stalled {
            println!("    stalled: {s}");
        }
    }
    Ok(exit::OK)
}

// --- module syscalls ------------------------------------------------------------

/// `finit_module(fd, "", 0)`.
fn finit_module(path: &Path) -> std::io::Result<()> {
    let f = std::fs::File::open(path)?;
    let params = c"";
    // SAFETY: `f` is an open file descriptor for the duration of the call and
    // `params` a NUL-terminated string; the syscall reads both.
    let r = unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), params.as_ptr(), 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `delete_module(name, O_NONBLOCK)`, as rmmod does.
fn delete_module(name: &str) -> std::io::Result<()> {
    let c = CString::new(name).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a NUL-terminated string alive across the call.
    let r = unsafe { libc::syscall(libc::SYS_delete_module, c.as_ptr(), libc::O_NONBLOCK) };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// delete_module, retried for a while on EAGAIN/EBUSY: the core drops its
/// reference to a patch module just after the patch's sysfs directory goes
/// (the unpatching work finishes after removing it), so the first attempt
/// right after "unpatching complete" can still find the module in use.
fn delete_module_retry(name: &str) -> std::io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match delete_module(name) {
            Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EBUSY)) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            r => return r,
        }
    }
}

fn last_seq(ctx: &Ctx) -> Option<u64> {
    kmsg::read_kmsg(&ctx.kmsg).ok()?.iter().filter_map(|r| r.seq).max()
}

/// The kernel's lines about loading since `seq`: livegraft's and the module loader's.
fn new_kernel_lines(ctx: &Ctx, seq: Option<u64>, module: &str) -> Vec<String> {
    let recs: Vec<Record> = kmsg::read_kmsg(&ctx.kmsg).unwrap_or_default();
    recs.into_iter()
        .filter(|r| match (seq, r.seq) {
            (Some(s), Some(q)) => q > s,
            _ => true,
        })
        .filter(|r| r.msg.starts_with("livegraft: ") || r.msg.starts_with(&format!("{module}: ")))
        .map(|r| r.msg)
        .rev()
        .take(8)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

fn load_error(ctx: &Ctx, path: &Path, module: &str, e: std::io::Error, seq: Option<u64>) -> Fail {
    let lines = new_kernel_lines(ctx, seq, module);
    let said = if lines.is_empty() { String::new() } else { format!("\nthe kernel said:\n  {}", lines.join("\n  ")) };
    let (code, why) = match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => (exit::PERMISSION, "not allowed: run livegraft as root (module loading needs CAP_SYS_MODULE)".to_string()),
        Some(libc::EEXIST) => (exit::BUSY, format!("module {module} is already loaded (see `livegraft list`)")),
        Some(libc::EBUSY) => (
            exit::BUSY,
            "busy: another patch is in transition, a conflicting patch or another ftrace user (e.g. upstream livepatch) holds one of its functions; wait for the other transition, or disable the conflicting patch".to_string(),
        ),
        Some(libc::EPROTO) => (exit::REFUSED, "the core refused the patch's ABI: rebuild the patch against this core".to_string()),
        Some(libc::ENOENT) => (
            exit::REFUSED,
            "unknown symbol or object: a module it depends on is not loaded, or a function it patches does not exist".to_string(),
        ),
        Some(libc::ENOEXEC) => (exit::REFUSED, "the kernel refused the file (wrong kernel or not a valid module)".to_string()),
        Some(libc::EINVAL) => (exit::REFUSED, "the core refused the patch as invalid".to_string()),
        _ => (exit::FAILURE, "the kernel refused the module".to_string()),
    };
    fail(code, format!("loading {} failed: {e}: {why}{said}", path.display()))
}

/// Where the core module may be: --core, $LIVEGRAFT_CORE, the lib dir,
/// the kernel's module directories, next to the patch.
fn find_core(ctx: &Ctx, given: Option<&Path>, patch: &Path) -> Option<PathBuf> {
    if let Some(g) = given {
        return Some(g.to_path_buf());
    }
    let mut c: Vec<PathBuf> = Vec::new();
    if let Some(e) = std::env::var_os("LIVEGRAFT_CORE") {
        c.push(e.into());
    }
    c.push(ctx.lib_dir.join(&ctx.release).join("livegraft.ko"));
    for sub in ["updates/dkms", "extra", "updates"] {
        c.push(Path::new("/lib/modules").join(&ctx.release).join(sub).join("livegraft.ko"));
    }
    if let Some(d) = patch.parent() {
        c.push(d.join("livegraft.ko"));
    }
    c.into_iter().find(|p| p.is_file())
}

// --- load and wait ---------------------------------------------------------------

enum Waited {
    Done(Patch),
    Gone,
    TimedOut(Option<Patch>),
}

/// Polls `name` until its transition ends (or its directory goes), showing progress.
fn wait_transition(ctx: &Ctx, name: &str, secs: u64, mode: ProgressMode, want_gone: bool) -> Waited {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let bar_mode = match mode {
        ProgressMode::Auto => std::io::stderr().is_terminal(),
        ProgressMode::Bar => true,
        _ => false,
    };
    let bar = bar_mode.then(|| {
        // Hidden until the summary gives a total: a 0/0 bar would show as full.
        let b = indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::hidden());
        b.set_style(
            indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} tasks {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b.set_prefix(name.to_string());
        b
    });
    let mut last_line = Instant::now() - Duration::from_secs(2);
    let mut last_pending: Vec<String> = Vec::new();
    let mut last: Option<Patch>;
    loop {
        let p = ctx.sys.patch(name).ok().flatten();
        match &p {
            None => {
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                return Waited::Gone;
            }
            Some(p) if !p.transition && !want_gone => {
                if let Some(b) = &bar {
                    b.finish_and_clear();
                }
                return Waited::Done(p.clone());
            }
            Some(p) => {
                let s = &p.summary;
                let (done, total) = s.progress().unwrap_or((0, 0));
                let by = s.switched_text();
                let stalled: Vec<String> = p.pending_tasks.iter().take(5).map(|t| t.describe()).collect();
                if let Some(b) = bar.as_ref().filter(|_| total > 0) {
                    if b.is_hidden() {
                        b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                    }
                    b.set_length(total);
                    b.set_position(done);
                    let first = p.pending_tasks.first().map(|t| {
                        format!(" | waiting for {} {}{}", t.pid, t.comm, t.function.as_ref().map(|f| format!(" in {f}")).unwrap_or_default())
                    });
                    b.set_message(format!("[{}]{}", by, first.unwrap_or_default()));
                } else if mode != ProgressMode::None && last_line.elapsed() >= Duration::from_secs(1) {
                    println!(
                        "{name}: {} {done}/{total} tasks switched, {} pending [{}] {:.1}s",
                        s.direction.as_deref().unwrap_or("transition"),
                        s.pending.unwrap_or(0),
                        if by.is_empty() { "-" } else { &by },
                        start.elapsed().as_secs_f64()
                    );
                    if stalled != last_pending {
                        for t in &stalled {
                            println!("  waiting for: {t}");
                        }
                    }
                    last_pending = stalled;
                    let _ = std::io::stdout().flush();
                    last_line = Instant::now();
                }
            }
        }
        last = p;
        if Instant::now() >= deadline {
            if let Some(b) = &bar {
                b.abandon();
            }
            return Waited::TimedOut(last);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn record_module(patch: &str, module: &str) {
    let dir = Path::new("/run/livegraft");
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = std::fs::write(dir.join(patch), module);
    }
}

fn module_of(ctx: &Ctx, patch: &str) -> String {
    if ctx.sys.module_loaded(patch) {
        return patch.to_string();
    }
    std::fs::read_to_string(Path::new("/run/livegraft").join(patch))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| patch.to_string())
}

fn load_core(ctx: &Ctx, core: &Path, seq: Option<u64>) -> Res<()> {
    println!("loading the livegraft core {}", core.display());
    finit_module(core).map_err(|e| {
        let f = load_error(ctx, core, "livegraft", e, seq);
        fail(if f.code == exit::PERMISSION { f.code } else { exit::NO_CORE }, f.msg)
    })
}

/// Loads `path`; with `wait`, waits up to that many seconds for patching to
/// complete. Returns the patch name.
fn load(ctx: &Ctx, path: &Path, wait: Option<u64>, revert: bool, core: Option<&Path>, mode: ProgressMode) -> Res<String> {
    let m = read_modinfo(path)?;
    let modname = m.name.clone().ok_or_else(|| fail(exit::REFUSED, format!("{}: no module name in .modinfo", path.display())))?;
    let seq = last_seq(ctx);
    if m.is_core() {
        if ctx.sys.core_loaded() {
            println!("the livegraft core is already loaded");
            return Ok(modname);
        }
        if let Some(r) = m.release.as_deref().filter(|r| *r != ctx.release) {
            return Err(fail(exit::REFUSED, format!("{}: built for kernel {r}, but the running kernel is {}", path.display(), ctx.release)));
        }
        load_core(ctx, path, seq)?;
        return Ok(modname);
    }
    // The core's ABI, from the loaded core or from the file that would be loaded.
    let (core_abi, core_file) = if ctx.sys.core_loaded() {
        (loaded_core_abi(ctx), None)
    } else {
        let Some(cf) = find_core(ctx, core, path) else {
            return Err(fail(
                exit::NO_CORE,
                "the livegraft core is not loaded and no livegraft.ko was found (looked at --core, $LIVEGRAFT_CORE, the lib dir, /lib/modules/<release>/{updates/dkms,extra,updates}, next to the patch): install it (make install, DKMS, or `livegraft install livegraft.ko`) or pass --core",
            ));
        };
        let cm = read_modinfo(&cf)?;
        if let Some(r) = cm.release.as_deref().filter(|r| *r != ctx.release) {
            return Err(fail(exit::NO_CORE, format!("the core {} was built for kernel {r}, but the running kernel is {}", cf.display(), ctx.release)));
        }
        (cm.livegraft_abi, Some(cf))
    };
    let problems = m.check(&ctx.release, core_abi);
    if !problems.is_empty() {
        let mut msg = format!("refusing to load {} (nothing was loaded):", path.display());
        for p in &problems {
            msg.push_str(&format!("\n  - {p}"));
        }
        return Err(fail(exit::REFUSED, msg));
    }
    let missing: Vec<&String> = m.depends.iter().filter(|d| *d != "livegraft" && !ctx.sys.module_loaded(d)).collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return Err(fail(
            exit::REFUSED,
            format!(
                "refusing to load {} (nothing was loaded): it needs module(s) {} that are not loaded; load them first (modprobe {})",
                path.display(),
                names.join(", "),
                names.join(" ")
            ),
        ));
    }
    if ctx.sys.module_loaded(&modname) {
        return Err(fail(exit::BUSY, format!("module {modname} is already loaded (see `livegraft list`)")));
    }
    // SAFETY: plain libc call without arguments.
    if unsafe { libc::geteuid() } != 0 {
        return Err(fail(exit::PERMISSION, "loading a module needs root: run `sudo livegraft load ...`"));
    }
    if let Some(cf) = core_file {
        load_core(ctx, &cf, seq)?;
    }
    let before = ctx.sys.patch_names().unwrap_or_default();
    let seq = last_seq(ctx);
    finit_module(path).map_err(|e| load_error(ctx, path, &modname, e, seq))?;
    let after = ctx.sys.patch_names().unwrap_or_default();
    let new: Vec<&String> = after.iter().filter(|n| !before.contains(n)).collect();
    let name = match new.as_slice() {
        [one] => (*one).clone(),
        _ => m.expected_patch_name().unwrap_or(&modname).to_string(),
    };
    record_module(&name, &modname);
    let Some(p) = ctx.sys.patch(&name).ok().flatten() else {
        println!("loaded {modname}; no patch directory {} appeared", ctx.sys.patch_dir(&name).display());
        return Ok(name);
    };
    println!("loaded {} (module {modname}): patch '{name}' {}", path.display(), p.state_text());
    let Some(secs) = wait else {
        if p.transition {
            println!("the transition runs in the background: `livegraft status {name}`, `livegraft pending {name}`");
        }
        return Ok(name);
    };
    match wait_transition(ctx, &name, secs, mode, false) {
        Waited::Done(p) => {
            let by = last_switched(ctx, &name);
            if p.enabled {
                println!("{name}: patching complete{by}");
                Ok(name)
            } else {
                Err(fail(exit::FAILURE, format!("{name}: the transition ended unpatched (was it disabled meanwhile?)")))
            }
        }
        Waited::Gone => Err(fail(exit::FAILURE, format!("{name}: the patch went away while patching (disabled meanwhile?)"))),
        Waited::TimedOut(last) => timed_out(ctx, &name, &modname, path, secs, last, revert, mode),
    }
}

/// " in 123 ms (syscall=3 stack_check=9)", from the kernel's completion line.
fn last_switched(ctx: &Ctx, name: &str) -> String {
    let recs = kmsg::read_kmsg(&ctx.kmsg).unwrap_or_default();
    let trs = kmsg::transitions(&recs, Some(name));
    match trs.last().and_then(|t| t.switch_ms.map(|ms| (ms, &t.switched_by))) {
        Some((ms, by)) => {
            let by: Vec<String> = by.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!(" in {ms} ms ({})", by.join(" "))
        }
        None => String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
fn timed_out(ctx: &Ctx, name: &str, modname: &str, path: &Path, secs: u64, last: Option<Patch>, revert: bool, mode: ProgressMode) -> Res<String> {
    let p = ctx.sys.patch(name).ok().flatten().or(last);
    let mut msg = format!("{name}: patching did not complete in {secs} s");
    if let Some(p) = &p {
        let (d, t) = p.summary.progress().unwrap_or((0, 0));
        msg.push_str(&format!(" ({d}/{t} tasks switched); tasks that have not switched:"));
        if p.pending_tasks.is_empty() {
            msg.push_str(&format!("\n  ({} pending, not listed yet)", p.summary.pending.unwrap_or(0)));
        }
        for t in &p.pending_tasks {
            msg.push_str(&format!("\n  {}", t.describe()));
        }
    }
    println!("{msg}");
    let steps = format!(
        "next steps:\n  - wait longer: livegraft load --wait --timeout N {} (or --no-revert, then watch `livegraft pending {name}`)\n  - make the listed tasks leave the patched functions (end or wake what they wait for)\n  - livegraft force {name} --yes: completes at once, but the listed tasks may run old and new code mixed, and the module can never be unloaded",
        path.display()
    );
    if !revert {
        println!("left in transition (--no-revert): the machine runs mixed universes until it completes");
        println!("{steps}");
        return Err(fail(exit::TIMEOUT_LEFT, format!("{name}: transition timed out and was left running")));
    }
    println!("reverting: unpatching '{name}' (the tasks that switched switch back)");
    if let Err(e) = ctx.sys.write_enabled(name, false) {
        return Err(io_fail(&format!("{name}: reverting failed (writing 0 to enabled)"), e));
    }
    match wait_transition(ctx, name, secs.max(30), mode, true) {
        Waited::Gone => {
            let removed = match delete_module_retry(modname) {
                Ok(()) => format!("; module {modname} removed"),
                Err(e) => format!("; removing module {modname} failed: {e}"),
            };
            println!("reverted: '{name}' is unpatched{removed}");
            println!("{steps}");
            Err(fail(exit::TIMEOUT_REVERTED, format!("{name}: transition timed out after {secs} s and was reverted")))
        }
        _ => Err(fail(
            exit::TIMEOUT_LEFT,
            format!("{name}: the revert did not complete either; see `livegraft pending {name}`; `livegraft force {name} --yes` is the last resort"),
        )),
    }
}

fn disable(ctx: &Ctx, name: &str, wait: Option<u64>, mode: ProgressMode) -> Res {
    let p = get_patch(ctx, name)?;
    if p.enabled {
        ctx.sys.write_enabled(name, false).map_err(|e| match e.raw_os_error() {
            Some(libc::EBUSY) => fail(
                exit::BUSY,
                format!("{name}: busy: another patch's transition is in progress, or a newer patch is stacked on one of its functions (disable the newer patch first; `livegraft list` shows the stack order)"),
            ),
            _ => io_fail(&format!("{name}: writing 0 to enabled"), e),
        })?;
        println!("{name}: unpatching started");
    } else {
        println!("{name}: already unpatching");
    }
    let Some(secs) = wait else { return Ok(exit::OK) };
    match wait_transition(ctx, name, secs, mode, true) {
        Waited::Gone => {
            println!("{name}: unpatching complete{}", last_switched(ctx, name));
            Ok(exit::OK)
        }
        Waited::Done(_) | Waited::TimedOut(_) => {
            let p = ctx.sys.patch(name).ok().flatten();
            if let Some(p) = &p {
                for t in &p.pending_tasks {
                    println!("  {}", t.describe());
                }
            }
            Err(fail(exit::TIMEOUT_LEFT, format!("{name}: unpatching did not complete in {secs} s; it keeps running (`livegraft pending {name}`)")))
        }
    }
}

fn unload(ctx: &Ctx, name: &str, secs: u64, module: Option<&str>, mode: ProgressMode) -> Res {
    let modname = module.map(str::to_string).unwrap_or_else(|| module_of(ctx, name));
    if ctx.sys.core_loaded() && ctx.sys.patch_dir(name).is_dir() {
        let p = get_patch(ctx, name)?;
        if p.forced {
            return Err(fail(exit::BUSY, format!("{name} was forced: its module can never be unloaded (reboot to get rid of it)")));
        }
        disable(ctx, name, Some(secs), mode)?;
    } else if !ctx.sys.module_loaded(&modname) {
        return Err(fail(exit::NO_PATCH, format!("no patch or module '{name}' is loaded (see `livegraft list`)")));
    }
    delete_module_retry(&modname).map_err(|e| match e.raw_os_error() {
        Some(libc::EBUSY) | Some(libc::EAGAIN) => fail(exit::BUSY, format!("module {modname} is in use: {e}")),
        Some(libc::ENOENT) => fail(exit::NO_PATCH, format!("no module {modname} (pass --module if the patch's module has another name)")),
        _ => io_fail(&format!("removing module {modname}"), e),
    })?;
    let _ = std::fs::remove_file(Path::new("/run/livegraft").join(name));
    println!("{name}: module {modname} removed");
    Ok(exit::OK)
}

fn force(ctx: &Ctx, name: &str, yes: bool) -> Res {
    let p = get_patch(ctx, name)?;
    if !p.transition {
        return Err(fail(exit::FAILURE, format!("{name} is not in transition: nothing to force")));
    }
    if !yes {
        return Err(fail(
            exit::USAGE,
            format!(
                "refusing without --yes. Forcing marks every task that has not switched as switched: those tasks (`livegraft pending {name}`) may run old and new code mixed within one unit of work, and the module of '{name}' can never be unloaded afterwards (the core keeps a reference until reboot). Run `livegraft force {name} --yes` to accept that."
            ),
        ));
    }
    ctx.sys.write_force(name).map_err(|e| io_fail(&format!("{name}: writing 1 to force"), e))?;
    println!("{name}: forced; its module can never be unloaded now");
    Ok(exit::OK)
}

// --- boot persistence -------------------------------------------------------------

fn install(ctx: &Ctx, path: &Path) -> Res {
    let m = read_modinfo(path)?;
    let release = m.release.clone().ok_or_else(|| fail(exit::REFUSED, format!("{}: not a kernel module (no vermagic)", path.display())))?;
    let modname = m.name.clone().ok_or_else(|| fail(exit::REFUSED, format!("{}: no module name", path.display())))?;
    if !m.is_core() && m.livegraft_abi.is_none() {
        return Err(fail(exit::REFUSED, format!("{}: {}", path.display(), livegraft_cli::modinfo::Mismatch::NoAbi)));
    }
    let dir = ctx.lib_dir.join(&release);
    std::fs::create_dir_all(&dir).map_err(|e| io_fail(&format!("creating {}", dir.display()), e))?;
    let dest = dir.join(format!("{modname}.ko"));
    let tmp = dir.join(format!(".{modname}.ko.tmp"));
    std::fs::copy(path, &tmp)
        .and_then(|_| std::fs::rename(&tmp, &dest))
        .map_err(|e| io_fail(&format!("installing {}", dest.display()), e))?;
    if !m.is_core() {
        let order = dir.join("order");
        let mut names: Vec<String> =
            std::fs::read_to_string(&order).unwrap_or_default().lines().map(str::to_string).filter(|l| !l.is_empty()).collect();
        let file = format!("{modname}.ko");
        names.retain(|n| *n != file);
        names.push(file);
        std::fs::write(&order, names.join("\n") + "\n").map_err(|e| io_fail(&format!("writing {}", order.display()), e))?;
    }
    println!("installed {} for kernel {release}: {}", path.display(), dest.display());
    if release != ctx.release {
        println!("note: the running kernel is {}; it loads at the next boot of {release}", ctx.release);
    }
    Ok(exit::OK)
}

fn uninstall(ctx: &Ctx, name: &str, release: Option<&str>) -> Res {
    let release = release.unwrap_or(&ctx.release);
    let dir = ctx.lib_dir.join(release);
    let base = name.trim_end_matches(".ko");
    let mut target = dir.join(format!("{base}.ko"));
    if !target.is_file() {
        // By patch name.
        if let Some(i) = installed(ctx, release).into_iter().find(|i| i.patch.as_deref() == Some(base)) {
            target = i.file;
        } else {
            return Err(fail(exit::NO_PATCH, format!("no patch '{name}' is installed for kernel {release} (in {})", dir.display())));
        }
    }
    std::fs::remove_file(&target).map_err(|e| io_fail(&format!("removing {}", target.display()), e))?;
    let order = dir.join("order");
    if let Ok(text) = std::fs::read_to_string(&order) {
        let file = target.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let kept: Vec<&str> = text.lines().filter(|l| *l != file).collect();
        let _ = std::fs::write(&order, kept.iter().map(|l| format!("{l}\n")).collect::<String>());
    }
    println!("uninstalled {} (a loaded patch stays loaded: `livegraft unload` it)", target.display());
    Ok(exit::OK)
}

fn load_all(ctx: &Ctx, secs: u64, core: Option<&Path>, mode: ProgressMode) -> Res {
    let dir = ctx.lib_dir.join(&ctx.release);
    let files = installed_files(&dir);
    if files.is_empty() {
        println!("no patches installed for kernel {} (in {})", ctx.release, dir.display());
        return Ok(exit::OK);
    }
    let mut worst = exit::OK;
    for f in files {
        let m = match ModInfo::from_file(&f) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("livegraft: {}: {e}", f.display());
                worst = exit::FAILURE;
                continue;
            }
        };
        if m.name.as_deref().is_some_and(|n| ctx.sys.module_loaded(n)) {
            println!("{}: already loaded", f.display());
            continue;
        }
        if let Err(e) = load(ctx, &f, Some(secs), true, core, mode) {
            eprintln!("livegraft: error: {}", e.msg);
            worst = exit::FAILURE;
        }
    }
    Ok(worst)
}
