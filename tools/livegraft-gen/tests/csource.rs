//! C sources (`source = "fix.c"`) and `[[symbol]]` declarations: validation
//! reports every problem at once with file and line; generation maps the
//! copied C source back to the user's file and lines.

mod common;

use common::*;
use livegraft_gen::generate::{c_source_copy, render};
use livegraft_gen::validate::Lang;

fn c_dir(manifest: &str, source: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("patch.toml"), manifest).unwrap();
    std::fs::write(d.path().join("fix.c"), source).unwrap();
    d
}

#[test]
fn sample_target_static_c_is_valid() {
    let (plan, diags) = check_in(&repo().join("samples/target_static_c"), &Env::default());
    let plan = plan.unwrap_or_else(|| panic!("{diags:#?}"));
    assert_eq!(plan.lang, Lang::C);
    assert_eq!(plan.symbols.len(), 2);
    assert_eq!(plan.symbols[0].ty, "int (int)");
    let files = render(&plan, "samples/target_static_c/patch.toml");
    let main = &files.iter().find(|(n, _)| n == "livegraft_static_c.c").unwrap().1;
    assert!(main.contains("LIVEGRAFT_SYMBOL(int (int), lg_target_scale);"), "{main}");
    assert!(main.contains("LIVEGRAFT_SYMBOL_ENTRY(\"lg_target\", lg_target_factor, 0),"), "{main}");
    assert!(main.contains("livegraft_resolve_symbols(THIS_MODULE, __livegraft_symbols)"), "{main}");
    assert!(main.contains(".new_func = (void *)fixed_lg_target_fix"), "{main}");
    assert!(files.iter().any(|(n, _)| n == "livegraft_symbols.h"));
}

#[test]
fn sample_target_static_rs_gets_typed_accessors() {
    let (plan, diags) = check_in(&repo().join("samples/target_static_rs"), &Env::default());
    let plan = plan.unwrap_or_else(|| panic!("{diags:#?}"));
    let files = render(&plan, "m");
    let root = &files[1].1;
    assert!(root.contains("pub(crate) fn lg_target_scale() -> unsafe extern \"C\" fn(c_int) -> c_int"), "{root}");
    assert!(root.contains("pub(crate) fn lg_target_factor() -> &'static core::sync::atomic::AtomicI32"), "{root}");
    assert!(root.contains("symbols::resolve(module.as_ptr())?;"), "{root}");
    assert!(root.contains("#[link_section = \".data..ro_after_init\"]"), "{root}");
}

#[test]
fn c_copy_keeps_the_users_line_numbers() {
    let src = "// SPDX-License-Identifier: GPL-2.0\nint a;\nint b;\n";
    let copy = c_source_copy(src, "p/fix.c", "G");
    let lines: Vec<&str> = copy.lines().collect();
    assert_eq!(lines[0], "// SPDX-License-Identifier: GPL-2.0");
    assert_eq!(lines[1], "/* G */ #line 2 \"p/fix.c\"");
    // The line after the directive is line 2 of p/fix.c.
    assert_eq!(lines[2], "int a;");
    let no_spdx = c_source_copy("int a;\n", "q.c", "G");
    assert_eq!(no_spdx.lines().nth(1).unwrap(), "/* G */ #line 1 \"q.c\"");
    assert_eq!(no_spdx.lines().nth(2).unwrap(), "int a;");
}

#[test]
fn c_and_symbol_errors_all_at_once() {
    let m = r#"[patch]
name = "cfix"
description = "d"
source = "fix.c"

[[function]]
target = "cmdline_proc_show"
replacement = "not_there"

[[function]]
target = "untraced_fn"
replacement = "new_mixed"
original = "orig_mixed"

[[symbol]]
name = "type_show"
type = "int (void)"

[[symbol]]
name = "cmdline_proc_show"

[[symbol]]
name = "nowhere_sym"
type = "int"

[[symbol]]
name = "type_show"
sympos = 2
type = "int (void)"

[[symbol]]
name = "some_data"
typo = 1
type = "long"
"#;
    let src = "// SPDX-License-Identifier: GPL-2.0\nstatic int new_mixed(void)\n{\n\treturn 0;\n}\nint orig_mixed(void) { return 1; }\n";
    let d = c_dir(m, src);
    let (plan, diags) = check_in(d.path(), &Env::with_map());
    assert!(plan.is_none());
    let e = errors(&diags);
    let has = |line: usize, what: &str| {
        assert!(
            e.iter().any(|d| d.line == Some(line) && d.message.contains(what)),
            "no error at line {line} with {what:?}: {e:#?}"
        )
    };
    has(8, "replacement `not_there` is not defined in");
    has(13, "original `orig_mixed` is defined in");
    has(15, "ambiguous: 3 symbols named type_show; set sympos");
    has(19, "`type` is missing");
    has(22, "`nowhere_sym` is not in");
    has(26, "`type_show` is already declared by [[symbol]] #1");
    has(33, "unknown key `typo`");
    assert_eq!(e.len(), 7, "{e:#?}");
}

#[test]
fn source_extension_must_be_rs_or_c() {
    let m = "[patch]\nname = \"x\"\ndescription = \"d\"\nsource = \"fix.cpp\"\n\n[[function]]\ntarget = \"t\"\nreplacement = \"r\"\n";
    let d = c_dir(m, "");
    let (_, diags) = check_in(d.path(), &Env::default());
    let e = errors(&diags);
    assert!(
        e.iter().any(|d| d.line == Some(4) && d.message.contains("neither Rust (.rs) nor C (.c)")),
        "{e:#?}"
    );
}

#[test]
fn c_replacements_are_checked_against_the_targets_declaration() {
    let (plan, diags) = check_in(&repo().join("samples/target_static_c"), &Env::default());
    let plan = plan.unwrap_or_else(|| panic!("{diags:#?}"));
    let files = render(&plan, "m");
    let main = &files.iter().find(|(n, _)| n == "livegraft_static_c.c").unwrap().1;
    // After the source: a redeclaration of the target with the replacement's
    // type, which the compiler refuses if a header declares it differently.
    let inc = main.find("#include \"replacements.c\"").unwrap();
    let decl = main
        .find("extern __typeof__(fixed_lg_target_fix) lg_target_fix;")
        .unwrap_or_else(|| panic!("{main}"));
    assert!(decl > inc, "{main}");
}
