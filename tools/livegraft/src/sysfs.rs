//! livegraft's sysfs interface: `/sys/kernel/livegraft/<patch>/...` and the
//! core module's `/sys/module/livegraft/...`.
//!
//! Files added by later cores (`replace`, `stack_order`, anything unknown)
//! are read when present and their absence is not an error.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A sysfs mount (normally `/sys`; a recorded tree in the tests).
#[derive(Clone, Debug)]
pub struct Sysfs {
    pub root: PathBuf,
}

/// The loaded core, from `/sys/module/livegraft/`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct CoreInfo {
    /// `/sys/kernel/livegraft` exists.
    pub loaded: bool,
    /// `/sys/module/livegraft/version`.
    pub version: Option<String>,
    /// The patch ABI it implements (`parameters/abi_version`).
    pub abi: Option<u32>,
    /// Every file of `/sys/module/livegraft/parameters/`.
    pub parameters: BTreeMap<String, String>,
}

/// One patch directory.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Patch {
    pub name: String,
    pub enabled: bool,
    pub transition: bool,
    pub forced: bool,
    /// `replace` (a cumulative patch that replaces all older ones), if the core has it.
    pub replace: Option<bool>,
    /// `stack_order` (1 for the oldest enabled patch), if the core has it.
    pub stack_order: Option<u32>,
    pub summary: Summary,
    pub pending_tasks: Vec<PendingTask>,
    pub objects: Vec<Object>,
    /// Other readable files of the patch directory (newer cores).
    pub extra: BTreeMap<String, String>,
}

/// `summary`: "key: value" lines.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub state: String,
    pub direction: Option<String>,
    pub elapsed_ms: Option<u64>,
    pub pending: Option<u64>,
    pub tracked: Option<u64>,
    pub target: Option<String>,
    pub table_bytes: Option<u64>,
    pub passes: Option<u64>,
    /// `switched_<kind>` counters, by kind.
    pub switched: BTreeMap<String, u64>,
    pub forced: Option<bool>,
    pub fast_path: Option<u64>,
    /// Lines this parser does not know.
    pub other: BTreeMap<String, String>,
}

/// One line of `pending_tasks`.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PendingTask {
    pub pid: u32,
    pub comm: String,
    /// `running`, `sleeping-on`, `unreliable-stack` (or what a newer core says).
    pub reason: String,
    /// For `sleeping-on`: the function (symbol name without offset).
    pub function: Option<String>,
    /// For `sleeping-on`: `symbol+0xOFF/0xSIZE`, as the kernel printed it.
    pub location: Option<String>,
    /// For `sleeping-on` in a module: the module.
    pub module: Option<String>,
}

/// One object directory.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Object {
    pub name: String,
    /// `patched` (None if the file is missing).
    pub patched: Option<bool>,
    pub functions: Vec<Function>,
}

/// One `<function>,<sympos>` directory.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub sympos: u64,
}

impl Summary {
    pub fn parse(text: &str) -> Summary {
        let mut s = Summary::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            let (k, v) = (k.trim(), v.trim());
            let num = v.parse::<u64>().ok();
            match k {
                "state" => s.state = v.to_string(),
                "direction" => s.direction = Some(v.to_string()),
                "elapsed_ms" => s.elapsed_ms = num,
                "pending" => s.pending = num,
                "tracked" => s.tracked = num,
                "target" => s.target = Some(v.to_string()),
                "table_bytes" => s.table_bytes = num,
                "passes" => s.passes = num,
                "forced" => s.forced = Some(v == "1"),
                "fast_path" => s.fast_path = num,
                _ => match (k.strip_prefix("switched_"), num) {
                    (Some(kind), Some(n)) => {
                        s.switched.insert(kind.to_string(), n);
                    }
                    _ => {
                        s.other.insert(k.to_string(), v.to_string());
                    }
                },
            }
        }
        s
    }

    /// (tasks switched, tasks tracked) during a transition.
    pub fn progress(&self) -> Option<(u64, u64)> {
        let total = self.tracked?;
        Some((total.saturating_sub(self.pending?), total))
    }

    /// "syscall=3 stack_check=12": the safe points that switched tasks so far.
    pub fn switched_text(&self) -> String {
        let v: Vec<String> =
            self.switched.iter().filter(|(_, n)| **n != 0).map(|(k, n)| format!("{k}={n}")).collect();
        v.join(" ")
    }
}

impl PendingTask {
    /// One line of `pending_tasks`; None for a line that is not one.
    pub fn parse(line: &str) -> Option<PendingTask> {
        let mut it = line.split_whitespace();
        let pid = it.next()?.parse().ok()?;
        let comm = it.next()?.to_string();
        let reason = it.next()?.to_string();
        let rest: Vec<&str> = it.collect();
        let mut t = PendingTask { pid, comm, reason, function: None, location: None, module: None };
        if t.reason == "sleeping-on" {
            let loc = rest.first()?;
            t.location = Some(loc.to_string());
            t.function = Some(loc.split('+').next().unwrap_or(loc).to_string());
            t.module = rest.get(1).map(|m| m.trim_matches(|c| c == '[' || c == ']').to_string());
        }
        Some(t)
    }

    /// "63 lg_target_hold: sleeping in lg_target_hold+0x1c/0x30 [lg_target]"
    pub fn describe(&self) -> String {
        match (&self.reason[..], &self.location) {
            ("sleeping-on", Some(loc)) => {
                let m = self.module.as_deref().map(|m| format!(" [{m}]")).unwrap_or_default();
                format!("{} {}: sleeping in {loc}{m} (a function the patch changes is on its stack)", self.pid, self.comm)
            }
            ("running", _) => format!("{} {}: running (on a CPU or runnable; switches at its next safe point)", self.pid, self.comm),
            ("unreliable-stack", _) => format!("{} {}: its stack cannot be checked reliably", self.pid, self.comm),
            (r, _) => format!("{} {}: {r}", self.pid, self.comm),
        }
    }
}

fn read_trim(p: &Path) -> io::Result<String> {
    Ok(fs::read_to_string(p)?.trim_end_matches('\n').to_string())
}

fn read_opt(p: &Path) -> Option<String> {
    read_trim(p).ok()
}

fn bool_file(p: &Path) -> io::Result<bool> {
    let t = read_trim(p)?;
    match t.trim() {
        "0" | "N" => Ok(false),
        "1" | "Y" => Ok(true),
        other => Err(io::Error::new(io::ErrorKind::InvalidData, format!("{}: '{other}' is not 0 or 1", p.display()))),
    }
}

/// Sorted subdirectories, without dot entries (the recorded trees keep
/// empty directories in git with a `.keep` file).
fn subdirs(p: &Path) -> io::Result<Vec<String>> {
    let mut v = Vec::new();
    for e in fs::read_dir(p)? {
        let e = e?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && e.file_type()?.is_dir() {
            v.push(name);
        }
    }
    v.sort();
    Ok(v)
}

/// The known files of a patch directory; the rest go to `extra`.
const KNOWN_FILES: &[&str] = &["enabled", "transition", "force", "summary", "pending_tasks", "replace", "stack_order"];

impl Sysfs {
    pub fn new(root: impl Into<PathBuf>) -> Sysfs {
        Sysfs { root: root.into() }
    }

    /// `/sys/kernel/livegraft`.
    pub fn livegraft_dir(&self) -> PathBuf {
        self.root.join("kernel/livegraft")
    }

    pub fn patch_dir(&self, name: &str) -> PathBuf {
        self.livegraft_dir().join(name)
    }

    pub fn core_loaded(&self) -> bool {
        self.livegraft_dir().is_dir()
    }

    /// A module is loaded (not built in): it has `/sys/module/<name>/initstate`.
    pub fn module_loaded(&self, name: &str) -> bool {
        self.root.join("module").join(name.replace('-', "_")).join("initstate").exists()
    }

    /// The core's version, ABI and parameters.
    pub fn core(&self) -> CoreInfo {
        let m = self.root.join("module/livegraft");
        let mut c = CoreInfo { loaded: self.core_loaded(), version: read_opt(&m.join("version")), ..Default::default() };
        if let Ok(rd) = fs::read_dir(m.join("parameters")) {
            for e in rd.flatten() {
                let k = e.file_name().to_string_lossy().into_owned();
                if let Some(v) = read_opt(&e.path()) {
                    c.parameters.insert(k, v);
                }
            }
        }
        c.abi = c.parameters.get("abi_version").and_then(|v| v.trim().parse().ok());
        c
    }

    /// Every patch directory's name, sorted.
    pub fn patch_names(&self) -> io::Result<Vec<String>> {
        subdirs(&self.livegraft_dir())
    }

    /// Every patch, in stack order when the core reports it, else by name.
    pub fn patches(&self) -> io::Result<Vec<Patch>> {
        let mut v = Vec::new();
        for n in self.patch_names()? {
            // A patch whose unpatching completed between the listing and the
            // read is gone: skip it.
            match self.patch(&n) {
                Ok(Some(p)) => v.push(p),
                Ok(None) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        v.sort_by_key(|p| (p.stack_order.unwrap_or(u32::MAX), p.name.clone()));
        Ok(v)
    }

    /// One patch; None if it has no directory.
    pub fn patch(&self, name: &str) -> io::Result<Option<Patch>> {
        let d = self.patch_dir(name);
        if name.is_empty() || name.contains('/') || name.starts_with('.') || !d.is_dir() {
            return Ok(None);
        }
        let summary = Summary::parse(&read_opt(&d.join("summary")).unwrap_or_default());
        let pending_tasks = read_opt(&d.join("pending_tasks"))
            .unwrap_or_default()
            .lines()
            .filter_map(PendingTask::parse)
            .collect();
        let mut objects = Vec::new();
        for o in subdirs(&d)? {
            let od = d.join(&o);
            let patched = bool_file(&od.join("patched")).ok();
            let mut functions = Vec::new();
            for f in subdirs(&od)? {
                let (fname, pos) = f.rsplit_once(',').unwrap_or((&f, "0"));
                functions.push(Function { name: fname.to_string(), sympos: pos.parse().unwrap_or(0) });
            }
            objects.push(Object { name: o, patched, functions });
        }
        let mut extra = BTreeMap::new();
        for e in fs::read_dir(&d)?.flatten() {
            let k = e.file_name().to_string_lossy().into_owned();
            if k.starts_with('.') || KNOWN_FILES.contains(&&k[..]) || e.path().is_dir() {
                continue;
            }
            if let Some(v) = read_opt(&e.path()) {
                extra.insert(k, v);
            }
        }
        Ok(Some(Patch {
            name: name.to_string(),
            enabled: bool_file(&d.join("enabled"))?,
            transition: bool_file(&d.join("transition"))?,
            forced: summary.forced.unwrap_or(false),
            replace: bool_file(&d.join("replace")).ok(),
            stack_order: read_opt(&d.join("stack_order")).and_then(|v| v.trim().parse().ok()),
            summary,
            pending_tasks,
            objects,
            extra,
        }))
    }

    pub fn write_enabled(&self, name: &str, on: bool) -> io::Result<()> {
        fs::write(self.patch_dir(name).join("enabled"), if on { "1" } else { "0" })
    }

    pub fn write_force(&self, name: &str) -> io::Result<()> {
        fs::write(self.patch_dir(name).join("force"), "1")
    }
}

impl Patch {
    /// "patching 12/57", "enabled", "disabling 3/57", ...
    pub fn state_text(&self) -> String {
        if self.transition {
            let dir = self.summary.direction.as_deref().unwrap_or(if self.enabled { "patching" } else { "unpatching" });
            match self.summary.progress() {
                Some((d, t)) => format!("{dir} {d}/{t}"),
                None => dir.to_string(),
            }
        } else if self.enabled {
            "enabled".to_string()
        } else {
            "disabled".to_string()
        }
    }

    pub fn function_count(&self) -> usize {
        self.objects.iter().map(|o| o.functions.len()).sum()
    }
}
