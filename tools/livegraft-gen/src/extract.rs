//! Cuts a patched kernel source file down to a C patch source: the changed
//! functions (renamed `livegraft_<name>`) with everything of the file they
//! need, and nothing that would duplicate the kernel's code or data.
//!
//! Works on the file's own text and its top-level declarations as libclang
//! saw them with the kernel's flags (`clangast`), so macros, types,
//! `#ifdef`s and includes stay exactly as the kernel compiled them:
//!
//! * kept as written: types, enums, typedefs, macros and every preprocessor
//!   line; the changed functions; and the file's functions and variables
//!   that they use and that have no symbol in the object (`static inline`
//!   helpers, functions the compiler inlined everywhere, constants it
//!   folded), transitively;
//! * the kernel's own: a function or variable of the file that they use and
//!   that has a symbol in the object (a `static` helper, a `static`
//!   variable, a non-exported global) becomes a `[[symbol]]` resolved at
//!   load (through kallsyms): each use is rewritten to
//!   `__livegraft_use_<name>`, defined where its declaration was as the
//!   resolved address cast to the declaration's type;
//! * removed: every other function and variable definition, file-scope
//!   `asm` (exports, initcalls, `module_param`s, `MODULE_*` tags go with
//!   them); removed text keeps its line count and its preprocessor lines.

use std::collections::{BTreeMap, BTreeSet};

use crate::clangast::{Decl, Kind};

/// A symbol of the file that the patch uses from the running kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalSymbol {
    pub name: String,
    /// Its C type as the declaration spells it.
    pub ty: String,
    pub is_func: bool,
}

/// The cut-down source.
#[derive(Debug)]
pub struct Extracted {
    pub text: String,
    /// The file's functions and variables taken from the running kernel.
    pub symbols: Vec<LocalSymbol>,
    /// The file's functions and variables copied (no symbol in the object).
    pub copied: Vec<String>,
}

/// What to do with a range of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Action {
    Keep,
    Delete,
}

/// Cuts `src` (the patched file, `file` its path in the tree) down to the
/// functions named in `changed`. `has_symbol(name)`: the running kernel's object (before the diff) defines a
/// symbol of that name; `exported(name)`: some object exports it.
pub fn extract(
    src: &str,
    file: &str,
    decls: &[Decl],
    changed: &BTreeSet<String>,
    has_symbol: &dyn Fn(&str) -> bool,
    exported: &dyn Fn(&str) -> bool,
    prelude: &str,
) -> Result<Extracted, Vec<String>> {
    let mut refused = Vec::new();
    if std::env::var_os("LIVEGRAFT_DIFF_DEBUG").is_some() {
        for d in decls {
            eprintln!("{file}:{} {:?} {} [{}..{}] def={} internal={}", d.line, d.kind, d.name, d.start, d.end, d.is_def, d.internal);
        }
    }
    let is_obj = |d: &Decl| matches!(d.kind, Kind::Func | Kind::Var);
    // Definitions of the file by USR, and all declarations of each USR.
    let mut def_of: BTreeMap<&str, usize> = BTreeMap::new();
    let mut decls_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, d) in decls.iter().enumerate() {
        if !is_obj(d) {
            continue;
        }
        decls_of.entry(d.usr.as_str()).or_default().push(i);
        if d.is_def {
            def_of.insert(d.usr.as_str(), i);
        }
    }
    // Which definitions are kept, which symbols are used from the kernel.
    let mut kept: BTreeSet<usize> = BTreeSet::new();
    let mut work: Vec<usize> = Vec::new();
    for name in changed {
        match decls.iter().position(|d| d.kind == Kind::Func && d.is_def && &d.name == name) {
            Some(i) => {
                kept.insert(i);
                work.push(i);
            }
            None => refused.push(format!("{file}: `{name}` changed but libclang found no definition of it")),
        }
    }
    let mut sym_usrs: BTreeSet<&str> = BTreeSet::new();
    let mut copied = Vec::new();
    while let Some(i) = work.pop() {
        for r in &decls[i].refs {
            let Some(&di) = def_of.get(r.usr.as_str()) else { continue };
            let d = &decls[di];
            if changed.contains(&d.name) && d.kind == Kind::Func {
                // A changed function used by one: the kernel's, which the
                // patch redirects (the same universe decides).
                sym_usrs.insert(d.usr.as_str());
            } else if has_symbol(&d.name) {
                // The running kernel's (exported or not: kallsyms has it).
                sym_usrs.insert(d.usr.as_str());
            } else if kept.insert(di) {
                copied.push(d.name.clone());
                work.push(di);
            }
        }
    }
    // The symbols, their types and where their uses are written.
    let mut symbols = Vec::new();
    let mut uses: BTreeMap<usize, (String, String)> = BTreeMap::new();
    for usr in &sym_usrs {
        let d = &decls[def_of[usr]];
        if d.ty.contains("(unnamed") || d.ty.contains("(anonymous") {
            refused.push(format!(
                "{file}:{}: `{}` is used by the patch but its type is an anonymous struct or union: \
                 it cannot be declared in the patch",
                d.line, d.name
            ));
            continue;
        }
        symbols.push(LocalSymbol { name: d.name.clone(), ty: d.ty.clone(), is_func: d.kind == Kind::Func });
    }
    for &i in &kept {
        for r in &decls[i].refs {
            if !sym_usrs.contains(r.usr.as_str()) {
                continue;
            }
            match r.at {
                Some(at) if src.as_bytes().get(at..at + r.name.len()) == Some(r.name.as_bytes()) => {
                    uses.insert(at, (r.name.clone(), format!("__livegraft_use_{}", r.name)));
                }
                // Written in a header's macro: an exported global of the
                // file still links through its header declaration.
                _ if !decls[def_of[r.usr.as_str()]].internal && exported(&r.name) => {}
                _ => refused.push(format!(
                    "{file}:{}: `{}` uses `{}` through a macro of another file or token pasting: \
                     the use cannot be redirected to the kernel's `{}`",
                    decls[i].line, decls[i].name, r.name, r.name
                )),
            }
        }
    }
    // Ranges: kept, deleted, or deleted with the symbol definitions it held.
    let mut items: Vec<(usize, usize, Action, usize)> = Vec::new();
    for (i, d) in decls.iter().enumerate() {
        let action = match d.kind {
            Kind::Func | Kind::Var => {
                if kept.contains(&i) {
                    Action::Keep
                } else if d.is_def || sym_usrs.contains(d.usr.as_str()) {
                    Action::Delete
                } else if d.internal && !decls_of[d.usr.as_str()].iter().any(|j| kept.contains(j)) {
                    // A static prototype of something not kept.
                    Action::Delete
                } else {
                    Action::Keep
                }
            }
            Kind::Unexposed => Action::Delete,
            Kind::Record | Kind::Other => Action::Keep,
        };
        let end = extend_semicolon(src, invocation_end(src, d.start).map_or(d.end, |e| e.max(d.end)));
        items.push((d.start, end, action, i));
    }
    items.sort_by_key(|x| (x.0, x.1));
    // Overlapping ranges (one macro or one declaration statement making
    // several declarations) are one group.
    let mut groups: Vec<(usize, usize, Vec<(Action, usize)>)> = Vec::new();
    for (s, e, a, i) in items {
        match groups.last_mut() {
            Some(g) if s < g.1 => {
                g.1 = g.1.max(e);
                g.2.push((a, i));
            }
            _ => groups.push((s, e, vec![(a, i)])),
        }
    }
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    if let Some(first) = kept.iter().map(|&i| decls[i].start).min() {
        if !prelude.is_empty() {
            edits.push((first, first, format!("\n{prelude}")));
        }
    }
    let mut defined: BTreeSet<&str> = BTreeSet::new();
    let define_text = |usr: &str| -> String {
        let d = &decls[def_of[usr]];
        format!(
            "\n/* livegraft-gen diff: {file}:{}: the running kernel's `{}` ([[symbol]], resolved at load) */\n\
             #define __livegraft_use_{} (*(__typeof__({}) *)__livegraft_sym_{})\n",
            d.line, d.name, d.name, d.ty, d.name
        )
    };
    for (s, e, members) in &groups {
        let deletes = members.iter().any(|(a, _)| *a == Action::Delete);
        let mut defs = String::new();
        for (_, i) in members {
            let usr = decls[*i].usr.as_str();
            if sym_usrs.contains(usr) && !defined.contains(usr) {
                defs.push_str(&define_text(usr));
                defined.insert(usr);
            }
        }
        if !deletes {
            if !defs.is_empty() {
                edits.push((*s, *s, defs));
            }
            for (_, i) in members {
                let d = &decls[*i];
                if kept.contains(i) && changed.contains(&d.name) && d.kind == Kind::Func {
                    rename(src, file, d, &mut edits, &mut refused);
                }
            }
            continue;
        }
        if let Some((_, i)) = members.iter().find(|(a, i)| *a == Action::Keep && kept.contains(i)) {
            let d = &decls[*i];
            let mut others: Vec<String> = Vec::new();
            for (a, j) in members {
                let n = format!("`{}`", decls[*j].name);
                if *a == Action::Delete && j != i && n != "``" && !others.contains(&n) {
                    others.push(n);
                }
            }
            let what = if changed.contains(&d.name) { "changed function" } else { "needed by the patch:" };
            refused.push(format!(
                "{file}:{}: {what} `{}` is defined by one macro or declaration together with {}, which must not \
                 be copied: livegraft-gen diff cannot cut it out (write this replacement by hand)",
                d.line,
                d.name,
                others.join(", ")
            ));
            continue;
        }
        // Keep named struct/union definitions made in the same statement.
        let mut keep_text = String::new();
        for (a, i) in members {
            let d = &decls[*i];
            if *a == Action::Keep && d.kind == Kind::Record && d.is_def && !d.name.is_empty() {
                keep_text.push_str(&src[d.start..d.end]);
                keep_text.push_str(";\n");
            }
        }
        let text = format!("{}{}{}", deleted(&src[*s..*e]), keep_text, defs);
        edits.push((*s, *e, text));
    }
    for (at, (name, new)) in &uses {
        edits.push((*at, at + name.len(), new.clone()));
    }
    if !refused.is_empty() {
        return Err(refused);
    }
    edits.sort_by_key(|e| (e.0, e.1));
    let mut out = String::with_capacity(src.len());
    let mut pos = 0;
    for (s, e, t) in edits {
        if s < pos {
            // A use inside a deleted range: gone with it.
            continue;
        }
        out.push_str(&src[pos..s]);
        out.push_str(&t);
        pos = e;
    }
    out.push_str(&src[pos..]);
    Ok(Extracted { text: out, symbols, copied })
}

fn rename(src: &str, file: &str, d: &Decl, edits: &mut Vec<(usize, usize, String)>, refused: &mut Vec<String>) {
    match d.name_at {
        Some(at) if src.get(at..at + d.name.len()) == Some(d.name.as_str()) => {
            edits.push((at, at, "livegraft_".to_string()));
            if !d.internal {
                edits.push((d.start, d.start, "static ".to_string()));
            }
        }
        _ => refused.push(format!(
            "{file}:{}: changed function `{}` is defined through a macro: its name cannot be changed in the patch",
            d.line, d.name
        )),
    }
}

/// A declaration made entirely by a macro has an empty range at the
/// macro's name (libclang gives expansion locations): where a degenerate
/// range starts with `NAME(`, the invocation ends at its closing `)`.
fn invocation_end(src: &str, start: usize) -> Option<usize> {
    let b = src.as_bytes();
    let mut i = start;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
        i += 1;
    }
    if i == start {
        return None;
    }
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    if b.get(i) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// A definition's range extended over the `;` that ends its statement.
fn extend_semicolon(src: &str, end: usize) -> usize {
    let rest = &src.as_bytes()[end.min(src.len())..];
    let ws = rest.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
    if rest.get(ws) == Some(&b';') {
        end + ws + 1
    } else {
        end
    }
}

/// What replaces deleted text: its preprocessor lines (with their
/// continuations) and as many newlines as it had, so that later lines keep
/// their numbers.
pub fn deleted(text: &str) -> String {
    let mut out = String::new();
    let mut cont = false;
    let lines: Vec<&str> = text.split('\n').collect();
    for (i, l) in lines.iter().enumerate() {
        let whole = i > 0 && i + 1 < lines.len();
        if whole && (cont || l.trim_start().starts_with('#')) {
            out.push_str(l);
            cont = l.trim_end().ends_with('\\');
        } else {
            cont = false;
        }
        if i + 1 < lines.len() {
            out.push('\n');
        }
    }
    out
}

/// Layout changes of the structs and unions defined in the file, one
/// message each.
pub fn layout_changes(file: &str, before: &[Decl], after: &[Decl]) -> Vec<String> {
    let mut out = Vec::new();
    let rec = |v: &[Decl]| -> BTreeMap<String, (u32, crate::clangast::Layout)> {
        v.iter()
            .filter(|d| d.kind == Kind::Record && d.is_def && !d.name.is_empty())
            .filter_map(|d| Some((d.ty.clone(), (d.line, d.layout.clone()?))))
            .collect()
    };
    let (b, a) = (rec(before), rec(after));
    for (ty, (line, la)) in &a {
        let Some((_, lb)) = b.get(ty) else { continue };
        if la == lb {
            continue;
        }
        let mut what = Vec::new();
        if la.size != lb.size {
            what.push(format!("size {} -> {} bytes", lb.size, la.size));
        }
        for (n, off, t) in &la.fields {
            match lb.fields.iter().find(|f| &f.0 == n) {
                None => what.push(format!("field `{n}` added")),
                Some((_, o, bt)) if o != off || bt != t => {
                    what.push(format!("field `{n}` {bt} at bit {o} -> {t} at bit {off}"))
                }
                _ => {}
            }
        }
        for (n, _, _) in &lb.fields {
            if !la.fields.iter().any(|f| &f.0 == n) {
                what.push(format!("field `{n}` removed"));
            }
        }
        out.push(format!(
            "{file}:{line}: `{ty}` changes layout ({}): the running kernel's objects keep the old layout; \
             a live patch cannot change a data structure",
            what.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clangast::Ref;

    fn decl(src: &str, kind: Kind, name: &str, text: &str, internal: bool, ty: &str) -> Decl {
        let start = src.find(text).unwrap();
        let name_at = src[start..start + text.len()].find(&format!("{name}(")).or_else(|| {
            src[start..start + text.len()].find(&format!("{name};")).or_else(|| src[start..].find(&format!("{name} ")))
        });
        Decl {
            kind,
            name: name.into(),
            usr: format!("c:{name}"),
            start,
            end: start + text.len(),
            line: src[..start].lines().count() as u32 + 1,
            name_at: name_at.map(|n| start + n),
            is_def: true,
            internal,
            inline: false,
            ty: ty.into(),
            refs: vec![],
            layout: None,
        }
    }

    #[test]
    fn cuts_down_to_the_changed_function() {
        let src = "#include <x.h>\n#define K 2\nstatic int counter;\nstatic int helper(int x) { return x * K; }\n\
                   static inline int twice(int x) { return 2 * x; }\nint fixed(int x)\n{\n\treturn helper(x) + counter + twice(x);\n}\n\
                   EXPORT_SYMBOL(fixed);\nint other(void) { return 0; }\n";
        let mut d = vec![
            decl(src, Kind::Var, "counter", "static int counter", true, "int"),
            decl(src, Kind::Func, "helper", "static int helper(int x) { return x * K; }", true, "int (int)"),
            decl(src, Kind::Func, "twice", "static inline int twice(int x) { return 2 * x; }", true, "int (int)"),
            decl(src, Kind::Func, "fixed", "int fixed(int x)\n{\n\treturn helper(x) + counter + twice(x);\n}", false, "int (int)"),
            decl(src, Kind::Unexposed, "", "EXPORT_SYMBOL(fixed)", false, ""),
            decl(src, Kind::Func, "other", "int other(void) { return 0; }", false, "int (void)"),
        ];
        d[4].start = src.find("EXPORT_SYMBOL").unwrap();
        d[4].end = d[4].start; // a declaration made wholly by a macro
        let body = src.find("\treturn helper").unwrap();
        d[3].refs = ["helper", "counter", "twice"]
            .iter()
            .map(|n| Ref { usr: format!("c:{n}"), at: Some(body + src[body..].find(n).unwrap()), name: n.to_string() })
            .collect();
        let changed: BTreeSet<String> = ["fixed".to_string()].into();
        let x = extract(src, "f.c", &d, &changed, &|n| n != "twice", &|_| false, "").unwrap();
        assert_eq!(x.copied, vec!["twice"]);
        assert_eq!(x.symbols.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["counter", "helper"]);
        let t = &x.text;
        assert!(t.starts_with("#include <x.h>\n#define K 2\n"), "{t}");
        assert!(t.contains("#define __livegraft_use_counter (*(__typeof__(int) *)__livegraft_sym_counter)"), "{t}");
        assert!(t.contains("#define __livegraft_use_helper (*(__typeof__(int (int)) *)__livegraft_sym_helper)"), "{t}");
        assert!(t.contains("static inline int twice(int x) { return 2 * x; }"), "{t}");
        assert!(t.contains("static int livegraft_fixed(int x)\n{\n\treturn __livegraft_use_helper(x) + __livegraft_use_counter + twice(x);\n}"), "{t}");
        for gone in ["static int counter;", "return x * K", "EXPORT_SYMBOL", "int other"] {
            assert!(!t.contains(gone), "{gone} in {t}");
        }
        // Removed text keeps its lines; each symbol's definition adds three.
        assert_eq!(t.lines().count(), src.lines().count() + 6, "{t}");
    }

    #[test]
    fn ranges_and_removed_text() {
        assert_eq!(invocation_end("MODULE_LICENSE(\"GPL\");", 0), Some(21));
        assert_eq!(invocation_end("X(f(a), \")\") y", 0), Some(12));
        assert_eq!(invocation_end("static int x;", 0), None);
        assert_eq!(extend_semicolon("int x ;\n", 5), 7);
        assert_eq!(deleted("int f(void)\n{\n#define A \\\n 1\n\treturn 0;\n}"), "\n\n#define A \\\n 1\n\n");
    }
}
