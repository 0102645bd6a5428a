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

/// The size class of a parameter or return type, for comparing a Rust
/// replacement's signature with the C prototype of its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// No value (`void`, or no return type).
    Void,
    /// A pointer (or reference, or function pointer).
    Ptr,
    /// An integer of 1, 2, 4 or 8 bytes (`bool` counts as 1).
    Int(u8),
}

/// The class of a C type, or `None` for a type not known here (a typedef
/// of the kernel, a struct passed by value).
pub fn c_class(t: &str) -> Option<Class> {
    let t = t.replace("const ", "").replace("volatile ", "").replace("__user", "");
    let t = t.trim();
    if t.contains('*') || t.contains('(') {
        return Some(Class::Ptr);
    }
    let words: Vec<&str> = t.split_whitespace().filter(|w| !matches!(*w, "signed" | "unsigned")).collect();
    let base = words.join(" ");
    Some(match base.as_str() {
        "void" => Class::Void,
        "" | "int" | "u32" | "s32" | "__u32" | "__s32" | "gfp_t" | "umode_t" => {
            if base.is_empty() && !t.contains("unsigned") && !t.contains("signed") {
                return None;
            }
            if base == "umode_t" {
                Class::Int(2)
            } else {
                Class::Int(4)
            }
        }
        "long" | "long int" | "long long" | "u64" | "s64" | "__u64" | "__s64" | "size_t" | "ssize_t"
        | "loff_t" | "pgoff_t" | "off_t" => Class::Int(8),
        "short" | "u16" | "s16" | "__u16" | "__s16" => Class::Int(2),
        "char" | "u8" | "s8" | "__u8" | "__s8" | "bool" | "_Bool" => Class::Int(1),
        _ => return None,
    })
}

/// The class of a Rust type, or `None` when not known here.
pub fn rust_class(t: &str) -> Option<Class> {
    let t = t.trim();
    if t.is_empty() || t == "()" {
        return Some(Class::Void);
    }
    if t.starts_with('*') || t.starts_with('&') || t.starts_with("Option<&") || t.contains("fn(") {
        return Some(Class::Ptr);
    }
    let last = t.rsplit("::").next().unwrap_or(t);
    Some(match last {
        "c_int" | "c_uint" | "i32" | "u32" => Class::Int(4),
        "c_long" | "c_ulong" | "c_longlong" | "c_ulonglong" | "i64" | "u64" | "isize" | "usize" => Class::Int(8),
        "c_short" | "c_ushort" | "i16" | "u16" => Class::Int(2),
        "c_char" | "c_schar" | "c_uchar" | "i8" | "u8" | "bool" => Class::Int(1),
        _ => return None,
    })
}

/// Splits a parameter list at its top-level commas.
fn split_params(p: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0i32);
    for c in p.chars() {
        match c {
            '(' | '<' | '[' => depth += 1,
            ')' | '>' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// A C prototype `ret name(params)`: the return type and the parameter
/// types (names dropped; `(void)` is no parameter).
pub fn parse_c_prototype(proto: &str, name: &str) -> Option<(String, Vec<String>)> {
    let at = proto.find(&format!("{name}("))?;
    let ret = proto[..at].trim().to_string();
    let inner = &proto[at + name.len() + 1..proto.rfind(')')?];
    let params = split_params(inner);
    if params.len() == 1 && params[0].trim() == "void" {
        return Some((ret, vec![]));
    }
    let types = params
        .iter()
        .map(|p| {
            let p = p.trim();
            // Drop a trailing parameter name (an identifier after a space or `*`).
            let cut = p.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
            let (ty, last) = p.split_at(cut);
            let keyword = matches!(last, "int" | "long" | "char" | "short" | "void" | "bool" | "unsigned" | "signed");
            if ty.trim().is_empty() || keyword || last.ends_with("_t") {
                p.to_string()
            } else {
                ty.trim().to_string()
            }
        })
        .collect();
    Some((ret, types))
}

/// The declaration (prototype) of the function `name` in the kernel
/// headers of `kdir`: (header relative to kdir, line, prototype text).
pub fn find_prototype(kdir: &Path, name: &str) -> Option<(String, usize, String)> {
    for dir in ["include", "arch/x86/include"] {
        if let Some(p) = proto_in_dir(&kdir.join(dir), kdir, name) {
            return Some(p);
        }
    }
    None
}

fn proto_in_dir(dir: &Path, kdir: &Path, name: &str) -> Option<(String, usize, String)> {
    let mut entries: Vec<_> = std::fs::read_dir(dir).ok()?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if let Some(r) = proto_in_dir(&p, kdir, name) {
                return Some(r);
            }
            continue;
        }
        if !p.extension().is_some_and(|e| e == "h") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&p) else { continue };
        let pat = format!("{name}(");
        let mut from = 0;
        while let Some(pos) = text[from..].find(&pat).map(|x| x + from) {
            from = pos + pat.len();
            if text[..pos].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let start = text[..pos].rfind([';', '}', '{', '\n']).map_or(0, |s| s + 1);
            // A declaration: starts a line (not a call), not a macro or a static inline.
            let line_start = text[..pos].rfind('\n').map_or(0, |s| s + 1);
            let head = &text[line_start..pos];
            if head.contains('#') || head.contains("static") || head.trim().is_empty() && start != line_start {
                continue;
            }
            if head.contains('=') || head.contains("return") || head.trim_start().starts_with('*') {
                continue;
            }
            let Some(end) = text[pos..].find([';', '{']).map(|e| e + pos) else { continue };
            if &text[end..=end] != ";" {
                continue;
            }
            let proto: String = text[line_start..end].split_whitespace().collect::<Vec<_>>().join(" ");
            if !proto.ends_with(')') || proto.starts_with("//") || proto.starts_with("/*") {
                continue;
            }
            let proto = proto.trim_start_matches("extern ").to_string();
            let rel = p.strip_prefix(kdir).unwrap_or(&p).display().to_string();
            let line = text[..pos].matches('\n').count() + 1;
            return Some((rel, line, proto));
        }
    }
    None
}

/// A Rust `fn name(params) -> ret` of `src`: its parameter types and return
/// type, and the line of `fn`.
pub fn rust_signature(src: &str, name: &str) -> Option<(usize, Vec<String>, String)> {
    let pat = format!("fn {name}(");
    let at = src.find(&pat)?;
    let open = at + pat.len();
    let mut depth = 1i32;
    let mut close = None;
    for (i, c) in src[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close?;
    let params = split_params(&src[open..close])
        .into_iter()
        .filter_map(|p| p.split_once(':').map(|(_, t)| t.trim().to_string()))
        .collect();
    let rest = &src[close + 1..];
    let body = rest.find('{').unwrap_or(rest.len());
    let ret = rest[..body].trim().strip_prefix("->").map_or(String::new(), |r| r.trim().to_string());
    let line = src[..at].matches('\n').count() + 1;
    Some((line, params, ret))
}

/// Differences between a Rust replacement's signature and the C prototype
/// of its target, in words; empty when they agree as far as known.
pub fn signature_mismatch(rust: &(usize, Vec<String>, String), c: &(String, Vec<String>)) -> Vec<String> {
    let mut out = Vec::new();
    if rust.1.len() != c.1.len() {
        out.push(format!("it takes {} parameter(s), the target {}", rust.1.len(), c.1.len()));
        return out;
    }
    for (i, (r, ct)) in rust.1.iter().zip(&c.1).enumerate() {
        if let (Some(a), Some(b)) = (rust_class(r), c_class(ct)) {
            if a != b {
                out.push(format!("parameter {} is `{r}`, the target's is `{ct}`", i + 1));
            }
        }
    }
    if let (Some(a), Some(b)) = (rust_class(&rust.2), c_class(&c.0.replace("extern", ""))) {
        if a != b {
            let r = if rust.2.is_empty() { "nothing".to_string() } else { format!("`{}`", rust.2) };
            out.push(format!("it returns {r}, the target `{}`", c.0));
        }
    }
    out
}

#[cfg(test)]
mod sig_tests {
    use super::*;

    #[test]
    fn prototypes_and_signatures() {
        let (ret, ps) = parse_c_prototype("int lg_target_fix(int x)", "lg_target_fix").unwrap();
        assert_eq!((ret.as_str(), ps.clone()), ("int", vec!["int".to_string()]));
        let (_, ps) = parse_c_prototype("void seq_write(struct seq_file *seq, const void *data, size_t len)", "seq_write").unwrap();
        assert_eq!(ps, vec!["struct seq_file *", "const void *", "size_t"]);
        let r = rust_signature("pub extern \"C\" fn f(x: c_long, p: *mut c_void) -> c_int {", "f").unwrap();
        assert_eq!(r.1, vec!["c_long", "*mut c_void"]);
        let m = signature_mismatch(&r, &("int".into(), vec!["int".into(), "void *".into()]));
        assert_eq!(m, vec!["parameter 1 is `c_long`, the target's is `int`"]);
        let m = signature_mismatch(&r, &("void".into(), vec!["long".into(), "void *".into()]));
        assert_eq!(m, vec!["it returns `c_int`, the target `void`"]);
        assert!(signature_mismatch(&r, &("int".into(), vec!["long".into()]))[0].contains("2 parameter(s), the target 1"));
    }
}
