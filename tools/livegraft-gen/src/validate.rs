//! Validation: everything that can be checked before anything is written.
//!
//! Every check runs, and every problem is reported, before the tool stops:
//! names, duplicates, the replacement functions in the source, and, when the
//! target kernel's `System.map`, `vmlinux` or module `.ko` files are at hand,
//! the targets themselves (they exist, are functions, are unambiguous and are
//! traceable by ftrace).

use std::collections::{HashMap, HashSet};
use std::path::Path;

use crate::diag::Diagnostic;
use crate::manifest::{FunctionTable, Loc, Manifest, SymbolTable, EXAMPLE};
use crate::scan::{self, Visibility};
use crate::symbols::{self, MapSymbol, ModuleSymbols, SystemMap};
use livegraft_logic::symbols::{resolve_in, Resolution};

/// Longest patch or module name: `MODULE_NAME_LEN` - 1.
pub const MAX_NAME_LEN: usize = 55;
/// Longest kernel symbol name: `KSYM_NAME_LEN` - 1.
pub const MAX_SYMBOL_LEN: usize = 511;
/// The object of kernel-proper targets.
pub const VMLINUX: &str = "vmlinux";
/// Default `source` of `[patch]`.
pub const DEFAULT_SOURCE: &str = "replacements.rs";

/// What is known of the ftrace call sites of `vmlinux`.
#[derive(Clone, Debug)]
pub enum Mcount {
    /// The call-site addresses, from `<kdir>/vmlinux`.
    Loaded(HashSet<u64>),
    /// No `--kdir`: nothing to read them from.
    NoKdir,
    /// `--kdir` was given, but this `vmlinux` does not exist.
    NoVmlinux(String),
    /// This `vmlinux` has no call-site table (no `CONFIG_DYNAMIC_FTRACE`?).
    NoTable(String),
}

/// The target kernel's data that validation can use; all of it optional.
pub struct Inputs<'a> {
    /// The patch directory (the source is relative to it).
    pub patch_dir: &'a Path,
    /// `System.map` of the target kernel, and how to name it in messages.
    pub system_map: Option<(&'a str, &'a SystemMap)>,
    /// ftrace call sites of vmlinux.
    pub mcount: &'a Mcount,
    /// Symbols of target modules: (path as given, module name, symbols).
    pub modules: &'a [(String, String, ModuleSymbols)],
    /// The symbols exported to modules (`<kdir>/Module.symvers` and every
    /// `--symvers`), if any was read.
    pub exports: Option<&'a HashSet<String>>,
    /// The built kernel tree, for its headers (static inline hints).
    pub kdir: Option<&'a Path>,
    /// The traceable functions of `--available-filter-functions`.
    pub filter_functions: Option<&'a HashSet<String>>,
    /// `--unchecked-trace`: a target whose traceability cannot be checked is
    /// a warning, not an error.
    pub allow_unchecked_trace: bool,
}

/// The language of the replacement source, from its extension.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// `.rs`: a module of the generated Rust crate.
    #[default]
    Rust,
    /// `.c`: compiled with the kernel's flags in the generated C module.
    C,
}

/// A validated patch: what generation needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Patch and module name.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// The replacement source, as read.
    pub source_text: String,
    /// The objects patched, in manifest order.
    pub objects: Vec<ObjectPlan>,
    /// The language of the source.
    pub lang: Lang,
    /// The source's path as the user gave it (`<patch dir>/<source>`):
    /// compiler messages about a C source name it and its lines.
    pub source_path: String,
    /// The non-exported symbols the source uses (`[[symbol]]`), in order.
    pub symbols: Vec<SymbolPlan>,
    /// `replace = true`: a cumulative patch (atomic replace).
    pub replace: bool,
    /// The objects' callbacks (`[[callbacks]]`), in manifest order.
    pub callbacks: Vec<CallbacksPlan>,
    /// The system states (`[[state]]`): (id, version), in manifest order.
    pub states: Vec<(u64, u32)>,
}

/// The callbacks of one object (`[[callbacks]]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallbacksPlan {
    /// `vmlinux` or a module name.
    pub object: String,
    /// `pre_patch`: `fn(&Object) -> Result` (Rust) or `int f(struct livegraft_object *)` (C).
    pub pre_patch: Option<String>,
    /// `post_patch`: `fn(&Object)` (Rust) or `void f(struct livegraft_object *)` (C).
    pub post_patch: Option<String>,
    /// `pre_unpatch`: as `post_patch`.
    pub pre_unpatch: Option<String>,
    /// `post_unpatch`: as `post_patch`.
    pub post_unpatch: Option<String>,
}

impl CallbacksPlan {
    /// The callbacks given: (key, function), in upstream's order.
    pub fn given(&self) -> Vec<(&'static str, &str)> {
        [
            ("pre_patch", &self.pre_patch),
            ("post_patch", &self.post_patch),
            ("pre_unpatch", &self.pre_unpatch),
            ("post_unpatch", &self.post_unpatch),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }
}

/// One `[[symbol]]`: resolved by `livegraft_resolve_symbols()` at load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SymbolPlan {
    /// The symbol.
    pub name: String,
    /// `vmlinux` or a module name.
    pub object: String,
    /// 0 (unique) or N.
    pub sympos: u64,
    /// Its C type (C source) or Rust type (Rust source).
    pub ty: String,
}

/// The language of a source file name, or `None` for an unknown extension.
pub fn lang_of(source: &str) -> Option<Lang> {
    if source.ends_with(".rs") {
        Some(Lang::Rust)
    } else if source.ends_with(".c") {
        Some(Lang::C)
    } else {
        None
    }
}

/// The functions patched in one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectPlan {
    /// `vmlinux` or a module name.
    pub name: String,
    /// Its functions, in manifest order.
    pub funcs: Vec<FuncPlan>,
}

/// One patched function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncPlan {
    /// The function replaced.
    pub target: String,
    /// 0 or 1.
    pub sympos: u64,
    /// The replacement: a top-level `extern "C" fn` of the source.
    pub replacement: String,
    /// The function through which the source calls the original, declared
    /// in an `extern` block of the source; the generated module defines it.
    pub original: Option<String>,
}

/// Rust keywords (strict and reserved): not usable as plain identifiers.
const RUST_KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "gen", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield",
];

/// Patch names that cannot be module (and crate) names: livegraft's own,
/// and the crates of the kernel's Rust support.
const RESERVED_NAMES: &[&str] = &[
    "livegraft",
    "kernel",
    "core",
    "alloc",
    "std",
    "macros",
    "bindings",
    "uapi",
    "ffi",
    "build_error",
    "compiler_builtins",
    "pin_init",
    "replacements",
];

/// `[A-Za-z_][A-Za-z0-9_]*`, and not `_` alone.
pub fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(f) if f.is_ascii_alphabetic() || f == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        && s != "_"
}

/// An identifier that is also not a Rust keyword.
pub fn is_rust_identifier(s: &str) -> bool {
    is_identifier(s) && !RUST_KEYWORDS.contains(&s)
}

/// `[A-Za-z0-9_]+`: a module name as the kernel records it.
pub fn is_module_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Validates `m`; returns the plan (if neither parsing nor validation found
/// an error) and every diagnostic validation found.
pub fn validate(m: &Manifest, inputs: &Inputs<'_>) -> (Option<Plan>, Vec<Diagnostic>) {
    if m.syntax_error {
        return (None, Vec::new());
    }
    let mut v = Validator {
        file: &m.file,
        diags: Vec::new(),
    };
    let file = m.file.as_str();

    // [patch]
    let (mut name, mut description, mut source_text) = (None, None, None);
    if let Some(p) = &m.patch {
        // A key whose value had the wrong type was reported by the parser.
        let bad = |k: &str| p.bad_keys.iter().any(|b| b == k);
        name = if bad("name") {
            None
        } else {
            v.patch_name(p.name.as_ref(), p.line)
        };
        description = if bad("description") {
            None
        } else {
            v.description(p.description.as_ref(), p.line)
        };
        source_text = if bad("source") {
            None
        } else {
            v.source(p.source.as_ref(), p.line, inputs.patch_dir)
        };
    }

    // [[function]]
    if m.function_count == 0 && m.callbacks.is_empty() {
        v.diags.push(
            Diagnostic::error(
                file,
                "[[function]]",
                "the patch replaces no function",
                "add one `[[function]]` table per function to replace, e.g.:\n".to_string()
                    + EXAMPLE.split_once("\n\n").map_or("", |(_, f)| f),
            )
            .at_line(m.patch.as_ref().map_or(1, |p| p.line)),
        );
    }
    let source_rel = m
        .patch
        .as_ref()
        .and_then(|p| p.source.as_ref())
        .map_or(DEFAULT_SOURCE, |s| s.value.as_str());
    let lang = lang_of(source_rel).unwrap_or_default();
    let (defs, decls, c_defs) = match lang {
        Lang::Rust => (
            source_text.as_deref().map(scan::functions),
            source_text.as_deref().map(scan::foreign_functions),
            None,
        ),
        Lang::C => (None, None, source_text.as_deref().map(scan::c_functions)),
    };
    let mut seen_originals: HashMap<String, usize> = HashMap::new();
    let mut seen_targets: HashMap<(String, String), usize> = HashMap::new();
    let mut seen_replacements: HashMap<String, usize> = HashMap::new();
    let mut objects: Vec<ObjectPlan> = Vec::new();
    let mut unchecked_vmlinux = Vec::new();
    let mut unchecked_modules: Vec<String> = Vec::new();
    let mut untraced = Vec::new();
    let mut unchecked_trace_modules: Vec<String> = Vec::new();
    for f in &m.functions {
        let entry = f.entry();
        let bad = |k: &str| f.bad_keys.iter().any(|b| b == k);
        let target = if bad("target") {
            None
        } else {
            v.target(f, &entry)
        };
        let object = if bad("object") {
            None
        } else {
            v.object(f, &entry)
        };
        let sympos = if bad("sympos") {
            None
        } else {
            v.sympos(f, &entry)
        };
        let replacement = if bad("replacement") {
            None
        } else {
            v.replacement(f, &entry, lang)
        };

        let mut duplicate = false;
        if let (Some(t), Some(o)) = (&target, &object) {
            if let Some(first) = seen_targets.insert((o.clone(), t.clone()), f.index) {
                v.err(
                    &entry,
                    f.line,
                    format!("`{t}` in {o} is already replaced by [[function]] #{first}"),
                    "a function can be replaced only once per patch: remove one of the two entries",
                );
                duplicate = true;
            }
        }
        if let (Some(r), Some(line)) = (&replacement, f.replacement.as_ref().map(|r| r.line)) {
            if let Some(first) = seen_replacements.insert(r.clone(), f.index) {
                v.err(
                    &entry,
                    line,
                    format!("replacement `{r}` is already used by [[function]] #{first}"),
                    "each replaced function needs its own replacement function (livegraft tells them apart by address)",
                );
            }
        }
        if let (Some(r), Some(defs), Some(loc)) = (&replacement, &defs, &f.replacement) {
            v.replacement_in_source(r, defs, &entry, loc.line, source_display(m, inputs));
            // The prototype, where the kernel headers declare the target.
            if let (Some(k), Some(t), Some(src)) = (inputs.kdir, &target, &source_text) {
                if defs.iter().any(|d| &d.name == r && d.is_usable()) {
                    if let (Some((hdr, hline, proto)), Some(sig)) =
                        (crate::checks::find_prototype(k, t), crate::checks::rust_signature(src, r))
                    {
                        if let Some(c) = crate::checks::parse_c_prototype(&proto, t) {
                            let diffs = crate::checks::signature_mismatch(&sig, &c);
                            if !diffs.is_empty() {
                                v.err(
                                    &entry,
                                    loc.line,
                                    format!(
                                        "replacement `{r}` ({}:{}) does not have the prototype of `{t}`: {}",
                                        source_display(m, inputs),
                                        sig.0,
                                        diffs.join("; ")
                                    ),
                                    format!(
                                        "the kernel declares `{proto};` ({hdr}:{hline}): give the replacement the \
                                         same parameters and return type (core::ffi types, pointers as *mut/*const)"
                                    ),
                                );
                            }
                        }
                    }
                }
            }
        }
        if let (Some(r), Some(defs), Some(loc)) = (&replacement, &c_defs, &f.replacement) {
            if !defs.iter().any(|d| &d.name == r) {
                v.err(
                    &entry,
                    loc.line,
                    format!("replacement `{r}` is not defined in {}", source_display(m, inputs)),
                    "define it there (it may be `static`), with the C prototype of the target, or fix the name",
                );
            }
        }
        let original = if bad("original") {
            None
        } else {
            f.original.as_ref().and_then(|o| v.original(o, &entry))
        };
        if let (Some(o), Some(loc)) = (&original, &f.original) {
            if let Some(first) = seen_originals.insert(o.clone(), f.index) {
                v.err(
                    &entry,
                    loc.line,
                    format!("original `{o}` is already used by [[function]] #{first}"),
                    "each replaced function has its own original: give each a name of its own",
                );
            }
            if let Some(other) = m
                .functions
                .iter()
                .find(|g| g.replacement.as_ref().is_some_and(|r| &r.value == o))
            {
                v.err(
                    &entry,
                    loc.line,
                    format!("original `{o}` is also the replacement of [[function]] #{}", other.index),
                    "the original is a function livegraft-gen defines: name it differently, e.g. `orig_<target>`",
                );
            }
            if let Some(decls) = &decls {
                v.original_in_source(o, decls, &entry, loc.line, source_display(m, inputs));
            }
            if let Some(defs) = &c_defs {
                if let Some(d) = defs.iter().find(|d| &d.name == o) {
                    v.err(
                        &entry,
                        loc.line,
                        format!("original `{o}` is defined in {}:{}", source_display(m, inputs), d.line),
                        format!(
                            "livegraft-gen defines the original: only declare it, e.g. `extern typeof({}) {o};`",
                            f.target.as_ref().map_or("target", |t| t.value.as_str())
                        ),
                    );
                }
            }
        }
        let (Some(t), Some(o)) = (&target, &object) else {
            continue;
        };
        if duplicate {
            // Its target was checked with the first entry.
            continue;
        }
        // With an invalid sympos (reported above), still check that the target
        // exists, but not whether it is unique.
        let s = sympos.unwrap_or(1);
        if o == VMLINUX {
            match inputs.system_map {
                Some((map_name, map)) => {
                    if let Some(addr) = v.vmlinux_target(map_name, map, t, s, f, &entry, inputs) {
                        if let Some(names) = inputs.filter_functions {
                            if !names.contains(t) {
                                untraced.push((entry.clone(), f.line, t.clone()));
                            }
                        } else if let Mcount::Loaded(set) = inputs.mcount {
                            if !symbols::is_traceable(set, addr) {
                                untraced.push((entry.clone(), f.line, t.clone()));
                            }
                        }
                    }
                }
                None => match inputs.filter_functions {
                    Some(names) if !names.contains(t) => untraced.push((entry.clone(), f.line, t.clone())),
                    Some(_) => {}
                    None => unchecked_vmlinux.push(t.clone()),
                },
            }
        } else {
            match inputs.modules.iter().find(|(_, n, _)| n == o) {
                Some((path, _, syms)) => {
                    if v.module_target(path, syms, t, s, f, &entry) {
                        match (&syms.traced, inputs.filter_functions) {
                            (_, Some(names)) if !names.contains(t) => {
                                untraced.push((entry.clone(), f.line, t.clone()))
                            }
                            (_, Some(_)) => {}
                            (Some(traced), None) if !traced.contains(t) => {
                                untraced.push((entry.clone(), f.line, t.clone()))
                            }
                            (Some(_), None) => {}
                            (None, None) => unchecked_trace_modules.push(path.clone()),
                        }
                    }
                }
                None => {
                    if !unchecked_modules.contains(o) {
                        unchecked_modules.push(o.clone());
                    }
                }
            }
        }
        if let Some(r) = &replacement {
            let func = FuncPlan {
                target: t.clone(),
                sympos: s,
                replacement: r.clone(),
                original: original.clone(),
            };
            match objects.iter_mut().find(|ob| &ob.name == o) {
                Some(ob) => ob.funcs.push(func),
                None => objects.push(ObjectPlan {
                    name: o.clone(),
                    funcs: vec![func],
                }),
            }
        }
    }
    for (entry, line, t) in untraced {
        v.err(
            &entry,
            line,
            format!("`{t}` has no ftrace call site (inlined or notrace?)"),
            "livegraft redirects calls with ftrace, so it can only replace functions that have an \
             `__fentry__` call site (listed in /sys/kernel/tracing/available_filter_functions on the target): \
             replace a traceable caller instead",
        );
    }
    let unchecked = |what: String, help: &str| {
        if inputs.allow_unchecked_trace {
            Diagnostic::warning(file, "traceability", what + ": checked at load time", help)
        } else {
            Diagnostic::error(
                file,
                "traceability",
                what,
                format!("{help}; or pass --unchecked-trace to leave the check to load time"),
            )
        }
    };
    for path in unchecked_trace_modules {
        v.diags.push(unchecked(
            format!("traceability of the targets in {path} not checked (it has no __mcount_loc)"),
            "pass a .ko built with ftrace, or --available-filter-functions <copy of \
             /sys/kernel/tracing/available_filter_functions of the target>",
        ));
    }
    let vmlinux_targets = m
        .functions
        .iter()
        .any(|f| f.object.as_ref().is_none_or(|o| o.value == VMLINUX));
    if !unchecked_vmlinux.is_empty() {
        v.diags.push(Diagnostic::warning(
            file,
            "vmlinux targets",
            format!(
                "not checked against the kernel ({}): they are checked at load time",
                unchecked_vmlinux.join(", ")
            ),
            "pass --kdir <built kernel tree> (or --system-map <System.map>) to check them now",
        ));
    } else if vmlinux_targets && inputs.system_map.is_some() && inputs.filter_functions.is_none() {
        let why = match inputs.mcount {
            Mcount::Loaded(_) => None,
            Mcount::NoKdir => Some("no --kdir to read vmlinux from".to_string()),
            Mcount::NoVmlinux(p) => Some(format!("{p} does not exist")),
            Mcount::NoTable(p) => Some(format!(
                "{p} has no __mcount_loc table (CONFIG_DYNAMIC_FTRACE off?)"
            )),
        };
        if let Some(why) = why {
            v.diags.push(unchecked(
                format!("traceability of the vmlinux targets not checked ({why})"),
                "pass --kdir <built kernel tree> with its vmlinux, --vmlinux <vmlinux of the target>, or \
                 --available-filter-functions <copy of /sys/kernel/tracing/available_filter_functions>",
            ));
        }
    }
    for o in unchecked_modules {
        v.diags.push(Diagnostic::warning(
            file,
            format!("object {o}"),
            format!("targets in module `{o}` are not checked: they are checked at load time"),
            format!("pass --module-ko <path>/{o}.ko to check them now"),
        ));
    }
    for (path, modname, _) in inputs.modules {
        if !m
            .functions
            .iter()
            .any(|f| f.object.as_ref().is_some_and(|o| &o.value == modname))
        {
            v.diags.push(Diagnostic::warning(
                path.as_str(),
                "--module-ko",
                format!("no [[function]] targets module `{modname}`"),
                "set `object` in the [[function]] tables of that module's functions, or drop this option",
            ));
        }
    }

    let symbols = v.symbols(m, inputs, lang);
    if let (Some(decls), Some(exports)) = (&decls, inputs.exports) {
        v.referenced(decls, exports, &symbols, m, inputs);
    }

    let replace = m.patch.as_ref().and_then(|p| p.replace.as_ref()).is_some_and(|r| r.value);
    let callbacks = v.callbacks(m, lang, defs.as_deref(), c_defs.as_deref(), source_text.as_deref(), &source_display(m, inputs));
    let states = v.states(m);

    let errors = m.parse_errors > 0 || v.diags.iter().any(Diagnostic::is_error);
    let plan = match (name, description, source_text, errors) {
        (Some(name), Some(description), Some(source_text), false) => Some(Plan {
            name,
            description,
            source_text,
            objects,
            lang,
            source_path: source_display(m, inputs),
            symbols,
            replace,
            callbacks,
            states,
        }),
        _ => None,
    };
    (plan, v.diags)
}

/// The source file as messages name it: `<patch dir>/<source>`.
fn source_display(m: &Manifest, inputs: &Inputs<'_>) -> String {
    let source = m
        .patch
        .as_ref()
        .and_then(|p| p.source.as_ref())
        .map_or(DEFAULT_SOURCE, |s| s.value.as_str());
    inputs.patch_dir.join(source).display().to_string()
}

struct Validator<'a> {
    file: &'a str,
    diags: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn err(&mut self, entry: &str, line: usize, msg: impl Into<String>, help: impl Into<String>) {
        self.diags
            .push(Diagnostic::error(self.file, entry, msg, help).at_line(line));
    }

    fn patch_name(&mut self, name: Option<&Loc<String>>, header: usize) -> Option<String> {
        let Some(n) = name else {
            self.err(
                "[patch]",
                header,
                "`name` is missing",
                "add `name = \"my_patch\"`: it becomes the module name and /sys/kernel/livegraft/<name>",
            );
            return None;
        };
        let help = "use letters, digits and `_`, starting with a letter or `_` (it becomes the module name)";
        if !is_rust_identifier(&n.value) {
            self.err(
                "[patch]",
                n.line,
                format!("name `{}` is not a valid identifier", n.value),
                help,
            );
            return None;
        }
        if RESERVED_NAMES.contains(&n.value.as_str()) {
            self.err(
                "[patch]",
                n.line,
                format!("name `{}` is taken (by livegraft itself or a crate of the kernel's Rust support)", n.value),
                "choose a name that says what the patch fixes, e.g. `fix_cmdline_leak`",
            );
            return None;
        }
        if n.value.len() > MAX_NAME_LEN {
            self.err(
                "[patch]",
                n.line,
                format!(
                    "name `{}` is {} characters long; the limit is {MAX_NAME_LEN}",
                    n.value,
                    n.value.len()
                ),
                "shorten it: module names are limited to 55 characters",
            );
            return None;
        }
        Some(n.value.clone())
    }

    fn description(&mut self, d: Option<&Loc<String>>, header: usize) -> Option<String> {
        let Some(d) = d else {
            self.err(
                "[patch]",
                header,
                "`description` is missing",
                "add `description = \"...\"`: one line saying what the patch changes (shown by modinfo)",
            );
            return None;
        };
        let help = "write a single line without `\"` or `\\` (it goes into the module's modinfo)";
        if d.value.trim().is_empty() {
            self.err("[patch]", d.line, "description is empty", help);
        } else if d.value.contains(['\n', '\r']) {
            self.err("[patch]", d.line, "description spans several lines", help);
        } else if let Some(c) = d
            .value
            .chars()
            .find(|&c| c == '"' || c == '\\' || c.is_control())
        {
            self.err(
                "[patch]",
                d.line,
                format!("description contains {c:?}"),
                help,
            );
        } else {
            return Some(d.value.clone());
        }
        None
    }

    fn source(&mut self, s: Option<&Loc<String>>, header: usize, dir: &Path) -> Option<String> {
        let (rel, line) = s.map_or((DEFAULT_SOURCE, header), |s| (s.value.as_str(), s.line));
        if rel.trim().is_empty() {
            self.err(
                "[patch]",
                line,
                "source is empty",
                "name the Rust file of the replacements, or drop `source`",
            );
            return None;
        }
        if lang_of(rel).is_none() {
            self.err(
                "[patch]",
                line,
                format!("source `{rel}` is neither Rust (.rs) nor C (.c)"),
                "name a `.rs` file (replacements as `pub extern \"C\" fn`) or a `.c` file (replacements as C functions)",
            );
            return None;
        }
        let path = dir.join(rel);
        match std::fs::read(&path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => Some(t),
                Err(_) => {
                    self.err(
                        "[patch]",
                        line,
                        format!("source {} is not UTF-8 text", path.display()),
                        "the source must be a Rust file",
                    );
                    None
                }
            },
            Err(e) => {
                let help = if s.is_none() {
                    format!(
                        "create {} with the replacement functions, or set `source` in [patch]",
                        path.display()
                    )
                } else {
                    "fix `source` (it is relative to the patch directory), or create the file"
                        .to_string()
                };
                self.err(
                    "[patch]",
                    line,
                    format!("cannot read source {}: {e}", path.display()),
                    help,
                );
                None
            }
        }
    }

    fn target(&mut self, f: &FunctionTable, entry: &str) -> Option<String> {
        let Some(t) = &f.target else {
            self.err(
                entry,
                f.line,
                "`target` is missing",
                "add `target = \"function_name\"`: the kernel function to replace",
            );
            return None;
        };
        if !is_identifier(&t.value) {
            self.err(
                entry,
                t.line,
                format!("target `{}` is not a valid C identifier", t.value),
                "name the function as the kernel does (letters, digits, `_`), e.g. `cmdline_proc_show`",
            );
            return None;
        }
        if t.value.len() > MAX_SYMBOL_LEN {
            self.err(
                entry,
                t.line,
                "target name too long",
                format!("kernel symbols have at most {MAX_SYMBOL_LEN} characters"),
            );
            return None;
        }
        Some(t.value.clone())
    }

    fn object(&mut self, f: &FunctionTable, entry: &str) -> Option<String> {
        let Some(o) = &f.object else {
            return Some(VMLINUX.to_string());
        };
        if !is_module_name(&o.value) || o.value.len() > MAX_NAME_LEN {
            let help = if o.value.contains('-') && is_module_name(&o.value.replace('-', "_")) {
                format!(
                    "the kernel names modules with `_`: write `object = \"{}\"`",
                    o.value.replace('-', "_")
                )
            } else {
                "use \"vmlinux\" for the kernel itself, or a module's name (letters, digits, `_`; at most 55)".into()
            };
            self.err(
                entry,
                o.line,
                format!("object `{}` is not a valid module name", o.value),
                help,
            );
            return None;
        }
        Some(o.value.clone())
    }

    /// The `[[callbacks]]` tables: objects, function names, that each names
    /// a function of the source with a callback's signature.
    fn callbacks(
        &mut self,
        m: &Manifest,
        lang: Lang,
        defs: Option<&[scan::FnDef]>,
        c_defs: Option<&[scan::CFnDef]>,
        src: Option<&str>,
        shown: &str,
    ) -> Vec<CallbacksPlan> {
        let mut out: Vec<CallbacksPlan> = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for c in &m.callbacks {
            let entry = c.entry();
            let object = match &c.object {
                None => Some(VMLINUX.to_string()),
                Some(_) if c.bad_keys.iter().any(|b| b == "object") => None,
                Some(o) if !is_module_name(&o.value) || o.value.len() > MAX_NAME_LEN => {
                    self.err(
                        &entry,
                        o.line,
                        format!("object `{}` is not a valid module name", o.value),
                        "use \"vmlinux\" for the kernel itself, or a module's name (letters, digits, `_`; at most 55)",
                    );
                    None
                }
                Some(o) => Some(o.value.clone()),
            };
            if let Some(o) = &object {
                if let Some(first) = seen.insert(o.clone(), c.index) {
                    self.err(
                        &entry,
                        c.line,
                        format!("object `{o}` already has its callbacks in [[callbacks]] #{first}"),
                        "an object has one `[[callbacks]]` table: merge the two",
                    );
                }
            }
            if c.callbacks.is_empty() && c.bad_keys.is_empty() {
                self.err(
                    &entry,
                    c.line,
                    "names no callback",
                    "give at least one of `pre_patch`, `post_patch`, `pre_unpatch`, `post_unpatch`, or remove the table",
                );
            }
            let mut plan = CallbacksPlan { object: object.clone().unwrap_or_default(), ..Default::default() };
            let mut ok = object.is_some();
            for (key, f) in &c.callbacks {
                if !self.callback_fn(&entry, key, f, m, lang, defs, c_defs, src, shown) {
                    ok = false;
                }
                let slot = match *key {
                    "pre_patch" => &mut plan.pre_patch,
                    "post_patch" => &mut plan.post_patch,
                    "pre_unpatch" => &mut plan.pre_unpatch,
                    _ => &mut plan.post_unpatch,
                };
                *slot = Some(f.value.clone());
            }
            if ok {
                out.push(plan);
            }
        }
        out
    }

    /// The signature a Rust callback `key` must have, as help text shows it.
    fn callback_proto(key: &str, name: &str) -> String {
        if key == "pre_patch" {
            format!("pub fn {name}(obj: &Object) -> Result")
        } else {
            format!("pub fn {name}(obj: &Object)")
        }
    }

    /// Checks the function `f` that callback `key` names; true if usable.
    #[allow(clippy::too_many_arguments)]
    fn callback_fn(
        &mut self,
        entry: &str,
        key: &str,
        f: &Loc<String>,
        m: &Manifest,
        lang: Lang,
        defs: Option<&[scan::FnDef]>,
        c_defs: Option<&[scan::CFnDef]>,
        src: Option<&str>,
        shown: &str,
    ) -> bool {
        let name = f.value.as_str();
        let valid = match lang {
            Lang::Rust => is_rust_identifier(name),
            Lang::C => is_identifier(name),
        };
        if !valid {
            self.err(
                entry,
                f.line,
                format!("`{key}` = `{name}` is not a function name"),
                "name a function of the replacement source",
            );
            return false;
        }
        if let Some(other) = m.functions.iter().find(|g| g.replacement.as_ref().is_some_and(|r| r.value == name)) {
            self.err(
                entry,
                f.line,
                format!("`{key}` = `{name}` is also the replacement of {}", other.entry()),
                "a callback is called by livegraft, not in place of a kernel function: give it a function of its own",
            );
            return false;
        }
        if lang == Lang::C {
            if let Some(defs) = c_defs {
                if !defs.iter().any(|d| d.name == name) {
                    let proto = if key == "pre_patch" { "int" } else { "void" };
                    self.err(
                        entry,
                        f.line,
                        format!("callback `{name}` ({key}) is not defined in {shown}"),
                        format!("define `static {proto} {name}(struct livegraft_object *obj)` there, or fix the name"),
                    );
                    return false;
                }
            }
            return true;
        }
        let Some(defs) = defs else { return true };
        let proto = Self::callback_proto(key, name);
        let found: Vec<&scan::FnDef> = defs.iter().filter(|d| d.name == name).collect();
        let problem = match found.first() {
            None => Some((
                format!("callback `{name}` ({key}) is not defined in {shown}"),
                format!("define `{proto}` there (`use crate::livegraft::Object;`), or fix the name"),
            )),
            Some(d) if d.depth > 0 => Some((
                format!("callback `{name}` ({shown}:{}) is not a top-level item", d.line),
                format!("the generated module calls it `replacements::{name}`: move it to the top level of the file"),
            )),
            Some(d) if d.abi.is_some() => Some((
                format!("callback `{name}` ({shown}:{}) is `extern \"{}\"`", d.line, d.abi.as_deref().unwrap_or("C")),
                format!(
                    "callbacks are safe Rust functions (the generated module adapts them to the C ABI): declare it `{proto}`"
                ),
            )),
            Some(d) if !matches!(d.vis, Visibility::Visible(_)) => Some((
                format!("callback `{name}` ({shown}:{}) is not visible to the crate root", d.line),
                format!("declare it `{proto}` (or `pub(crate)`)"),
            )),
            Some(_) => None,
        };
        if let Some((msg, help)) = problem {
            self.err(entry, f.line, msg, help);
            return false;
        }
        // The signature, as far as the text shows it (rustc checks the rest
        // in the generated glue).
        if let Some((line, params, ret)) = src.and_then(|s| crate::checks::rust_signature(s, name)) {
            let squeeze = |t: &str| t.chars().filter(|c| !c.is_whitespace()).collect::<String>();
            let ret = squeeze(&ret);
            let mut diffs = Vec::new();
            match params.as_slice() {
                [p] if squeeze(p).starts_with('&') && squeeze(p).ends_with("Object") => {}
                [p] => diffs.push(format!("its parameter is `{}`, not `&Object`", p.trim())),
                _ => diffs.push(format!("it takes {} parameters, not one `&Object`", params.len())),
            }
            if key == "pre_patch" {
                if !(ret.ends_with("Result") || ret.ends_with("Result<()>")) {
                    let shown_ret = if ret.is_empty() { "nothing".to_string() } else { format!("`{ret}`") };
                    diffs.push(format!("it returns {shown_ret}, not `Result`"));
                }
            } else if !(ret.is_empty() || ret == "()") {
                diffs.push(format!("it returns `{ret}`; a {key} callback returns nothing"));
            }
            if !diffs.is_empty() {
                self.err(
                    entry,
                    f.line,
                    format!("callback `{name}` ({shown}:{line}) does not have the signature of a {key} callback: {}", diffs.join("; ")),
                    format!("declare it `{proto}`"),
                );
                return false;
            }
        }
        true
    }

    /// The `[[state]]` tables: a non-zero id, each once, and a version
    /// that fits the ABI's `unsigned int`.
    fn states(&mut self, m: &Manifest) -> Vec<(u64, u32)> {
        let mut out = Vec::new();
        let mut seen: HashMap<u64, usize> = HashMap::new();
        for st in &m.states {
            let entry = st.entry();
            let bad = |k: &str| st.bad_keys.iter().any(|b| b == k);
            let id = match &st.id {
                None if bad("id") => None,
                None => {
                    self.err(&entry, st.line, "`id` is missing", "add `id = N`: a non-zero number that names the state");
                    None
                }
                Some(i) if i.value <= 0 => {
                    self.err(
                        &entry,
                        i.line,
                        format!("state id {} is not positive", i.value),
                        "a state id is a non-zero number (0 ends the ABI's state array)",
                    );
                    None
                }
                Some(i) => Some(i.value as u64),
            };
            let version = match &st.version {
                None => Some(0),
                Some(v) => match u32::try_from(v.value) {
                    Ok(n) => Some(n),
                    Err(_) => {
                        self.err(
                            &entry,
                            v.line,
                            format!("state version {} is out of range", v.value),
                            "a version is a number from 0 to 4294967295",
                        );
                        None
                    }
                },
            };
            if let Some(i) = id {
                if let Some(first) = seen.insert(i, st.index) {
                    self.err(
                        &entry,
                        st.line,
                        format!("state id {i} is already declared by [[state]] #{first}"),
                        "a patch declares each state once: remove one of the two tables",
                    );
                    continue;
                }
            }
            if let (Some(i), Some(v)) = (id, version) {
                out.push((i, v));
            }
        }
        out
    }

    fn sympos(&mut self, f: &FunctionTable, entry: &str) -> Option<u64> {
        let Some(s) = &f.sympos else { return Some(0) };
        match u64::try_from(s.value) {
            Ok(n) => Some(n),
            Err(_) => {
                self.err(
                    entry,
                    s.line,
                    format!("sympos {} is negative", s.value),
                    "use 0 (the name is unique in its object) or N (the Nth symbol of that name, in kallsyms order)",
                );
                None
            }
        }
    }

    fn replacement(&mut self, f: &FunctionTable, entry: &str, lang: Lang) -> Option<String> {
        let Some(r) = &f.replacement else {
            self.err(
                entry,
                f.line,
                "`replacement` is missing",
                "add `replacement = \"my_function\"`: the `pub extern \"C\" fn` of the source that replaces the target",
            );
            return None;
        };
        let valid = match lang {
            Lang::Rust => is_rust_identifier(&r.value),
            Lang::C => is_identifier(&r.value),
        };
        if !valid {
            self.err(
                entry,
                r.line,
                format!(
                    "replacement `{}` is not a valid {} identifier",
                    r.value,
                    if lang == Lang::C { "C" } else { "Rust" }
                ),
                "name a function of the source (letters, digits, `_`; not a keyword)",
            );
            return None;
        }
        Some(r.value.clone())
    }

    fn original(&mut self, o: &Loc<String>, entry: &str) -> Option<String> {
        if !is_rust_identifier(&o.value) || o.value.len() > MAX_SYMBOL_LEN {
            self.err(
                entry,
                o.line,
                format!("original `{}` is not a valid Rust identifier", o.value),
                "name the function the source calls the original through, e.g. `orig_<target>` (letters, digits, `_`)",
            );
            return None;
        }
        Some(o.value.clone())
    }

    fn original_in_source(
        &mut self,
        o: &str,
        decls: &[scan::FnDef],
        entry: &str,
        line: usize,
        src: String,
    ) {
        let found: Vec<&scan::FnDef> = decls.iter().filter(|d| d.name == o).collect();
        if found.iter().any(|d| d.is_usable_original()) {
            return;
        }
        let decl = format!(
            "extern \"C\" {{ pub(crate) fn {o}(...); }}` with the prototype of the replacement"
        );
        let (msg, help) = match found.first() {
            None => (
                format!("original `{o}` is not declared in an `extern` block of {src}"),
                format!("declare it there: `{decl}; livegraft-gen defines it"),
            ),
            Some(d) if d.depth != 1 => (
                format!(
                    "original `{o}` ({src}:{}) is not declared in a top-level `extern` block",
                    d.line
                ),
                format!("the generated module checks it as `replacements::{o}`: declare `{decl}"),
            ),
            Some(d) => (
                format!(
                    "original `{o}` ({src}:{}) is not visible to the crate root",
                    d.line
                ),
                format!("declare it `pub(crate)`: `{decl}"),
            ),
        };
        self.err(entry, line, msg, help);
    }

    fn replacement_in_source(
        &mut self,
        r: &str,
        defs: &[scan::FnDef],
        entry: &str,
        line: usize,
        src: String,
    ) {
        let found: Vec<&scan::FnDef> = defs.iter().filter(|d| d.name == r).collect();
        if found.iter().any(|d| d.is_usable()) {
            return;
        }
        let proto = format!("pub extern \"C\" fn {r}(...)");
        let (msg, help) = match found.first() {
            None => (
                format!("replacement `{r}` is not defined in {src}"),
                format!("define `#[no_mangle] {proto}` there, with the prototype of the target, or fix the name"),
            ),
            Some(d) if d.depth > 0 => (
                format!("replacement `{r}` ({src}:{}) is not a top-level item", d.line),
                format!("the generated module calls it `replacements::{r}`: move it to the top level of the file"),
            ),
            Some(d) if d.abi.as_deref() != Some("C") => (
                format!(
                    "replacement `{r}` ({src}:{}) is not `extern \"C\"`{}",
                    d.line,
                    d.abi.as_ref().map_or(String::new(), |a| format!(" (it is `extern \"{a}\"`)"))
                ),
                format!("declare it `{proto}`: the kernel calls it with the C calling convention"),
            ),
            Some(d) => (
                format!(
                    "replacement `{r}` ({src}:{}) is {}",
                    d.line,
                    match &d.vis {
                        Visibility::Restricted(v) => format!("`{v}`, not visible to the crate root"),
                        _ => "private".to_string(),
                    }
                ),
                format!("declare it `{proto}` (or `pub(crate)`) so that the generated crate root can refer to it"),
            ),
        };
        self.err(entry, line, msg, help);
    }

    /// Checks a vmlinux target against `System.map`; returns its address.
    fn vmlinux_target(
        &mut self,
        map_name: &str,
        map: &SystemMap,
        t: &str,
        sympos: u64,
        f: &FunctionTable,
        entry: &str,
        inputs: &Inputs<'_>,
    ) -> Option<u64> {
        let line = f.target.as_ref().map_or(f.line, |t| t.line);
        let funcs = map.functions(t);
        if funcs.is_empty() {
            if let Some(other) = map.lookup(t).first() {
                self.err(
                    entry,
                    line,
                    format!("`{t}` is not a function in {map_name} (symbol type `{}`)", other.kind),
                    "livegraft replaces functions only: name a function (type t or T in System.map)",
                );
                return None;
            }
            let similar = map.similar(t);
            let inline = match (inputs.kdir, inputs.exports) {
                (Some(k), Some(e)) => crate::checks::static_inline_hint(k, t, e),
                _ => None,
            };
            let help = if let Some(h) = inline {
                format!("{h}; livegraft can only replace functions with a symbol: replace a traceable caller, \
                         or the exported function it calls")
            } else if similar.iter().any(|s| s.contains('.')) {
                format!(
                    "the compiler only emitted specialised copies ({}): livegraft cannot patch those; \
                     patch its callers instead",
                    similar.join(", ")
                )
            } else if let Some(s) = similar.first() {
                format!("did you mean `{s}`? If the function is in a module, set `object` to the module's name")
            } else {
                "check the name; if the function is in a module, set `object` to the module's name; a static \
                 function inlined everywhere has no symbol and cannot be patched"
                    .to_string()
            };
            self.err(entry, line, format!("`{t}` is not in {map_name}"), help);
            return None;
        }
        let all = map.kallsyms(t);
        // Positions in kallsyms (address) order; the kernel's own rules.
        let at: Vec<usize> = (1..=all.len()).collect();
        match resolve_in(&at, sympos) {
            Resolution::Found(pos) => {
                let sym = all[pos - 1];
                if sym.is_text() {
                    return Some(sym.addr);
                }
                self.err(
                    entry,
                    f.sympos.as_ref().map_or(line, |s| s.line),
                    format!(
                        "sympos {sympos} of `{t}` is not a function in {map_name} (symbol type `{}`)",
                        sym.kind
                    ),
                    position_help(t, &all),
                );
            }
            Resolution::Ambiguous => self.err(
                entry,
                f.sympos.as_ref().map_or(line, |s| s.line),
                format!("ambiguous: {} symbols named {t}; set sympos", all.len()),
                position_help(t, &all),
            ),
            Resolution::NoSuchPosition | Resolution::NotFound => self.err(
                entry,
                f.sympos.as_ref().map_or(line, |s| s.line),
                format!(
                    "sympos {sympos}: {map_name} has only {} symbol(s) named {t}",
                    all.len()
                ),
                position_help(t, &all),
            ),
        }
        None
    }

    fn module_target(
        &mut self,
        path: &str,
        syms: &ModuleSymbols,
        t: &str,
        sympos: u64,
        f: &FunctionTable,
        entry: &str,
    ) -> bool {
        let line = f.target.as_ref().map_or(f.line, |t| t.line);
        let kinds = syms.kallsyms.get(t).map_or(&[][..], Vec::as_slice);
        if !kinds.iter().any(|&is_fn| is_fn) {
            self.err(
                entry,
                line,
                format!("`{t}` is not a function of {path}"),
                match crate::diag::did_you_mean(t, syms.functions.keys().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`? Also check `object`"),
                    None => "check the name and `object` (the module that defines the function)"
                        .to_string(),
                },
            );
            return false;
        }
        let at: Vec<usize> = (1..=kinds.len()).collect();
        let line = f.sympos.as_ref().map_or(line, |s| s.line);
        let help = format!(
            "sympos counts every symbol named {t} in the module's symbol table order (here: {}); 0 requires a \
             unique name",
            kinds
                .iter()
                .enumerate()
                .map(|(i, &is_fn)| format!("{} = {}", i + 1, if is_fn { "function" } else { "data" }))
                .collect::<Vec<_>>()
                .join(", ")
        );
        match resolve_in(&at, sympos) {
            Resolution::Found(pos) if kinds[pos - 1] => return true,
            Resolution::Found(_) => self.err(
                entry,
                line,
                format!("sympos {sympos} of `{t}` is not a function of {path}"),
                help,
            ),
            Resolution::Ambiguous => self.err(
                entry,
                line,
                format!("ambiguous: {} symbols named {t}; set sympos", kinds.len()),
                help,
            ),
            Resolution::NoSuchPosition | Resolution::NotFound => self.err(
                entry,
                line,
                format!(
                    "sympos {sympos}: {path} has only {} symbol(s) named {t}",
                    kinds.len()
                ),
                help,
            ),
        }
        false
    }
}

impl Validator<'_> {
    /// Checks every `[[symbol]]`: names, duplicates, the type, and, when the
    /// kernel's files are at hand, that each resolves as it will at load.
    fn symbols(&mut self, m: &Manifest, inputs: &Inputs<'_>, lang: Lang) -> Vec<SymbolPlan> {
        let mut out = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for s in &m.symbols {
            let entry = s.entry();
            let bad = |k: &str| s.bad_keys.iter().any(|b| b == k);
            let Some(name) = self.symbol_name(s, &entry, lang, bad("name")) else { continue };
            if let Some(first) = seen.insert(name.clone(), s.index) {
                self.err(
                    &entry,
                    s.line,
                    format!("`{name}` is already declared by [[symbol]] #{first}"),
                    "declare each symbol once",
                );
                continue;
            }
            if let Some(f) = m.functions.iter().find(|f| {
                f.replacement.as_ref().is_some_and(|r| r.value == name)
                    || f.original.as_ref().is_some_and(|o| o.value == name)
            }) {
                self.err(
                    &entry,
                    s.line,
                    format!("`{name}` is also a replacement or original of {}", f.entry()),
                    "a declared symbol is a kernel symbol the source uses: give the patch's own functions other names",
                );
                continue;
            }
            let object = match &s.object {
                None => VMLINUX.to_string(),
                Some(o) if is_module_name(&o.value) && o.value.len() <= MAX_NAME_LEN => o.value.clone(),
                Some(o) => {
                    self.err(
                        &entry,
                        o.line,
                        format!("object `{}` is not a valid module name", o.value),
                        "use \"vmlinux\" for the kernel itself, or a module's name (letters, digits, `_`)",
                    );
                    continue;
                }
            };
            let sympos = match &s.sympos {
                None => 0,
                Some(p) if p.value >= 0 => p.value as u64,
                Some(p) => {
                    self.err(
                        &entry,
                        p.line,
                        format!("sympos {} is negative", p.value),
                        "use 0 (the name is unique in its object) or N (the Nth symbol of that name, in kallsyms order)",
                    );
                    continue;
                }
            };
            let ty = match &s.ty {
                Some(t) if !t.value.trim().is_empty() && !t.value.contains(['\n', ';', '"', '{', '}']) => {
                    t.value.trim().to_string()
                }
                Some(t) => {
                    self.err(&entry, t.line, format!("type `{}` is not usable", t.value), type_help(lang));
                    continue;
                }
                None if bad("type") => continue,
                None => {
                    self.err(&entry, s.line, "`type` is missing", type_help(lang));
                    continue;
                }
            };
            let line = s.sympos.as_ref().map_or(s.line, |p| p.line);
            if object == VMLINUX {
                if let Some((map_name, map)) = inputs.system_map {
                    let all = map.kallsyms(&name);
                    let at: Vec<usize> = (1..=all.len()).collect();
                    match resolve_in(&at, sympos) {
                        Resolution::Found(_) => {}
                        Resolution::NotFound => self.err(
                            &entry,
                            s.line,
                            format!("`{name}` is not in {map_name}"),
                            "check the name; if the symbol is in a module, set `object` to the module's name",
                        ),
                        Resolution::Ambiguous => self.err(
                            &entry,
                            line,
                            format!("ambiguous: {} symbols named {name}; set sympos", all.len()),
                            position_help(&name, &all),
                        ),
                        Resolution::NoSuchPosition => self.err(
                            &entry,
                            line,
                            format!("sympos {sympos}: {map_name} has only {} symbol(s) named {name}", all.len()),
                            position_help(&name, &all),
                        ),
                    }
                }
            } else if let Some((path, _, syms)) = inputs.modules.iter().find(|(_, n, _)| *n == object) {
                let n = syms.kallsyms.get(&name).map_or(0, Vec::len);
                let at: Vec<usize> = (1..=n).collect();
                match resolve_in(&at, sympos) {
                    Resolution::Found(_) => {}
                    Resolution::NotFound => self.err(
                        &entry,
                        s.line,
                        format!("`{name}` is not a symbol of {path}"),
                        "check the name and `object` (the module that defines the symbol)",
                    ),
                    Resolution::Ambiguous => self.err(
                        &entry,
                        line,
                        format!("ambiguous: {n} symbols named {name} in {path}; set sympos"),
                        "sympos N selects the Nth symbol of that name in the module's symbol table order",
                    ),
                    Resolution::NoSuchPosition => self.err(
                        &entry,
                        line,
                        format!("sympos {sympos}: {path} has only {n} symbol(s) named {name}"),
                        "sympos N selects the Nth symbol of that name in the module's symbol table order",
                    ),
                }
            }
            out.push(SymbolPlan { name, object, sympos, ty });
        }
        out
    }

    fn symbol_name(&mut self, s: &SymbolTable, entry: &str, lang: Lang, bad: bool) -> Option<String> {
        if bad {
            return None;
        }
        let Some(n) = &s.name else {
            self.err(
                entry,
                s.line,
                "`name` is missing",
                "add `name = \"symbol\"`: the kernel symbol (function or variable) the source uses",
            );
            return None;
        };
        let ok = is_identifier(&n.value)
            && n.value.len() <= MAX_SYMBOL_LEN
            && (lang == Lang::C || is_rust_identifier(&n.value));
        if !ok {
            self.err(
                entry,
                n.line,
                format!("name `{}` is not a valid symbol name", n.value),
                "name the symbol as the kernel does (letters, digits, `_`; for Rust sources not a keyword)",
            );
            return None;
        }
        Some(n.value.clone())
    }
}

impl Validator<'_> {
    /// Every kernel function the Rust source declares in an `extern` block
    /// must be exported to modules or declared as a `[[symbol]]`: modpost
    /// would refuse it at build time with a terse message, or, for a name
    /// it did not check, the module would not load.
    fn referenced(
        &mut self,
        decls: &[scan::FnDef],
        exports: &HashSet<String>,
        symbols: &[SymbolPlan],
        m: &Manifest,
        inputs: &Inputs<'_>,
    ) {
        let src = source_display(m, inputs);
        let originals: HashSet<&str> = m
            .functions
            .iter()
            .filter_map(|f| f.original.as_ref().map(|o| o.value.as_str()))
            .collect();
        let mut seen = HashSet::new();
        for d in decls {
            let n = d.name.as_str();
            if originals.contains(n) || exports.contains(n) || !seen.insert(n) {
                continue;
            }
            let declared = symbols.iter().any(|s| s.name == n);
            if declared {
                self.diags.push(
                    Diagnostic::error(
                        src.as_str(),
                        "extern block",
                        format!("`{n}` is declared as a [[symbol]] but also imported by name here"),
                        format!("a non-exported symbol cannot be linked by name: remove this declaration and call \
                                 crate::symbols::{n}() instead"),
                    )
                    .at_line(d.line),
                );
                continue;
            }
            let inline = inputs
                .kdir
                .and_then(|k| crate::checks::static_inline_hint(k, n, exports));
            let help = match inline {
                Some(h) => h,
                None => format!(
                    "declare it in patch.toml and call it through its accessor:\n[[symbol]]\nname = \"{n}\"\n\
                     object = \"vmlinux\"    # or the module that defines it\ntype = \"fn(...) -> ...\"  \
                     # its prototype, core::ffi types\nthen call crate::symbols::{n}() and drop the `extern` \
                     declaration; or, if it is exported by a module, pass that module's Module.symvers with --symvers"
                ),
            };
            self.diags.push(
                Diagnostic::error(
                    src.as_str(),
                    "extern block",
                    format!(
                        "`{n}` is not exported to modules (not in the tree's Module.symvers or --symvers) \
                         and not declared as a [[symbol]]"
                    ),
                    help,
                )
                .at_line(d.line),
            );
        }
    }
}

/// How to write a `[[symbol]]`'s `type`.
fn type_help(lang: Lang) -> &'static str {
    match lang {
        Lang::C => "give its C type: a function type such as `type = \"int (struct seq_file *, void *)\"`, \
                    or an object type such as `type = \"int\"`; the source uses it as LIVEGRAFT_SYM(name)",
        Lang::Rust => "give its Rust type: a function as `type = \"fn(c_int) -> c_int\"` (core::ffi types), \
                       or a variable's type such as `type = \"c_int\"`; the source calls crate::symbols::name()",
    }
}

/// How `sympos` selects among `all` (the symbols of one name, kallsyms order).
fn position_help(t: &str, all: &[MapSymbol]) -> String {
    format!(
        "sympos N selects the Nth symbol named {t} in kallsyms (address) order, as upstream livepatch: {}; \
         0 requires a unique name",
        all.iter()
            .enumerate()
            .map(|(i, s)| format!("{} = {:#x} ({})", i + 1, s.addr, s.kind))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(is_identifier("cmdline_proc_show"));
        assert!(is_identifier("_x1"));
        assert!(!is_identifier("1x"));
        assert!(!is_identifier("a-b"));
        assert!(!is_identifier("_"));
        assert!(!is_identifier(""));
        assert!(!is_identifier("é"));
        assert!(is_identifier("fn"));
        assert!(!is_rust_identifier("fn"));
        assert!(is_module_name("8250_core"));
        assert!(!is_module_name("snd-hda"));
    }
}
