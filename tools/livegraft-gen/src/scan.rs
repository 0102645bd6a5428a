//! A small, robust scanner that finds the function definitions of the
//! replacement source: enough of a Rust lexer to skip comments, string and
//! character literals and lifetimes, and to know the brace depth and whether
//! a block is an `extern` block (whose `fn`s are imports, not definitions).
//! It is not a parser: it only looks at the tokens before each `fn`.

/// The visibility of a function, as far as the generated crate root cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// No `pub`: the crate root cannot name it.
    Private,
    /// `pub`, `pub(crate)`, `pub(super)`, `pub(in crate)`: the crate root can name it.
    Visible(String),
    /// `pub(self)` or `pub(in <path>)`: private in practice.
    Restricted(String),
}

/// One `fn` item found in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FnDef {
    /// Its name.
    pub name: String,
    /// The ABI string of `extern "ABI"` (`"C"` for a bare `extern`), or `None`.
    pub abi: Option<String>,
    /// Its visibility.
    pub vis: Visibility,
    /// Brace depth: 0 for a top-level item of the file.
    pub depth: usize,
    /// 1-based line of the `fn` keyword.
    pub line: usize,
}

impl FnDef {
    /// Whether the generated crate root can use it as a replacement:
    /// a top-level, visible `extern "C" fn`.
    pub fn is_usable(&self) -> bool {
        self.depth == 0
            && self.abi.as_deref() == Some("C")
            && matches!(self.vis, Visibility::Visible(_))
    }

    /// Whether the generated crate root can use it as an `original`: a
    /// visible declaration in a top-level `extern` block.
    pub fn is_usable_original(&self) -> bool {
        self.depth == 1 && matches!(self.vis, Visibility::Visible(_))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Str(String),
    Punct(char),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
    depth: usize,
    /// Inside an `extern { ... }` block (at any depth).
    in_foreign: bool,
}

/// Every `fn` definition of `src` (declarations in `extern` blocks excluded).
pub fn functions(src: &str) -> Vec<FnDef> {
    fn_items(src, false)
}

/// Every `fn` declaration in an `extern` block of `src` (its `abi` is that
/// of the `fn` item itself: `None`).
pub fn foreign_functions(src: &str) -> Vec<FnDef> {
    fn_items(src, true)
}

fn fn_items(src: &str, foreign: bool) -> Vec<FnDef> {
    let toks = tokenize(src);
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t.tok != Tok::Ident("fn".into()) || t.in_foreign != foreign {
            continue;
        }
        let Some(Token {
            tok: Tok::Ident(name),
            ..
        }) = toks.get(i + 1)
        else {
            continue;
        };
        // Walk back over the qualifiers: [vis] [const] [async] [unsafe] [extern ["ABI"]] fn
        let mut j = i;
        let prev = |j: usize| if j == 0 { None } else { Some(&toks[j - 1].tok) };
        let mut abi = None;
        if let Some(Tok::Str(s)) = prev(j) {
            if j >= 2 && toks[j - 2].tok == Tok::Ident("extern".into()) {
                abi = Some(s.clone());
                j -= 2;
            }
        } else if prev(j) == Some(&Tok::Ident("extern".into())) {
            abi = Some("C".to_string());
            j -= 1;
        }
        while let Some(Tok::Ident(q)) = prev(j) {
            if matches!(
                q.as_str(),
                "unsafe" | "const" | "async" | "safe" | "default"
            ) {
                j -= 1;
            } else {
                break;
            }
        }
        let vis = match prev(j) {
            Some(Tok::Ident(p)) if p == "pub" => Visibility::Visible("pub".into()),
            Some(Tok::Punct(')')) => {
                // pub( ... ): find the matching '(' and check `pub` precedes it.
                let mut k = j - 1;
                let mut inner = Vec::new();
                while k > 0 && toks[k - 1].tok != Tok::Punct('(') {
                    k -= 1;
                    if let Tok::Ident(s) = &toks[k].tok {
                        inner.push(s.clone());
                    } else if let Tok::Punct(c) = toks[k].tok {
                        inner.push(c.to_string());
                    }
                }
                inner.reverse();
                let inner = match inner.split_first() {
                    Some((first, rest)) if first == "in" => format!("in {}", rest.concat()),
                    _ => inner.concat(),
                };
                if k >= 2 && toks[k - 2].tok == Tok::Ident("pub".into()) {
                    match inner.as_str() {
                        "crate" | "super" | "in crate" | "in super" => {
                            Visibility::Visible(format!("pub({inner})"))
                        }
                        _ => Visibility::Restricted(format!("pub({inner})")),
                    }
                } else {
                    Visibility::Private
                }
            }
            _ => Visibility::Private,
        };
        out.push(FnDef {
            name: name.clone(),
            abi,
            vis,
            depth: t.depth,
            line: t.line,
        });
    }
    out
}

/// Splits `src` into identifiers, string literals and punctuation, dropping
/// comments, numbers, character literals and lifetimes.
fn tokenize(src: &str) -> Vec<Token> {
    let c: Vec<char> = src.chars().collect();
    let mut toks: Vec<Token> = Vec::new();
    let mut i = 0;
    let mut line = 1;
    // One entry per open brace: whether it opened an `extern` block.
    let mut blocks: Vec<bool> = Vec::new();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        let push = |toks: &mut Vec<Token>, tok: Tok, line: usize, blocks: &Vec<bool>| {
            toks.push(Token {
                tok,
                line,
                depth: blocks.len(),
                in_foreign: blocks.iter().any(|&f| f),
            })
        };
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut nest = 0usize;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    nest += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    nest -= 1;
                    i += 2;
                    if nest == 0 {
                        break;
                    }
                } else {
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if ch == '"' {
            let start_line = line;
            let (s, next) = string_lit(&c, i + 1, &mut line);
            i = next;
            push(&mut toks, Tok::Str(s), start_line, &blocks);
        } else if ch == '\'' {
            // Char literal or lifetime.
            if at(i + 1) == '\\' {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
            if raw_prefix && (at(i) == '"' || (at(i) == '#' && matches!(at(i + 1), '"' | '#'))) {
                // Raw string: r#*"..."#*
                let mut hashes = 0;
                while at(i) == '#' {
                    hashes += 1;
                    i += 1;
                }
                i += 1; // opening quote
                let start_line = line;
                let body_start = i;
                loop {
                    if i >= c.len() {
                        break;
                    }
                    if c[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                        break;
                    }
                    if c[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
                let s: String = c[body_start..i.min(c.len())].iter().collect();
                i += 1 + hashes;
                push(&mut toks, Tok::Str(s), start_line, &blocks);
            } else if word == "r" && at(i) == '#' && (at(i + 1).is_alphabetic() || at(i + 1) == '_')
            {
                // Raw identifier r#name.
                let s = i + 1;
                i += 1;
                while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                    i += 1;
                }
                push(
                    &mut toks,
                    Tok::Ident(c[s..i].iter().collect()),
                    line,
                    &blocks,
                );
            } else if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                let start_line = line;
                let (s, next) = string_lit(&c, i + 1, &mut line);
                i = next;
                push(&mut toks, Tok::Str(s), start_line, &blocks);
            } else if word == "b" && at(i) == '\'' {
                // Byte literal b'x' / b'\n'.
                i += 1;
                if at(i + 1) == '\\' {
                    i += 2;
                }
                while i + 1 < c.len() && c[i + 1] != '\'' {
                    i += 1;
                }
                i += 2;
            } else {
                push(&mut toks, Tok::Ident(word), line, &blocks);
            }
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch == '{' {
            let n = toks.len();
            let foreign = (n >= 1 && toks[n - 1].tok == Tok::Ident("extern".into()))
                || (n >= 2
                    && matches!(toks[n - 1].tok, Tok::Str(_))
                    && toks[n - 2].tok == Tok::Ident("extern".into()));
            push(&mut toks, Tok::Punct('{'), line, &blocks);
            blocks.push(foreign);
            i += 1;
        } else if ch == '}' {
            blocks.pop();
            push(&mut toks, Tok::Punct('}'), line, &blocks);
            i += 1;
        } else {
            push(&mut toks, Tok::Punct(ch), line, &blocks);
            i += 1;
        }
    }
    toks
}

/// Reads a (non-raw) string literal whose body starts at `i`; returns its
/// body and the index after the closing quote.
fn string_lit(c: &[char], mut i: usize, line: &mut usize) -> (String, usize) {
    let mut s = String::new();
    while i < c.len() && c[i] != '"' {
        if c[i] == '\\' && i + 1 < c.len() {
            s.push(c[i]);
            i += 1;
        }
        if c[i] == '\n' {
            *line += 1;
        }
        s.push(c[i]);
        i += 1;
    }
    (s, i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<(String, bool)> {
        functions(src)
            .into_iter()
            .map(|f| (f.name.clone(), f.is_usable()))
            .collect()
    }

    #[test]
    fn qualifiers() {
        let src = r#"
            #[no_mangle]
            pub extern "C" fn a() {}
            pub(crate) extern "C" fn b() {}
            pub unsafe extern "C" fn c() {}
            #[no_mangle] pub(crate) unsafe extern "C" fn d(x: i32) -> i32 { x }
            pub(super) extern fn e() {}
            extern "C" fn private() {}
            pub fn rust_abi() {}
            pub extern "Rust" fn other_abi() {}
            pub(self) extern "C" fn selfish() {}
        "#;
        assert_eq!(
            names(src),
            vec![
                ("a".into(), true),
                ("b".into(), true),
                ("c".into(), true),
                ("d".into(), true),
                ("e".into(), true),
                ("private".into(), false),
                ("rust_abi".into(), false),
                ("other_abi".into(), false),
                ("selfish".into(), false),
            ]
        );
        let f = functions(src);
        assert_eq!(f[5].vis, Visibility::Private);
        assert_eq!(f[8].vis, Visibility::Restricted("pub(self)".into()));
        assert_eq!(f[1].vis, Visibility::Visible("pub(crate)".into()));
        assert_eq!(f[0].line, 3);
    }

    #[test]
    fn comments_strings_and_chars_are_skipped() {
        let src = r##"
            // pub extern "C" fn in_line_comment() {}
            /// pub extern "C" fn in_doc_comment() {}
            /* pub extern "C" fn in_block() {} /* nested */ pub extern "C" fn still_in_block() {} */
            const S: &str = "pub extern \"C\" fn in_string() {}";
            const R: &str = r#"pub extern "C" fn in_raw_string() {}"#;
            const Q: char = '"';
            const B: u8 = b'{';
            fn lifetimes<'a>(x: &'a str) -> &'a str { x }
            pub extern "C" fn real() {} // pub extern "C" fn trailing() {}
        "##;
        assert_eq!(
            names(src),
            vec![("lifetimes".into(), false), ("real".into(), true)]
        );
        assert_eq!(functions(src)[1].line, 10);
    }

    #[test]
    fn nesting_and_extern_blocks() {
        let src = r#"
            extern "C" {
                fn seq_write(m: *mut c_void) -> c_int;
                pub fn imported();
            }
            mod inner {
                pub extern "C" fn nested() {}
            }
            impl X { pub extern "C" fn method() {} }
            pub extern "C" fn top() { let _ = '{'; }
            pub extern "C" fn after() {}
        "#;
        let f = functions(src);
        let n: Vec<_> = f.iter().map(|f| (f.name.as_str(), f.depth)).collect();
        assert_eq!(
            n,
            vec![("nested", 1), ("method", 1), ("top", 0), ("after", 0)]
        );
        assert!(!f[0].is_usable());
        assert!(f[3].is_usable());
        let d = foreign_functions(src);
        let n: Vec<_> = d.iter().map(|f| (f.name.as_str(), f.depth)).collect();
        assert_eq!(n, vec![("seq_write", 1), ("imported", 1)]);
        assert!(!d[0].is_usable_original());
        assert!(d[1].is_usable_original());
    }
}

/// One function definition at file scope of a C source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CFnDef {
    /// Its name.
    pub name: String,
    /// 1-based line of its name.
    pub line: usize,
    /// Its declaration (return type, name, parameters), whitespace squeezed.
    pub decl: String,
    /// Whether it is `static`.
    pub is_static: bool,
    /// Byte range of the whole definition, declaration to closing brace.
    pub span: (usize, usize),
    /// Byte offset of its name.
    pub name_at: usize,
}

/// Every function definition at file scope of the C source `src`: an
/// identifier followed by a parenthesised list and a `{` at brace depth 0.
/// Comments, string and character literals and preprocessor lines are
/// skipped (not expanded): a definition made by a macro is not seen.
pub fn c_functions(src: &str) -> Vec<CFnDef> {
    // Tokens: (text, line); punctuation one character each.
    let mut toks: Vec<(String, usize, usize)> = Vec::new();
    let b = src.as_bytes();
    let (mut i, mut line, mut at_line_start) = (0usize, 1usize, true);
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            at_line_start = true;
            i += 1;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' && at_line_start {
            // A preprocessor line, with its continuations: a boundary.
            while i < b.len() && b[i] != b'\n' {
                if b[i] == b'\\' && b.get(i + 1) == Some(&b'\n') {
                    line += 1;
                    i += 1;
                }
                i += 1;
            }
            toks.push((";".into(), line, i));
            continue;
        }
        at_line_start = false;
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                if b[i] == b'\n' {
                    line += 1;
                }
                i += 1;
            }
            i += 2;
            continue;
        }
        if c == b'"' || c == b'\'' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == b'\\' {
                    i += 1;
                }
                if b.get(i) == Some(&b'\n') {
                    line += 1;
                }
                i += 1;
            }
            i += 1;
            toks.push(("\"\"".into(), line, start));
            continue;
        }
        if c.is_ascii_alphanumeric() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            toks.push((src[start..i].to_string(), line, start));
            continue;
        }
        toks.push(((c as char).to_string(), line, i));
        i += 1;
    }
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut decl_start = 0usize;
    let mut k = 0usize;
    while k < toks.len() {
        let t = toks[k].0.as_str();
        match t {
            "{" => {
                depth += 1;
            }
            "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    decl_start = k + 1;
                }
            }
            ";" if depth == 0 => decl_start = k + 1,
            "(" if depth == 0 && k > 0 => {
                let (name, name_line) = (&toks[k - 1].0, toks[k - 1].1);
                let is_ident = name
                    .bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_');
                // The matching ')'.
                let mut d = 0usize;
                let mut m = k;
                while m < toks.len() {
                    match toks[m].0.as_str() {
                        "(" => d += 1,
                        ")" => {
                            d -= 1;
                            if d == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    m += 1;
                }
                let next = toks.get(m + 1).map(|t| t.0.as_str());
                let keyword = matches!(
                    name.as_str(),
                    "if" | "while" | "for" | "switch" | "return" | "sizeof" | "__attribute__"
                        | "typeof" | "__typeof__"
                );
                if is_ident && !keyword && next == Some("{") {
                    let words: Vec<&str> =
                        toks[decl_start..=m].iter().map(|t| t.0.as_str()).collect();
                    let mut decl = String::new();
                    for w in &words {
                        let word = w.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
                        if word && decl.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                            decl.push(' ');
                        }
                        decl.push_str(w);
                        if *w == "," {
                            decl.push(' ');
                        }
                    }
                    // The body: from the `{` to its matching `}`.
                    let mut d = 0usize;
                    let mut e = m + 1;
                    while e < toks.len() {
                        match toks[e].0.as_str() {
                            "{" => d += 1,
                            "}" => {
                                d -= 1;
                                if d == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        e += 1;
                    }
                    let start = toks.get(decl_start).map_or(toks[k - 1].2, |t| t.2);
                    let end = toks.get(e).map_or(src.len(), |t| t.2 + 1);
                    out.push(CFnDef {
                        name: name.clone(),
                        line: name_line,
                        decl,
                        is_static: words[..words.len().saturating_sub(1)].contains(&"static"),
                        span: (start, end),
                        name_at: toks[k - 1].2,
                    });
                    k = m;
                }
            }
            _ => {}
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod c_tests {
    use super::*;

    #[test]
    fn c_definitions() {
        let src = "// x\n#include <a.h>\n#define F(x) { x }\nstatic int a;\n/* int no(void) { } */\n\
                   static noinline int new_fix(int x,\n\tchar *s)\n{\n\tif (x) { return f(\"{\"); }\n\treturn 0;\n}\n\
                   int (*fp)(int) = 0;\nvoid g(void);\nvoid h(void) { }\n";
        let f = c_functions(src);
        let names: Vec<_> = f.iter().map(|d| (d.name.as_str(), d.line, d.is_static)).collect();
        assert_eq!(names, vec![("new_fix", 6, true), ("h", 14, false)]);
        assert_eq!(f[0].decl, "static noinline int new_fix(int x, char*s)");
        let (a, b) = f[0].span;
        assert!(src[a..b].starts_with("static noinline int new_fix(") && src[a..b].ends_with("return 0;\n}"));
        assert_eq!(&src[f[0].name_at..f[0].name_at + 7], "new_fix");
    }
}
