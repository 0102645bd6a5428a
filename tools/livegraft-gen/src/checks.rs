//! Checks of what the replacements use and of what can be traced, against
//! the target kernel's files: its exports (`Module.symvers`), its headers
//! (static inlines, which have no symbol), the ftrace call sites of a
//! module (`__mcount_loc` of its `.ko`) or of a kernel without a build tree
//! (a copy of `available_filter_functions`), and modpost's verdict on a C
//! source's undefined symbols.

use std::collections::HashSet;
use std::path::Path;

use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SymbolKind};

/// The exported symbols listed by a `Module.symvers` (`CRC\tNAME\tMODULE\tEXPORT\tNS`).
pub fn parse_symvers(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| l.split('\t').nth(1))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

/// The functions `available_filter_functions` lists: `name` or
/// `name [module]` per line (any other text after the name is ignored).
pub fn parse_filter_functions(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The names of the functions of a module `.ko` that have an ftrace call
/// site: an entry of its `__mcount_loc` (relocated against the function's
/// section) at the function's start or just past a 4-byte `ENDBR64`.
/// `Ok(None)` when the module has no `__mcount_loc` (built without ftrace).
pub fn module_traced_functions(elf: &[u8]) -> Result<Option<HashSet<String>>, String> {
    let file = object::File::parse(elf).map_err(|e| format!("not an ELF file: {e}"))?;
    let Some(sec) = file.section_by_name("__mcount_loc") else {
        return Ok(None);
    };
    // (section index, offset in it) of every call site.
    let mut sites: HashSet<(usize, u64)> = HashSet::new();
    for (_, rel) in sec.relocations() {
        let RelocationTarget::Symbol(idx) = rel.target() else { continue };
        let Ok(sym) = file.symbol_by_index(idx) else { continue };
        let Some(s) = sym.section_index() else { continue };
        let at = sym.address().wrapping_add(rel.addend() as u64);
        sites.insert((s.0, at));
    }
    let mut traced = HashSet::new();
    for sym in file.symbols() {
        if sym.kind() != SymbolKind::Text || !sym.is_definition() {
            continue;
        }
        let (Ok(name), Some(s)) = (sym.name(), sym.section_index()) else { continue };
        let a = sym.address();
        if sites.contains(&(s.0, a)) || sites.contains(&(s.0, a.wrapping_add(4))) {
            traced.insert(name.to_string());
        }
    }
    Ok(Some(traced))
}

/// Where a `static inline` function `name` is defined in the kernel
/// headers of `kdir` (`include/`, `arch/x86/include/`), and which of the
/// functions its body calls are exported: a hint for a target or a
/// referenced symbol that has no symbol of its own.
pub fn static_inline_hint(kdir: &Path, name: &str, exports: &HashSet<String>) -> Option<String> {
    for dir in ["include", "arch/x86/include"] {
        if let Some(h) = search_dir(&kdir.join(dir), kdir, name, exports) {
            return Some(h);
        }
    }
    None
}

fn search_dir(dir: &Path, kdir: &Path, name: &str, exports: &HashSet<String>) -> Option<String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if let Some(h) = search_dir(&p, kdir, name, exports) {
                return Some(h);
            }
        } else if p.extension().is_some_and(|e| e == "h") {
            let Ok(text) = std::fs::read_to_string(&p) else { continue };
            if !text.contains(name) {
                continue;
            }
            if let Some((line, calls)) = inline_definition(&text, name) {
                let rel = p.strip_prefix(kdir).unwrap_or(&p).display().to_string();
                let exported: Vec<&String> = calls.iter().filter(|c| exports.contains(*c)).collect();
                let what = if exported.is_empty() {
                    "it calls no exported function".to_string()
                } else {
                    format!(
                        "use what it calls that is exported instead: {}",
                        exported.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
                    )
                };
                return Some(format!(
                    "`{name}` is a static inline function ({rel}:{line}): it has no symbol of its own, \
                     it is compiled into each caller; {what}"
                ));
            }
        }
    }
    None
}

/// The line of the `static inline` definition of `name` in a header's
/// text, and the identifiers called in its body (in order, once each).
pub fn inline_definition(text: &str, name: &str) -> Option<(usize, Vec<String>)> {
    let mut from = 0;
    while let Some(pos) = text[from..].find(name).map(|p| p + from) {
        from = pos + name.len();
        let before = text[..pos].chars().next_back();
        let after = text[from..].trim_start();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') || !after.starts_with('(') {
            continue;
        }
        // The declaration starts after the previous `;`, `}` or line of a directive.
        let start = text[..pos].rfind([';', '}', '#']).map_or(0, |s| s + 1);
        let decl = &text[start..pos];
        if !decl.contains("static") || !decl.contains("inline") {
            continue;
        }
        // Past the parameter list: the body must follow.
        let params_at = text.len() - after.len();
        let mut depth = 0usize;
        let mut end = None;
        for (i, c) in text[params_at..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(params_at + i + 1);
                        break;
                    }
                }
                _ => {}
            }
        }
        let body_start = end?;
        let rest = text[body_start..].trim_start();
        if !rest.starts_with('{') {
            continue;
        }
        let body_at = text.len() - rest.len();
        let mut depth = 0usize;
        let mut body_end = text.len();
        for (i, c) in text[body_at..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        body_end = body_at + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let body = &text[body_at..body_end];
        let mut calls: Vec<String> = Vec::new();
        let b = body.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i].is_ascii_alphabetic() || b[i] == b'_' {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let ident = &body[s..i];
                let keyword = matches!(ident, "if" | "while" | "for" | "switch" | "return" | "sizeof");
                if !keyword && body[i..].trim_start().starts_with('(') && !calls.iter().any(|c| c == ident) {
                    calls.push(ident.to_string());
                }
            } else {
                i += 1;
            }
        }
        let line = text[..pos].matches('\n').count() + 1;
        return Some((line, calls));
    }
    None
}

/// The symbols modpost found undefined (`ERROR: modpost: "NAME" [...] undefined!`).
pub fn modpost_undefined(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains("modpost: \"") && l.trim_end().ends_with("undefined!"))
        .filter_map(|l| l.split('"').nth(1))
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_inline_of_seq_file() {
        let h = "void __seq_puts(struct seq_file *m, const char *s);\n\n\
                 static __always_inline void seq_puts(struct seq_file *m, const char *s)\n{\n\
                 \tif (!__builtin_constant_p(*s))\n\t\t__seq_puts(m, s);\n\telse\n\t\tseq_write(m, s, __builtin_strlen(s));\n}\n";
        let (line, calls) = inline_definition(h, "seq_puts").unwrap();
        assert_eq!(line, 3);
        assert_eq!(calls, vec!["__builtin_constant_p", "__seq_puts", "seq_write", "__builtin_strlen"]);
        assert!(inline_definition(h, "__seq_puts").is_none());
    }

    #[test]
    fn symvers_and_filters() {
        let s = parse_symvers("0x00000000\tseq_write\tvmlinux\tEXPORT_SYMBOL\t\n0x1\tlg_target_a\tx/lg_target\tEXPORT_SYMBOL_GPL\t\n");
        assert!(s.contains("seq_write") && s.contains("lg_target_a") && s.len() == 2);
        let f = parse_filter_functions("cmdline_proc_show\nlg_target_a [lg_target]\n");
        assert!(f.contains("cmdline_proc_show") && f.contains("lg_target_a"));
        let u = modpost_undefined("ERROR: modpost: \"lg_target_scale\" [/o/p.ko] undefined!\nWARNING: x\n");
        assert_eq!(u, vec!["lg_target_scale"]);
    }
}
