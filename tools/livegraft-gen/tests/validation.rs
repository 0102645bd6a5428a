//! Parsing and validation of patch directories: the good sample, and every
//! class of error, each located (file, line, entry) and with a help line.

mod common;

use common::*;
use livegraft_gen::validate::Mcount;

#[test]
fn sample_cmdline_is_valid() {
    let (plan, diags) = check_in(&repo().join("samples/cmdline"), &Env::with_map());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let plan = plan.unwrap();
    assert_eq!(plan.name, "livegraft_cmdline");
    assert_eq!(
        plan.description,
        "cat /proc/cmdline prints a patched message"
    );
    assert_eq!(plan.objects.len(), 1);
    assert_eq!(plan.objects[0].name, "vmlinux");
    let f = &plan.objects[0].funcs[0];
    assert_eq!(
        (f.target.as_str(), f.sympos, f.replacement.as_str()),
        ("cmdline_proc_show", 0, "livegraft_cmdline_proc_show")
    );
    assert!(plan.source_text.contains("fn livegraft_cmdline_proc_show"));
    // System.map given, no vmlinux: the traceability check is skipped, with a warning.
    assert!(
        diags
            .iter()
            .any(|d| !d.is_error() && d.message.contains("traceability of the vmlinux targets not checked")),
        "{diags:#?}"
    );
}

#[test]
fn defaults_and_grouping_by_object() {
    let m = r#"
[patch]
name = "multi"
description = "two objects"
source = "src/fixes.rs"

[[function]]
target = "a"
replacement = "new_a"

[[function]]
target = "b"
object = "lg_target"
sympos = 1
replacement = "new_b"

[[function]]
target = "c"
object = "vmlinux"
replacement = "new_c"
"#;
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("patch.toml"), m).unwrap();
    std::fs::create_dir(d.path().join("src")).unwrap();
    std::fs::write(
        d.path().join("src/fixes.rs"),
        source_with(&["new_a", "new_b", "new_c"]),
    )
    .unwrap();
    let (plan, diags) = check_in(d.path(), &Env::default());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let plan = plan.unwrap();
    let objs: Vec<(&str, Vec<&str>)> = plan
        .objects
        .iter()
        .map(|o| {
            (
                o.name.as_str(),
                o.funcs.iter().map(|f| f.target.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        objs,
        vec![("vmlinux", vec!["a", "c"]), ("lg_target", vec!["b"])]
    );
    assert_eq!(plan.objects[1].funcs[0].sympos, 1);
    // Nothing could be checked against a kernel: warnings say so, for vmlinux and the module.
    let warnings: Vec<_> = diags
        .iter()
        .filter(|d| !d.is_error())
        .map(|d| d.message.clone())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("checked at load time") && w.contains("a, c")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("module `lg_target`")),
        "{warnings:?}"
    );
}

#[test]
fn missing_name() {
    let (plan, diags) = check(
        "[patch]\ndescription = \"d\"\n[[function]]\ntarget = \"t\"\nreplacement = \"r\"\n",
        &source_with(&["r"]),
        &Env::default(),
    );
    assert!(plan.is_none());
    let e = one_error(&diags, "`name` is missing");
    assert_eq!(e.entry, "[patch]");
    assert_eq!(e.line, Some(1));
}

#[test]
fn missing_patch_table_and_functions() {
    let (_, diags) = check("", "", &Env::default());
    let e = errors(&diags);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].message.contains("`[patch]` table is missing"));
    assert!(e[1].message.contains("replaces no function"));
    e.iter().for_each(|d| assert_well_formed(d));
}

#[test]
fn bad_identifiers() {
    let m = r#"
[patch]
name = "my-patch"
description = "d"

[[function]]
target = "not a symbol"
replacement = "fn"

[[function]]
target = "ok_target"
object = "snd-hda-intel"
replacement = "1st"
"#;
    let (plan, diags) = check(m, "", &Env::default());
    assert!(plan.is_none());
    let e = errors(&diags);
    let msgs: Vec<&str> = e.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        msgs,
        vec![
            "name `my-patch` is not a valid identifier",
            "target `not a symbol` is not a valid C identifier",
            "replacement `fn` is not a valid Rust identifier",
            "object `snd-hda-intel` is not a valid module name",
            "replacement `1st` is not a valid Rust identifier",
        ]
    );
    assert_eq!(e[0].line, Some(3));
    assert_eq!(e[1].entry, "[[function]] #1 (not a symbol)");
    assert_eq!(e[3].entry, "[[function]] #2 (ok_target)");
    assert!(e[3]
        .help
        .as_ref()
        .unwrap()
        .contains("object = \"snd_hda_intel\""));
    e.iter().for_each(|d| assert_well_formed(d));
}

#[test]
fn reserved_names() {
    for name in ["livegraft", "kernel"] {
        let m = format!("[patch]\nname = \"{name}\"\ndescription = \"d\"\n[[function]]\ntarget = \"t\"\nreplacement = \"r\"\n");
        let (_, diags) = check(&m, &source_with(&["r"]), &Env::default());
        one_error(&diags, "is taken");
    }
}

#[test]
fn name_too_long() {
    let long = "a".repeat(56);
    let m = format!("[patch]\nname = \"{long}\"\ndescription = \"d\"\n[[function]]\ntarget = \"t\"\nreplacement = \"r\"\n");
    let (_, diags) = check(&m, &source_with(&["r"]), &Env::default());
    one_error(&diags, "56 characters long; the limit is 55");
    let ok = m.replace(&long, &"a".repeat(55));
    let (plan, _) = check(&ok, &source_with(&["r"]), &Env::default());
    assert!(plan.is_some());
}

#[test]
fn unknown_keys_are_all_reported_with_suggestions() {
    let m = r#"
[patch]
name = "p"
description = "d"
author = "me"

[[function]]
target = "t"
replacment = "r"
"#;
    let (plan, diags) = check(m, &source_with(&["r"]), &Env::default());
    assert!(plan.is_none());
    let e = errors(&diags);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert_eq!(e[0].message, "unknown key `author`");
    assert_eq!(e[0].line, Some(5));
    assert!(e[0]
        .help
        .as_ref()
        .unwrap()
        .contains("`name`, `description`, `source`"));
    assert_eq!(e[1].message, "unknown key `replacment`");
    assert!(e[1]
        .help
        .as_ref()
        .unwrap()
        .starts_with("did you mean `replacement`?"));
    // The misspelt key is not also reported as a missing `replacement`.
    e.iter().for_each(|d| assert_well_formed(d));
}

#[test]
fn unknown_top_level_tables() {
    let m = "[patch]\nname = \"p\"\ndescription = \"d\"\n[[functions]]\ntarget = \"t\"\n[[function]]\ntarget = \"t\"\nreplacement = \"r\"\n";
    let (_, diags) = check(m, &source_with(&["r"]), &Env::default());
    let e = one_error(&diags, "unknown table or key [[functions]]");
    assert!(e.message.contains("did you mean `[[function]]`?"));
    assert_eq!(e.line, Some(4));
}

#[test]
fn single_bracket_function_table() {
    let m = "[patch]\nname = \"p\"\ndescription = \"d\"\n[function]\ntarget = \"t\"\nreplacement = \"r\"\n";
    let (_, diags) = check(m, &source_with(&["r"]), &Env::default());
    let e = errors(&diags);
    assert!(
        e[0].message.contains("must be an array of tables"),
        "{e:#?}"
    );
    assert!(e[0]
        .help
        .as_ref()
        .unwrap()
        .contains("[[function]]` (double brackets)"));
}

#[test]
fn wrong_value_types() {
    let m = "[patch]\nname = 5\ndescription = \"d\"\n[[function]]\ntarget = \"t\"\nsympos = \"1\"\nreplacement = \"r\"\n";
    let (_, diags) = check(m, &source_with(&["r"]), &Env::default());
    let e = errors(&diags);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert_eq!(e[0].message, "`name` must be a string, not a integer");
    assert_eq!(e[0].line, Some(2));
    assert_eq!(e[1].message, "`sympos` must be an integer, not a string");
    e.iter().for_each(|d| assert_well_formed(d));
}

#[test]
fn toml_syntax_error_has_a_line() {
    let (_, diags) = check("[patch]\nname = \n[[function]]\n", "", &Env::default());
    let e = errors(&diags);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].entry, "TOML syntax");
    assert_eq!(e[0].line, Some(2));
    assert_well_formed(e[0]);
}

#[test]
fn duplicate_target_and_replacement() {
    let m = r#"
[patch]
name = "p"
description = "d"

[[function]]
target = "t"
replacement = "r1"

[[function]]
target = "t"
object = "vmlinux"
replacement = "r2"

[[function]]
target = "t"
object = "some_module"
replacement = "r1"
"#;
    let (plan, diags) = check(m, &source_with(&["r1", "r2"]), &Env::default());
    assert!(plan.is_none());
    let e = errors(&diags);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert_eq!(
        e[0].message,
        "`t` in vmlinux is already replaced by [[function]] #1"
    );
    assert_eq!(e[0].entry, "[[function]] #2 (t)");
    assert_eq!(e[0].line, Some(10));
    // The same name in another object is fine; the same replacement is not.
    assert_eq!(
        e[1].message,
        "replacement `r1` is already used by [[function]] #1"
    );
    assert_eq!(e[1].line, Some(18));
    e.iter().for_each(|d| assert_well_formed(d));
}

#[test]
fn missing_replacement_in_source() {
    let src = r#"
// pub extern "C" fn new_show() {}    <- commented out
/* pub extern "C" fn new_show() {} */
const S: &str = "pub extern \"C\" fn new_show() {}";
"#;
    let (_, diags) = check(
        &manifest_with("target = \"t\"\nreplacement = \"new_show\""),
        src,
        &Env::default(),
    );
    let e = one_error(&diags, "replacement `new_show` is not defined in");
    assert!(e.message.ends_with("replacements.rs"), "{}", e.message);
    assert!(e
        .help
        .as_ref()
        .unwrap()
        .contains("pub extern \"C\" fn new_show(...)"));
    assert_eq!(e.line, Some(7));
}

#[test]
fn replacement_forms_accepted_by_the_scanner() {
    let src = r#"
pub(crate) extern "C" fn a() {}
pub unsafe extern "C" fn b() {}
#[no_mangle]
pub(crate) unsafe extern "C" fn c() {}
pub extern fn d() {}
"#;
    for name in ["a", "b", "c", "d"] {
        let (plan, diags) = check(
            &manifest_with(&format!("target = \"t\"\nreplacement = \"{name}\"")),
            src,
            &Env::default(),
        );
        assert!(plan.is_some(), "{name}: {diags:#?}");
    }
}

#[test]
fn replacements_that_the_crate_root_cannot_use() {
    let src = r#"
extern "C" fn private() {}
pub fn rust_abi() {}
mod inner { pub extern "C" fn nested() {} }
extern "C" { pub fn imported(); }
"#;
    let cases = [
        ("private", "is private"),
        ("rust_abi", "is not `extern \"C\"`"),
        ("nested", "is not a top-level item"),
        ("imported", "is not defined in"),
    ];
    for (name, needle) in cases {
        let (_, diags) = check(
            &manifest_with(&format!("target = \"t\"\nreplacement = \"{name}\"")),
            src,
            &Env::default(),
        );
        one_error(&diags, needle);
    }
}

#[test]
fn missing_source_file() {
    let m = "[patch]\nname = \"p\"\ndescription = \"d\"\nsource = \"nope.rs\"\n[[function]]\ntarget = \"t\"\nreplacement = \"r\"\n";
    let (_, diags) = check(m, "", &Env::default());
    let e = one_error(&diags, "cannot read source");
    assert!(e.message.contains("nope.rs"));
    assert_eq!(e.line, Some(4));
}

#[test]
fn sympos() {
    let (_, diags) = check(
        &manifest_with("target = \"t\"\nsympos = 2\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::default(),
    );
    // Any position is valid in the manifest; without a System.map it is checked at load.
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let (_, diags) = check(
        &manifest_with("target = \"t\"\nsympos = -1\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::default(),
    );
    let e = one_error(&diags, "sympos -1 is negative");
    assert_eq!(e.line, Some(7));
    let (plan, _) = check(
        &manifest_with("target = \"t\"\nsympos = 1\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::default(),
    );
    assert_eq!(plan.unwrap().objects[0].funcs[0].sympos, 1);
}

#[test]
fn description_rules() {
    for (desc, needle) in [
        (r#""say \"hi\"""#, "description contains '\"'"),
        (r#""back\\slash""#, "description contains '\\\\'"),
        (r#""""#, "description is empty"),
        ("\"\"\"two\nlines\"\"\"", "description spans several lines"),
    ] {
        let m = format!("[patch]\nname = \"p\"\ndescription = {desc}\n[[function]]\ntarget = \"t\"\nreplacement = \"r\"\n");
        let (plan, diags) = check(&m, &source_with(&["r"]), &Env::default());
        assert!(plan.is_none());
        let e = one_error(&diags, needle);
        assert_eq!(e.line, Some(3));
    }
}

#[test]
fn ambiguous_symbol_with_system_map() {
    let (_, diags) = check(
        &manifest_with("target = \"type_show\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::with_map(),
    );
    let e = one_error(&diags, "ambiguous: 3 symbols named type_show; set sympos");
    let help = e.help.as_ref().unwrap();
    assert!(
        help.contains(
            "1 = 0xffffffff81224400 (t), 2 = 0xffffffff81300000 (t), 3 = 0xffffffff81310000 (t)"
        ),
        "{help}"
    );
    // Every position of the three is valid, as upstream (sympos > 1 included).
    for pos in 1..=3 {
        let (plan, diags) = check(
            &manifest_with(&format!(
                "target = \"type_show\"\nsympos = {pos}\nreplacement = \"r\""
            )),
            &source_with(&["r"]),
            &Env::with_map(),
        );
        assert_eq!(
            plan.expect("valid").objects[0].funcs[0].sympos,
            pos,
            "{diags:#?}"
        );
    }
    let (_, diags) = check(
        &manifest_with("target = \"type_show\"\nsympos = 4\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::with_map(),
    );
    let e = one_error(
        &diags,
        "sympos 4: System.map has only 3 symbol(s) named type_show",
    );
    assert_eq!(e.line, Some(7));
}

#[test]
fn sympos_counts_every_symbol_of_the_name() {
    // Upstream counts data symbols too: a function and a variable of one name are ambiguous.
    let (_, diags) = check(
        &manifest_with("target = \"mixed_name\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::with_map(),
    );
    one_error(&diags, "ambiguous: 2 symbols named mixed_name; set sympos");
    let (plan, diags) = check(
        &manifest_with("target = \"mixed_name\"\nsympos = 1\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::with_map(),
    );
    assert!(plan.is_some(), "{diags:#?}");
    let (_, diags) = check(
        &manifest_with("target = \"mixed_name\"\nsympos = 2\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::with_map(),
    );
    one_error(
        &diags,
        "sympos 2 of `mixed_name` is not a function in System.map (symbol type `d`)",
    );
}

#[test]
fn missing_symbol_with_system_map() {
    let (_, diags) = check(
        &manifest_with("target = \"no_such_fn\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::with_map(),
    );
    let e = one_error(&diags, "`no_such_fn` is not in System.map");
    assert!(e.help.as_ref().unwrap().contains("set `object`"));
    // A near miss gets a suggestion; a compiler clone an explanation.
    let (_, diags) = check(
        &manifest_with("target = \"cmdline_proc_shw\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::with_map(),
    );
    assert!(one_error(&diags, "is not in")
        .help
        .as_ref()
        .unwrap()
        .contains("did you mean `cmdline_proc_show`?"));
    let (_, diags) = check(
        &manifest_with("target = \"clone_me\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::with_map(),
    );
    assert!(one_error(&diags, "is not in")
        .help
        .as_ref()
        .unwrap()
        .contains("clone_me.isra.0"));
    // Data is not a function; weak functions are.
    let (_, diags) = check(
        &manifest_with("target = \"some_data\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::with_map(),
    );
    one_error(&diags, "is not a function in System.map (symbol type `D`)");
    let (plan, _) = check(
        &manifest_with("target = \"weak_fn\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &Env::with_map(),
    );
    assert!(plan.is_some());
}

#[test]
fn untraceable_target_with_mcount_table() {
    // cmdline_proc_show has a call site right after ENDBR; untraced_fn has none.
    let env = Env {
        mcount: Mcount::Loaded([0xffffffff81224334u64].into_iter().collect()),
        ..Env::with_map()
    };
    let (plan, diags) = check(
        &manifest_with("target = \"cmdline_proc_show\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &env,
    );
    assert!(plan.is_some(), "{diags:#?}");
    let (_, diags) = check(
        &manifest_with("target = \"untraced_fn\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &env,
    );
    let e = one_error(
        &diags,
        "`untraced_fn` has no ftrace call site (inlined or notrace?)",
    );
    assert!(e
        .help
        .as_ref()
        .unwrap()
        .contains("available_filter_functions"));
}

#[test]
fn all_errors_are_reported_at_once() {
    let m = r#"
[patch]
name = "bad name"
description = "a \"quoted\" word"
colour = "blue"

[[function]]
target = "type_show"
replacement = "missing_fn"

[[function]]
target = "no_such_fn"
sympos = -2
replacement = "private_fn"

[[function]]
target = "type_show"
replacement = "ok_fn"

[[function]]
target = "x-y"
object = "vmlinux"
replacement = "ok_fn"
"#;
    let src = "extern \"C\" fn private_fn() {}\npub extern \"C\" fn ok_fn() {}\n";
    let (plan, diags) = check(m, src, &Env::with_map());
    assert!(plan.is_none());
    let e = errors(&diags);
    let mut msgs: Vec<String> = e
        .iter()
        .map(|d| format!("{}: {}", d.line.unwrap(), d.message))
        .collect();
    msgs.sort_by_key(|m| m.split(':').next().unwrap().parse::<usize>().unwrap());
    let expected = [
        "3: name `bad name` is not a valid identifier",
        "4: description contains '\"'",
        "5: unknown key `colour`",
        "8: ambiguous: 3 symbols named type_show; set sympos",
        "9: replacement `missing_fn` is not defined in",
        "12: `no_such_fn` is not in System.map",
        "13: sympos -2 is negative",
        "14: replacement `private_fn`",
        "16: `type_show` in vmlinux is already replaced by [[function]] #1",
        "21: target `x-y` is not a valid C identifier",
        "23: replacement `ok_fn` is already used by [[function]] #3",
    ];
    assert_eq!(msgs.len(), expected.len(), "{msgs:#?}");
    for (m, want) in msgs.iter().zip(expected) {
        assert!(m.starts_with(want), "`{m}` should start with `{want}`");
    }
    e.iter().for_each(|d| assert_well_formed(d));
}

/// A replacement and the declaration of its original, as a user writes them.
const WITH_ORIGINAL: &str = r#"
use core::ffi::c_int;
extern "C" {
    pub(crate) fn orig_f(x: c_int) -> c_int;
    fn private_orig(x: c_int) -> c_int;
}
#[no_mangle]
pub extern "C" fn new_f(x: c_int) -> c_int { unsafe { orig_f(x) } }
#[no_mangle]
pub extern "C" fn new_g(x: c_int) -> c_int { x }
"#;

#[test]
fn original_is_planned() {
    let m = manifest_with("target = \"f\"\nreplacement = \"new_f\"\noriginal = \"orig_f\"");
    let (plan, diags) = check(&m, WITH_ORIGINAL, &Env::default());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let f = &plan.unwrap().objects[0].funcs[0];
    assert_eq!(f.original.as_deref(), Some("orig_f"));
    // Without the key: no original.
    let m = manifest_with("target = \"f\"\nreplacement = \"new_f\"");
    let (plan, _) = check(&m, WITH_ORIGINAL, &Env::default());
    assert_eq!(plan.unwrap().objects[0].funcs[0].original, None);
}

#[test]
fn original_errors() {
    let cases = [
        (
            "original = \"not declared\"",
            "is not a valid Rust identifier",
        ),
        (
            "original = \"orig_missing\"",
            "is not declared in an `extern` block",
        ),
        (
            "original = \"private_orig\"",
            "is not visible to the crate root",
        ),
        (
            "original = \"new_g\"",
            "is not declared in an `extern` block",
        ),
        ("original = 3", "original"),
    ];
    for (line, needle) in cases {
        let m = manifest_with(&format!("target = \"f\"\nreplacement = \"new_f\"\n{line}"));
        let (plan, diags) = check(&m, WITH_ORIGINAL, &Env::default());
        assert!(plan.is_none(), "{line}");
        one_error(&diags, needle);
    }
    // Two functions, one original; an original that is another's replacement.
    let m = "[patch]\nname = \"p\"\ndescription = \"d\"\n\n\
             [[function]]\ntarget = \"f\"\nreplacement = \"new_f\"\noriginal = \"orig_f\"\n\n\
             [[function]]\ntarget = \"g\"\nreplacement = \"new_g\"\noriginal = \"orig_f\"\n";
    let (_, diags) = check(m, WITH_ORIGINAL, &Env::default());
    one_error(
        &diags,
        "original `orig_f` is already used by [[function]] #1",
    );
    let m = "[patch]\nname = \"p\"\ndescription = \"d\"\n\n\
             [[function]]\ntarget = \"f\"\nreplacement = \"new_f\"\noriginal = \"new_g\"\n\n\
             [[function]]\ntarget = \"g\"\nreplacement = \"new_g\"\n";
    let (_, diags) = check(m, WITH_ORIGINAL, &Env::default());
    assert!(
        errors(&diags).iter().any(|d| d
            .message
            .contains("is also the replacement of [[function]] #2")),
        "{diags:#?}"
    );
}
