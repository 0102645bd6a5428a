//! `livegraft-gen diff FIX.patch --kdir TREE`: from a unified diff of the
//! kernel source of a built tree to a patch directory (a C source and a
//! manifest), for plain function body changes.
//!
//! 1. Copies each file the diff touches from the source tree into a scratch
//!    directory twice and applies the diff to one copy (`patch -p1`): the
//!    user's tree is never written.
//! 2. Compiles both copies with the exact command Kbuild recorded for that
//!    object (`<dir>/.<file>.o.cmd`, first command only: no objtool), plus
//!    `-ffunction-sections -fdata-sections`, its output and dependency file
//!    redirected to the scratch directory.
//! 3. Compares the two objects per function section: code bytes and
//!    relocations (target symbol names, kinds and addends; a relocation into
//!    a string section compares the string, not its offset).
//! 4. Refuses what a live patch cannot do here, each with its own message:
//!    changed data (initialised, read-only or zeroed), `__init` code,
//!    functions without an ftrace call site, new functions, header changes,
//!    and uses of the file's own static symbols (not extracted yet).
//! 5. Emits `patch.toml` and `fix.c`: the patched file's `#include` lines and
//!    each changed function, renamed `livegraft_<name>`; every non-exported
//!    global it uses becomes a `[[symbol]]` (type `__typeof__(name)` of the
//!    header's declaration) and a `#define name LIVEGRAFT_SYM(name)`, so the
//!    function's text is the patched source unchanged.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionKind, SymbolKind};



/// The files a unified diff changes (`+++ b/<path>` lines, `b/` stripped).
pub fn touched_files(diff: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for l in diff.lines() {
        if let Some(p) = l.strip_prefix("+++ ") {
            let p = p.split('\t').next().unwrap_or(p).trim();
            let p = p.strip_prefix("b/").unwrap_or(p);
            if p != "/dev/null" && !out.iter().any(|o| o == p) {
                out.push(p.to_string());
            }
        }
    }
    out
}

/// The hunks of `file` in a unified diff: (old start, old length, new
/// start, new length) from each `@@ -a,b +c,d @@` line.
pub fn hunks_of(diff: &str, file: &str) -> Vec<(usize, usize, usize, usize)> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for l in diff.lines() {
        if let Some(p) = l.strip_prefix("+++ ") {
            let p = p.split('\t').next().unwrap_or(p).trim();
            cur = Some(p.strip_prefix("b/").unwrap_or(p).to_string());
        } else if let (Some(rest), Some(c)) = (l.strip_prefix("@@ -"), &cur) {
            if c != file {
                continue;
            }
            let mut parts = rest.split(' ');
            let range = |r: Option<&str>| -> Option<(usize, usize)> {
                let r = r?;
                let r = r.trim_start_matches('+');
                match r.split_once(',') {
                    Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
                    None => Some((r.parse().ok()?, 1)),
                }
            };
            if let (Some((a, b)), Some((c2, d))) = (range(parts.next()), range(parts.next())) {
                out.push((a, b, c2, d));
            }
        }
    }
    out
}

/// One side of the diff (`before`: the original) with blank lines after
/// each hunk that makes its side shorter, so that the lines after every
/// hunk have the same numbers on both sides; and the 1-based numbers of the
/// lines added (to map a line of the padded text back, [`real_line`]).
pub fn pad_lines(text: &str, hunks: &[(usize, usize, usize, usize)], before: bool) -> (String, Vec<usize>) {
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_string).collect();
    if !text.is_empty() && !text.ends_with('\n') {
        if let Some(l) = lines.last_mut() {
            l.push('\n');
        }
    }
    let after = |start: usize, len: usize| if len == 0 { start + 1 } else { start + len };
    let mut at_n: Vec<(usize, usize)> = Vec::new();
    for &(a, b, c, d) in hunks {
        let (next, n) = if before { (after(a, b), d.saturating_sub(b)) } else { (after(c, d), b.saturating_sub(d)) };
        if n > 0 {
            at_n.push((next, n));
        }
    }
    at_n.sort_by_key(|x| std::cmp::Reverse(x.0));
    let mut added_at = Vec::new();
    for (next, n) in at_n {
        // Before 1-based line `next`, past any continued line.
        let mut at = next.saturating_sub(1).min(lines.len());
        while at > 0 && at < lines.len() && lines[at - 1].trim_end().ends_with('\\') {
            at += 1;
        }
        for _ in 0..n {
            lines.insert(at, "\n".to_string());
        }
        added_at.push((at, n));
    }
    // Insertions went bottom-up: earlier ones shift the later ones' lines.
    added_at.sort_unstable();
    let mut added = Vec::new();
    let mut shift = 0;
    for (at, n) in added_at {
        added.extend((0..n).map(|i| at + shift + i + 1));
        shift += n;
    }
    (lines.concat(), added)
}

/// The line of the text before [`pad_lines`] that a line of its output is.
pub fn real_line(line: u32, added: &[usize]) -> u32 {
    let before = added.iter().filter(|&&a| a < line as usize).count();
    line.saturating_sub(before as u32)
}

/// Splits a shell command line as `sh` would for the words Kbuild writes:
/// whitespace separates, single and double quotes group (and are removed).
pub fn shell_words(cmd: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in cmd.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            None => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// The compiler command Kbuild recorded for `<rel>.o` (from `.cmd`), as
/// words, with the output, the source and the dependency file replaced.
pub fn compile_command(cmd_file: &str, rel_c: &str, src: &Path, out: &Path) -> Option<Vec<String>> {
    let line = cmd_file.lines().find(|l| l.starts_with("savedcmd_"))?;
    let cmd = line.split_once(":=")?.1;
    let first = cmd.split(" ; ").next()?;
    let mut words = shell_words(first);
    words.retain(|w| !w.starts_with("-Wp,-MMD,") && !w.starts_with("-Wp,-MD,"));
    let o = words.iter().position(|w| w == "-o")?;
    *words.get_mut(o + 1)? = out.display().to_string();
    // In-tree objects name their source relative to the tree, external
    // modules (M=) by its absolute path.
    let s = words.iter().position(|w| w == rel_c || (w.starts_with('/') && w.ends_with(&format!("/{rel_c}"))))
        .or_else(|| words.iter().position(|w| w.starts_with('/') && w.ends_with(".c")))?;
    words[s] = src.display().to_string();
    words.insert(1, "-fdata-sections".into());
    words.insert(1, "-ffunction-sections".into());
    Some(words)
}

/// One function of an object: its code and what it refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FnCode {
    section: String,
    bytes: Vec<u8>,
    relocs: Vec<(u64, String, i64)>,
    /// Symbols it refers to: (name, is a local symbol of the file).
    refs: BTreeSet<(String, bool)>,
    traced: bool,
}

/// Functions and data sections of a compiled object (`-ffunction-sections -fdata-sections`).
#[derive(Default, Debug)]
struct ObjInfo {
    funcs: BTreeMap<String, FnCode>,
    /// Every function and variable the object defines (its symbols).
    defined: BTreeSet<String>,
    /// Data sections by name: their bytes (zeroed sections: their size).
    data: BTreeMap<String, Vec<u8>>,
}

fn read_obj(data: &[u8]) -> Result<ObjInfo, String> {
    let file = object::File::parse(data).map_err(|e| format!("not an ELF object: {e}"))?;
    let mut info = ObjInfo::default();
    for sym in file.symbols() {
        if sym.is_definition() && matches!(sym.kind(), SymbolKind::Text | SymbolKind::Data) {
            if let Ok(n) = sym.name() {
                if !n.is_empty() && !is_anonymous(n) {
                    info.defined.insert(n.to_string());
                }
            }
        }
    }
    let string_at = |sec: &object::Section<'_, '_>, off: i64| -> String {
        let d = sec.data().unwrap_or(&[]);
        let off = usize::try_from(off).unwrap_or(usize::MAX);
        d.get(off..)
            .map(|r| String::from_utf8_lossy(r.split(|&b| b == 0).next().unwrap_or(&[])).into_owned())
            .unwrap_or_default()
    };
    for sym in file.symbols() {
        if sym.kind() != SymbolKind::Text || !sym.is_definition() {
            continue;
        }
        let (Ok(name), Some(si)) = (sym.name(), sym.section_index()) else { continue };
        if is_compiler_function(name) {
            continue;
        }
        let Ok(sec) = file.section_by_index(si) else { continue };
        let secname = sec.name().unwrap_or("").to_string();
        let bytes = sec.data().unwrap_or(&[]).to_vec();
        let mut relocs = Vec::new();
        let mut refs = BTreeSet::new();
        let mut traced = false;
        for (off, r) in sec.relocations() {
            let (target, addend) = match r.target() {
                RelocationTarget::Symbol(i) => match file.symbol_by_index(i) {
                    Ok(t) if t.kind() == SymbolKind::Section => {
                        let ts = t.section_index().and_then(|x| file.section_by_index(x).ok());
                        match ts {
                            Some(ts) if ts.name().is_ok_and(|n| n.starts_with(".rodata.str")) => {
                                // A string: compare its text, not where it is.
                                let pc = matches!(
                                    r.kind(),
                                    object::RelocationKind::Relative | object::RelocationKind::PltRelative
                                );
                                let at = r.addend() + if pc { 4 } else { 0 };
                                (format!("string {:?}", string_at(&ts, at)), 0)
                            }
                            Some(ts) => (ts.name().unwrap_or("?").to_string(), r.addend()),
                            None => ("?".to_string(), r.addend()),
                        }
                    }
                    Ok(t) if is_anonymous(t.name().unwrap_or("")) => {
                        // Compiler-made data (string literals, sanitizer
                        // metadata): compared by contents, not by name.
                        let ts = t.section_index().and_then(|x| file.section_by_index(x).ok());
                        let bytes = ts
                            .and_then(|ts| {
                                let d = ts.data().ok()?;
                                let a = usize::try_from(t.address()).ok()?;
                                let n = usize::try_from(t.size()).ok()?;
                                d.get(a..a.checked_add(n)?).map(<[u8]>::to_vec)
                            })
                            .unwrap_or_default();
                        (format!("anonymous {}", String::from_utf8_lossy(&bytes)), r.addend())
                    }
                    Ok(t) => {
                        let n = t.name().unwrap_or("?").to_string();
                        if n == "__fentry__" && off <= 4 {
                            traced = true;
                        }
                        if n != name && n != "__fentry__" && !n.starts_with("__x86_") {
                            refs.insert((n.clone(), t.is_local()));
                        }
                        (n, r.addend())
                    }
                    Err(_) => ("?".to_string(), r.addend()),
                },
                _ => ("?".to_string(), r.addend()),
            };
            relocs.push((off, target, addend));
        }
        // Zero the relocated fields: their contents are the linker's.
        let mut bytes = bytes;
        for (off, _, _) in &relocs {
            for b in bytes.iter_mut().skip(*off as usize).take(4) {
                *b = 0;
            }
        }
        info.funcs.insert(name.to_string(), FnCode { section: secname, bytes, relocs, refs, traced });
    }
    for sec in file.sections() {
        let Ok(n) = sec.name() else { continue };
        let data_like = matches!(
            sec.kind(),
            SectionKind::Data | SectionKind::ReadOnlyData | SectionKind::UninitializedData
        );
        let sym_part = n
            .strip_prefix(".rodata.")
            .or_else(|| n.strip_prefix(".data."))
            .or_else(|| n.strip_prefix(".bss."))
            .unwrap_or("");
        if data_like
            && !n.starts_with(".rodata.str")
            && !n.starts_with("__")
            && !n.starts_with(".discard")
            && !is_anonymous(sym_part)
        {
            let bytes = if sec.kind() == SectionKind::UninitializedData {
                sec.size().to_le_bytes().to_vec()
            } else {
                sec.data().unwrap_or(&[]).to_vec()
            };
            info.data.insert(n.to_string(), bytes);
        }
    }
    Ok(info)
}

/// Data the compiler made and names itself (string literals, sanitizer
/// metadata): compared through the code that uses it, by contents.
fn is_anonymous(name: &str) -> bool {
    name.starts_with('.') || name.starts_with("__unnamed_") || name.starts_with("__asan_")
}

/// Functions the compiler adds to each object (sanitizer constructors).
fn is_compiler_function(name: &str) -> bool {
    name.starts_with("asan.") || name.starts_with("tsan.") || name.starts_with("ubsan.")
}

/// What the comparison of one file's objects found.
#[derive(Debug, Default)]
pub struct FileDiff {
    /// Changed functions, with the non-exported globals they use.
    pub changed: Vec<(String, Vec<String>)>,
    /// Why parts of the change cannot be live-patched, one item each.
    pub refused: Vec<String>,
    /// The symbols the object defines before the diff (the running kernel's).
    pub defined: BTreeSet<String>,
}

/// Compares the objects of one file before and after the diff.
pub fn compare(before: &[u8], after: &[u8], exports: &HashSet<String>, file: &str) -> Result<FileDiff, String> {
    let b = read_obj(before)?;
    let a = read_obj(after)?;
    // What the running kernel has: the symbols of the object before the diff.
    let mut d = FileDiff { defined: b.defined.clone(), ..FileDiff::default() };
    for (name, new) in &a.funcs {
        match b.funcs.get(name) {
            None => d.refused.push(format!(
                "{file}: new function `{name}`: livegraft-gen diff cannot add functions yet"
            )),
            Some(old) if old.bytes == new.bytes && old.relocs == new.relocs => {}
            Some(old) => {
                if std::env::var_os("LIVEGRAFT_DIFF_DEBUG").is_some() {
                    let r: Vec<_> = old.relocs.iter().zip(&new.relocs).filter(|(a, b)| a != b).take(3).collect();
                    eprintln!("{name}: bytes equal {}, relocs {}/{}: {r:?}", old.bytes == new.bytes, old.relocs.len(), new.relocs.len());
                }
                if new.section.starts_with(".init") {
                    d.refused.push(format!(
                        "{file}: `{name}` is __init code (already ran and freed): a live patch cannot change it"
                    ));
                    continue;
                }
                if !new.traced {
                    d.refused.push(format!(
                        "{file}: `{name}` has no ftrace call site (notrace or inlined): livegraft cannot replace \
                         it; change a traceable caller"
                    ));
                    continue;
                }
                // The file's own symbols (static or not) are the extraction's
                // (crate::extract); others must be exported or declared.
                let hidden: Vec<String> = new
                    .refs
                    .iter()
                    .filter(|(n, local)| !local && !exports.contains(n) && !a.defined.contains(n))
                    .map(|(n, _)| n.clone())
                    .collect();
                d.changed.push((name.clone(), hidden));
            }
        }
    }
    for name in b.funcs.keys() {
        if !a.funcs.contains_key(name) {
            d.refused.push(format!("{file}: function `{name}` removed: livegraft cannot remove functions"));
        }
    }
    let names: BTreeSet<&String> = a.data.keys().chain(b.data.keys()).collect();
    let mut seen = BTreeSet::new();
    for n in names {
        if a.data.get(n) != b.data.get(n) {
            let what = n.trim_start_matches('.').splitn(2, '.').nth(1).unwrap_or(n);
            if !seen.insert(what.to_string()) {
                continue;
            }
            d.refused.push(format!(
                "{file}: changed data `{what}` (its initial value, size or section, {n}): a live patch replaces \
                 code only; the running kernel keeps its data and layouts"
            ));
        }
    }
    Ok(d)
}

/// The result of [`run`].
pub struct DiffResult {
    /// The patch directory written.
    pub patch_dir: PathBuf,
    /// Changed functions: (file, function).
    pub changed: Vec<(String, String)>,
    /// Non-exported symbols resolved at load.
    pub symbols: Vec<String>,
    /// The module the changed functions are in (None: vmlinux).
    pub module: Option<Module>,
}

/// A module (not vmlinux) that the changed file is built into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// Its name (the patch's `object`).
    pub name: String,
    /// Its `.ko` (traceability and symbols checked from it).
    pub ko: PathBuf,
    /// Its `Module.symvers` (the patch links against its exports).
    pub symvers: PathBuf,
    /// One of its exports, which the patch references to depend on it.
    pub export: Option<String>,
}

/// The module whose Kbuild `<name>.mod` (beside the object's `.cmd`) lists
/// the object; `None`: the object is built into vmlinux.
fn module_of(cmd_path: &Path, rel_o: &str) -> Option<Module> {
    let dir = cmd_path.parent()?;
    let base_o = rel_o.rsplit('/').next().unwrap_or(rel_o);
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "mod") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap_or_default();
        let lists = text.split_whitespace().any(|w| w == rel_o || w.ends_with(&format!("/{base_o}")) || w == base_o);
        if !lists {
            continue;
        }
        let name = p.file_stem()?.to_string_lossy().into_owned();
        let symvers = dir.join("Module.symvers");
        let export = std::fs::read_to_string(&symvers).ok().and_then(|t| {
            t.lines().find_map(|l| {
                let w: Vec<&str> = l.split('\t').collect();
                (w.len() >= 3 && w[2].ends_with(&name)).then(|| w[1].to_string())
            })
        });
        return Some(Module { ko: dir.join(format!("{name}.ko")), symvers, export, name: name.replace('-', "_") });
    }
    None
}

/// Runs the whole pipeline; `Err` carries every refusal (or the failure).
pub fn run(
    diff_path: &Path,
    kdir: &Path,
    source: &Path,
    out: &Path,
    name: &str,
    exports: &HashSet<String>,
) -> Result<DiffResult, Vec<String>> {
    // Compilers run from the tree: paths must not be relative to here.
    let kdir = &kdir.canonicalize().unwrap_or_else(|_| kdir.to_path_buf());
    let source = &source.canonicalize().unwrap_or_else(|_| source.to_path_buf());
    let mut scratch = None;
    let r = run_in(diff_path, kdir, source, out, name, exports, &mut scratch);
    if let Some(s) = scratch {
        let _ = std::fs::remove_dir_all(s);
    }
    r
}

fn run_in(
    diff_path: &Path,
    kdir: &Path,
    source: &Path,
    out: &Path,
    name: &str,
    exports: &HashSet<String>,
    scratch_out: &mut Option<PathBuf>,
) -> Result<DiffResult, Vec<String>> {
    let diff = std::fs::read_to_string(diff_path).map_err(|e| vec![format!("{}: {e}", diff_path.display())])?;
    let files = touched_files(&diff);
    if files.is_empty() {
        return Err(vec![format!("{}: no file changes (+++ lines) in the diff", diff_path.display())]);
    }
    let mut refused = Vec::new();
    for f in &files {
        if !f.ends_with(".c") {
            refused.push(format!(
                "{f}: only .c files are supported: a header change may change static inlines, macros or \
                 data layouts in every file that includes it"
            ));
        }
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    let scratch = tempfile_dir().map_err(|e| vec![format!("cannot create a scratch directory: {e}")])?;
    *scratch_out = Some(scratch.clone());
    let before_root = scratch.join("before");
    let after_root = scratch.join("after");
    for f in &files {
        for root in [&before_root, &after_root] {
            let dst = root.join(f);
            std::fs::create_dir_all(dst.parent().unwrap_or(root)).map_err(|e| vec![e.to_string()])?;
            std::fs::copy(source.join(f), &dst)
                .map_err(|e| vec![format!("{}: {e}", source.join(f).display())])?;
        }
    }
    let status = Command::new("patch")
        .args(["-p1", "-s", "--no-backup-if-mismatch", "-d"])
        .arg(&after_root)
        .arg("-i")
        .arg(diff_path.canonicalize().unwrap_or(diff_path.to_path_buf()))
        .status()
        .map_err(|e| vec![format!("cannot run patch: {e}")])?;
    if !status.success() {
        return Err(vec![format!("{}: does not apply to {} (patch -p1 failed)", diff_path.display(), source.display())]);
    }
    // Lines after each hunk get the same numbers in both copies (blank
    // lines added to the shorter side): a function whose only change is
    // __LINE__ (might_sleep(), WARN()) is not a changed function.
    // Lines added to each side (`true`: before), to name real lines.
    let mut padding: BTreeMap<(String, bool), Vec<usize>> = BTreeMap::new();
    for f in &files {
        let hunks = hunks_of(&diff, f);
        for (root, before) in [(&before_root, true), (&after_root, false)] {
            let p = root.join(f);
            let text = std::fs::read_to_string(&p).map_err(|e| vec![format!("{}: {e}", p.display())])?;
            let (padded, added) = pad_lines(&text, &hunks, before);
            std::fs::write(&p, padded).map_err(|e| vec![e.to_string()])?;
            padding.insert((f.clone(), before), added);
        }
    }
    let mut changed_all = Vec::new();
    let mut symbols: Vec<String> = Vec::new();
    let mut hidden_types: Vec<(String, String)> = Vec::new();
    let mut locals: Vec<crate::extract::LocalSymbol> = Vec::new();
    let mut fix = String::from("// SPDX-License-Identifier: GPL-2.0\n");
    let _ = writeln!(
        fix,
        "/*\n * Generated by livegraft-gen diff from {}: the patched source cut down to\n \
         * its changed functions (renamed livegraft_<name>) and what they need of\n \
         * the file; the file's functions and variables that the kernel has are\n \
         * the running kernel's ([[symbol]]s resolved at load).\n */",
        diff_path.display()
    );
    let mut patched_files = Vec::new();
    // The module the changed file is part of (None: vmlinux).
    let mut module: Option<Module> = None;
    for f in &files {
        let rel_o = f.trim_end_matches(".c").to_string() + ".o";
        let (dir, base) = match f.rsplit_once('/') {
            Some((d, b)) => (d.to_string(), b.to_string()),
            None => (".".to_string(), f.clone()),
        };
        // Kbuild's record: in the tree, or beside the source of a module
        // built outside it (M=).
        let cmd_name = format!(".{}.o.cmd", base.trim_end_matches(".c"));
        let cmd_path = [source.join(&dir).join(&cmd_name), kdir.join(&dir).join(&cmd_name)]
            .into_iter()
            .find(|p| p.is_file())
            .unwrap_or_else(|| kdir.join(&dir).join(&cmd_name));
        let Ok(cmd_text) = std::fs::read_to_string(&cmd_path) else {
            refused.push(format!(
                "{f}: {} is missing: the tree did not build {rel_o} (not in this configuration?)",
                cmd_path.display()
            ));
            continue;
        };
        let mut objs = Vec::new();
        let mut parse_args: Vec<Vec<String>> = Vec::new();
        for (root, tag) in [(&before_root, "before"), (&after_root, "after")] {
            let out_o = scratch.join(format!("{}.{tag}.o", base.trim_end_matches(".c")));
            let Some(mut words) = compile_command(&cmd_text, f, &root.join(f), &out_o) else {
                refused.push(format!("{f}: cannot read the compile command in {}", cmd_path.display()));
                break;
            };
            // Quoted includes of the file's own directory; __FILE__ as the
            // kernel's (relative to the tree), not the scratch copy's.
            words.insert(1, format!("-I{}", source.join(&dir).display()));
            words.insert(1, format!("-fmacro-prefix-map={}/=", root.display()));
            parse_args.push(clang_args(&words, &root.join(f), &out_o, kdir));
            let outp = Command::new(&words[0]).args(&words[1..]).current_dir(kdir).output();
            match outp {
                Ok(o) if o.status.success() => {}
                Ok(o) => {
                    refused.push(format!(
                        "{f} ({tag} the diff) does not compile:\n{}",
                        String::from_utf8_lossy(&o.stderr)
                    ));
                    break;
                }
                Err(e) => {
                    refused.push(format!("cannot run {}: {e}", words[0]));
                    break;
                }
            }
            objs.push(std::fs::read(&out_o).map_err(|e| vec![e.to_string()])?);
        }
        if objs.len() != 2 {
            continue;
        }
        let d = match compare(&objs[0], &objs[1], exports, f) {
            Ok(d) => d,
            Err(e) => {
                refused.push(format!("{f}: {e}"));
                continue;
            }
        };
        // The file as the compiler saw it, before and after: layouts of its
        // own structs, prototypes, and the declarations to cut it down;
        // lines as in the real files.
        let parsed: Vec<_> = [(&before_root, true), (&after_root, false)]
            .iter()
            .zip(&parse_args)
            .map(|((root, side), args)| {
                let mut v = crate::clangast::parse(&root.join(f), args)?;
                if let Some(added) = padding.get(&(f.clone(), *side)) {
                    for d in &mut v {
                        d.line = real_line(d.line, added);
                    }
                }
                Ok::<_, String>(v)
            })
            .collect();
        let (before_decls, after_decls) = match (&parsed[0], &parsed[1]) {
            (Ok(b), Ok(a)) => (b, a),
            (Err(e), _) | (_, Err(e)) => {
                refused.extend(d.refused);
                refused.push(format!("{f}: libclang: {e}"));
                continue;
            }
        };
        // The comparison's refusals name the item's line.
        for r in d.refused {
            let item = r.split('`').nth(1).unwrap_or("");
            let line = after_decls
                .iter()
                .chain(before_decls.iter())
                .find(|x| x.name == item && matches!(x.kind, crate::clangast::Kind::Func | crate::clangast::Kind::Var))
                .map(|x| x.line);
            match (line, r.strip_prefix(&format!("{f}: "))) {
                (Some(l), Some(rest)) => refused.push(format!("{f}:{l}: {rest}")),
                _ => refused.push(r),
            }
        }
        refused.extend(crate::extract::layout_changes(f, before_decls, after_decls));
        if d.changed.is_empty() {
            continue;
        }
        for (fname, _) in &d.changed {
            let ty = |v: &[crate::clangast::Decl]| {
                v.iter()
                    .find(|x| x.kind == crate::clangast::Kind::Func && x.is_def && &x.name == fname)
                    .map(|x| (x.ty.clone(), x.line))
            };
            if let (Some((b, _)), Some((a, line))) = (ty(before_decls), ty(after_decls)) {
                if a != b {
                    refused.push(format!(
                        "{f}:{line}: `{fname}` changes its prototype ({b} -> {a}): its callers in the running \
                         kernel pass the old arguments"
                    ));
                }
            }
        }
        patched_files.push(f.clone());
        module = module_of(&cmd_path, &rel_o);
        if patched_files.len() > 1 {
            refused.push(format!(
                "{f}: functions change in more than one file ({}): one patch per file for now; split the diff",
                patched_files.join(", ")
            ));
            continue;
        }
        let after_src = std::fs::read_to_string(after_root.join(f)).map_err(|e| vec![e.to_string()])?;
        let changed: BTreeSet<String> = d.changed.iter().map(|(n, _)| n.clone()).collect();
        let mut hidden_all: Vec<String> = Vec::new();
        for (_, hidden) in &d.changed {
            for h in hidden {
                if !hidden_all.contains(h) {
                    hidden_all.push(h.clone());
                }
            }
        }
        // A non-exported function of another file is called through a
        // local thunk of its name that jumps to the address resolved at
        // load: calls from the file's text and from header inlines alike
        // (a header's `static inline` may call it). A variable is
        // `LIVEGRAFT_SYM(name)` in the file's text.
        let funcs = text_symbols(kdir);
        let mut prelude = String::new();
        for s in &hidden_all {
            if funcs.contains(s) {
                let _ = writeln!(
                    prelude,
                    "/* livegraft-gen diff: `{s}` is not exported: calls to it reach the running kernel's through this \
                     thunk ([[symbol]], resolved at load) */\n\
                     asm(\".pushsection .text.livegraft_thunks,\\\"ax\\\"\\n\"\n\
                     \t\".type {s}, @function\\n\"\n\t\"{s}:\\n\"\n\
                     \t\"\\tjmp *__livegraft_sym_{s}(%rip)\\n\"\n\
                     \t\".size {s}, .-{s}\\n\"\n\t\".popsection\\n\");"
                );
                hidden_types.push((s.clone(), "void".to_string()));
            } else {
                let _ = writeln!(
                    prelude,
                    "/* livegraft-gen diff: `{s}` is not exported: the running kernel's ([[symbol]], resolved at load) */\n\
                     #define {s} LIVEGRAFT_SYM({s})"
                );
                hidden_types.push((s.clone(), format!("__typeof__({s})")));
            }
        }
        let ex = match crate::extract::extract(
            &after_src,
            f,
            after_decls,
            &changed,
            &|n| d.defined.contains(n),
            &|n| exports.contains(n),
            &prelude,
        ) {
            Ok(x) => x,
            Err(e) => {
                refused.extend(e);
                continue;
            }
        };
        let _ = writeln!(fix, "\n/* {f}, as patched (quoted includes from {}) */", source.join(&dir).display());
        for l in ex.text.split_inclusive('\n') {
            let t = l.trim_start();
            let quoted = t
                .strip_prefix('#')
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix("include"))
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('"'))
                .and_then(|r| r.split_once('"'));
            match quoted {
                Some((h, rest)) => {
                    let _ = write!(fix, "#include \"{}\"{rest}", source.join(&dir).join(h).display());
                }
                None => fix.push_str(l),
            }
        }
        if let Some(m) = &module {
            match &m.export {
                Some(e) => {
                    let _ = write!(
                        fix,
                        "\n/* livegraft-gen diff: a reference to {e}, an export of {mo}, so that {mo} stays loaded \
                         while this patch uses its code */\nasm(\".pushsection .rodata\\n\\t.balign 8\\n\\t.quad {e}\\n\\t.popsection\");\n",
                        mo = m.name
                    );
                }
                None => refused.push(format!(
                    "{f}: module {} exports nothing ({} lists no symbol): the patch could not keep it loaded",
                    m.name,
                    m.symvers.display()
                )),
            }
        }
        symbols.extend(hidden_all);
        locals.extend(ex.symbols);
        for (fname, _) in d.changed {
            changed_all.push((f.clone(), fname));
        }
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    if changed_all.is_empty() {
        return Err(vec!["the diff changes no function's code".to_string()]);
    }
    let mut toml = format!(
        "# Generated by livegraft-gen diff from {}.\n[patch]\nname = \"{name}\"\ndescription = \"{}\"\nsource = \"fix.c\"\n",
        diff_path.display(),
        diff_path.file_name().map_or("a fix".into(), |n| n.to_string_lossy().replace(['"', '\\'], ""))
    );
    let object = module.as_ref().map_or(String::new(), |m| format!("object = \"{}\"\n", m.name));
    for (_, fname) in &changed_all {
        let _ = write!(toml, "\n[[function]]\ntarget = \"{fname}\"\n{object}replacement = \"livegraft_{fname}\"\n");
    }
    for (s, ty) in &hidden_types {
        let _ = write!(toml, "\n[[symbol]]\nname = \"{s}\"\ntype = \"{ty}\"\n");
    }
    let mut positions = Vec::new();
    for s in &locals {
        if module.is_some() {
            positions.push(0);
            continue;
        }
        match vmlinux_sympos(kdir, &patched_files[0], &s.name) {
            Ok(p) => positions.push(p),
            Err(e) => return Err(vec![format!("{}: {e}: set its sympos by hand", patched_files[0])]),
        }
    }
    for (s, pos) in locals.iter().zip(&positions) {
        let object = if *pos > 0 { format!("{object}sympos = {pos}\n") } else { object.clone() };
        // fix.c casts the address to the declaration's type where the
        // declaration was (the type may be one of the file's own).
        let _ = write!(
            toml,
            "\n[[symbol]]\t# {} of the patched file: {}\nname = \"{}\"\n{object}type = \"void\"\n",
            if s.is_func { "a function" } else { "a variable" },
            s.ty.replace('\n', " "),
            s.name
        );
    }
    std::fs::create_dir_all(out).map_err(|e| vec![format!("{}: {e}", out.display())])?;
    std::fs::write(out.join("patch.toml"), toml).map_err(|e| vec![e.to_string()])?;
    std::fs::write(out.join("fix.c"), fix).map_err(|e| vec![e.to_string()])?;
    symbols.extend(locals.into_iter().map(|s| s.name));
    Ok(DiffResult { patch_dir: out.to_path_buf(), changed: changed_all, symbols, module })
}

/// The `sympos` of the local symbol `name` defined by the object built
/// from `file` (e.g. `fs/proc/base.c`) in `vmlinux`: 0 when the name is
/// unique in `System.map`, else its 1-based position by address among the
/// symbols of that name (kallsyms order), found through the `STT_FILE`
/// symbol that precedes each object's local symbols in vmlinux's symtab.
pub fn vmlinux_sympos(kdir: &Path, file: &str, name: &str) -> Result<u64, String> {
    let map = std::fs::read_to_string(kdir.join("System.map")).map_err(|e| format!("System.map: {e}"))?;
    let mut addrs: Vec<u64> = map
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (a, _, n) = (w.next()?, w.next()?, w.next()?);
            (n == name).then(|| u64::from_str_radix(a, 16).ok()).flatten()
        })
        .collect();
    if addrs.len() <= 1 {
        return Ok(0);
    }
    addrs.sort_unstable();
    let data = std::fs::read(kdir.join("vmlinux")).map_err(|e| format!("vmlinux: {e}"))?;
    let elf = object::File::parse(&*data).map_err(|e| format!("vmlinux: {e}"))?;
    let base = file.rsplit('/').next().unwrap_or(file);
    let mut cur_file = String::new();
    let mut found = Vec::new();
    for sym in elf.symbols() {
        if sym.kind() == SymbolKind::File {
            cur_file = sym.name().unwrap_or("").to_string();
        } else if sym.is_local() && sym.name() == Ok(name) && (cur_file == file || cur_file == base) {
            found.push(sym.address());
        }
    }
    match found.as_slice() {
        [a] => addrs
            .iter()
            .position(|x| x == a)
            .map(|i| i as u64 + 1)
            .ok_or_else(|| format!("`{name}` of {file} at {a:#x} is not in System.map")),
        [] => Err(format!("{} symbols named `{name}` and none of them is {file}'s in vmlinux's symbol table", addrs.len())),
        _ => Err(format!("{} symbols named `{name}` in objects named {base}: cannot tell which is {file}'s", found.len())),
    }
}

/// The functions of a tree's `System.map` (text symbols).
fn text_symbols(kdir: &Path) -> HashSet<String> {
    std::fs::read_to_string(kdir.join("System.map"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let (_, t, n) = (w.next()?, w.next()?, w.next()?);
            matches!(t, "t" | "T" | "w" | "W").then(|| n.to_string())
        })
        .collect()
}

/// libclang's arguments from a compile command: the flags without the
/// compiler, `-c`, the output and the source; paths relative to the tree
/// made absolute (libclang's `-working-directory` changes the process's
/// current directory).
fn clang_args(words: &[String], src: &Path, out_o: &Path, kdir: &Path) -> Vec<String> {
    let (src, out_o) = (src.display().to_string(), out_o.display().to_string());
    let abs = |p: &str| if p.starts_with('/') { p.to_string() } else { kdir.join(p).display().to_string() };
    let mut args = Vec::new();
    let mut iter = words.iter().skip(1);
    while let Some(w) = iter.next() {
        match w.as_str() {
            "-o" => {
                iter.next();
            }
            "-c" => {}
            "-include" | "-isystem" | "-iquote" | "-imacros" | "-idirafter" => {
                args.push(w.clone());
                if let Some(p) = iter.next() {
                    args.push(abs(p));
                }
            }
            _ if *w == src || *w == out_o => {}
            _ => match w.strip_prefix("-I") {
                Some(p) if !p.is_empty() => args.push(format!("-I{}", abs(p))),
                _ => args.push(w.clone()),
            },
        }
    }
    args
}

/// A fresh scratch directory under the system's temporary directory.
fn tempfile_dir() -> std::io::Result<PathBuf> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let base = std::env::temp_dir().join(format!("livegraft-diff-{}-{n}", std::process::id()));
    if base.exists() {
        std::fs::remove_dir_all(&base)?;
    }
    std::fs::create_dir_all(&base)?;
    Ok(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_commands() {
        assert_eq!(
            shell_words("clang -DX='\"a/b\"' -c -o fs/x.o fs/x.c"),
            vec!["clang", "-DX=\"a/b\"", "-c", "-o", "fs/x.o", "fs/x.c"]
        );
        let cmd = "savedcmd_fs/x.o := clang -Wp,-MMD,fs/.x.o.d -O2 -c -o fs/x.o fs/x.c   ; ./tools/objtool/objtool x\n";
        let w = compile_command(cmd, "fs/x.c", Path::new("/s/fs/x.c"), Path::new("/s/x.o")).unwrap();
        assert_eq!(
            w,
            vec!["clang", "-ffunction-sections", "-fdata-sections", "-O2", "-c", "-o", "/s/x.o", "/s/fs/x.c"]
        );
        let d = "--- a/fs/proc/cmdline.c\n+++ b/fs/proc/cmdline.c\n@@ -1 +1 @@\n";
        assert_eq!(touched_files(d), vec!["fs/proc/cmdline.c"]);
    }
}
