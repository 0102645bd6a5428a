//! ELF inputs, with fixtures built by `object`'s write API: the ftrace
//! call-site table of vmlinux and the symbols of module `.ko` files.

mod common;

use std::path::Path;

use common::elf;
use common::*;
use livegraft_gen::symbols::{mcount_locations, module_name, module_symbols};
use livegraft_gen::validate::Mcount;

#[test]
fn mcount_from_section() {
    let set = mcount_locations(&elf::vmlinux_with_section(&[
        0xffffffff81000000,
        0,
        0xffffffff81000104,
    ]))
    .unwrap()
    .unwrap();
    let mut v: Vec<u64> = set.into_iter().collect();
    v.sort();
    // Zero entries (discarded call sites) are dropped.
    assert_eq!(v, vec![0xffffffff81000000, 0xffffffff81000104]);
}

#[test]
fn mcount_from_start_stop_symbols() {
    let set = mcount_locations(&elf::vmlinux_with_symbols(&[0x1000, 0x2004, 0x3000]))
        .unwrap()
        .unwrap();
    let mut v: Vec<u64> = set.into_iter().collect();
    v.sort();
    assert_eq!(v, vec![0x1000, 0x2004, 0x3000]);
}

#[test]
fn mcount_absent_or_not_elf() {
    assert_eq!(
        mcount_locations(&elf::vmlinux_without_table()).unwrap(),
        None
    );
    assert!(mcount_locations(b"not an elf")
        .unwrap_err()
        .contains("not an ELF"));
}

#[test]
fn ko_symbols() {
    let s = module_symbols(&elf::module_ko(Some("lg_target"))).unwrap();
    assert_eq!(s.name.as_deref(), Some("lg_target"));
    assert_eq!(s.functions.get("mod_fn"), Some(&1));
    assert_eq!(s.functions.get("dup_fn"), Some(&2));
    assert_eq!(s.functions.get("mod_data"), None, "data is not a function");
    assert_eq!(
        s.functions.get("printk"),
        None,
        "undefined symbols are not defined functions"
    );
    assert_eq!(module_name(&s, Path::new("/x/whatever.ko")), "lg_target");
    let anon = module_symbols(&elf::module_ko(None)).unwrap();
    assert_eq!(
        module_name(&anon, Path::new("/x/snd-hda-intel.ko")),
        "snd_hda_intel"
    );
}

#[test]
fn module_targets_are_checked_against_the_ko() {
    let syms = module_symbols(&elf::module_ko(Some("lg_target"))).unwrap();
    let env = Env {
        modules: vec![("lg_target.ko".into(), "lg_target".into(), syms)],
        ..Env::default()
    };
    let f = |t: &str, extra: &str| {
        manifest_with(&format!(
            "target = \"{t}\"\nobject = \"lg_target\"\n{extra}replacement = \"r\""
        ))
    };
    let (plan, diags) = check(&f("mod_fn", ""), &source_with(&["r"]), &env);
    assert!(plan.is_some(), "{diags:#?}");
    // This .ko has no __mcount_loc: traceability unchecked (a warning here,
    // where the test environment allows it; an error by default).
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(diags[0].message.contains("(it has no __mcount_loc)"), "{diags:#?}");
    let strict = Env { allow_unchecked_trace: false, ..env_of(&env) };
    let (plan, diags) = check(&f("mod_fn", ""), &source_with(&["r"]), &strict);
    assert!(plan.is_none());
    let e = one_error(&diags, "traceability of the targets in lg_target.ko not checked");
    assert!(e.help.as_ref().unwrap().contains("--unchecked-trace"), "{e:#?}");
    let (_, diags) = check(&f("mod_fm", ""), &source_with(&["r"]), &env);
    let e = one_error(&diags, "`mod_fm` is not a function of lg_target.ko");
    assert!(e.help.as_ref().unwrap().contains("did you mean `mod_fn`?"));
    let (_, diags) = check(&f("mod_data", ""), &source_with(&["r"]), &env);
    one_error(&diags, "is not a function of");
    let (_, diags) = check(&f("dup_fn", ""), &source_with(&["r"]), &env);
    one_error(&diags, "ambiguous: 2 symbols named dup_fn; set sympos");
    for pos in 1..=2 {
        let (plan, diags) = check(
            &f("dup_fn", &format!("sympos = {pos}\n")),
            &source_with(&["r"]),
            &env,
        );
        assert!(plan.is_some(), "{diags:#?}");
    }
    let (_, diags) = check(&f("dup_fn", "sympos = 3\n"), &source_with(&["r"]), &env);
    let e = one_error(
        &diags,
        "sympos 3: lg_target.ko has only 2 symbol(s) named dup_fn",
    );
    assert!(
        e.help
            .as_ref()
            .unwrap()
            .contains("1 = function, 2 = function"),
        "{e:#?}"
    );
    // A .ko that no function targets is pointed out.
    let (_, diags) = check(
        &manifest_with("target = \"t\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &env,
    );
    assert!(diags.iter().any(|d| !d.is_error()
        && d.message
            .contains("no [[function]] targets module `lg_target`")));
}

fn env_of(e: &Env) -> Env {
    Env {
        modules: e.modules.clone(),
        ..Env::default()
    }
}

#[test]
fn module_traceability_from_the_ko_mcount_loc() {
    // mod_fn (offset 0) and the second dup_fn (32, past a 4-byte ENDBR: 36)
    // have call sites; the first dup_fn (16) has none.
    let ko = elf::module_ko_traced(Some("lg_target"), Some(&[0, 36]));
    let syms = module_symbols(&ko).unwrap();
    let traced = syms.traced.clone().unwrap();
    assert!(traced.contains("mod_fn") && traced.contains("dup_fn"), "{traced:?}");
    let env = Env {
        modules: vec![("lg_target.ko".into(), "lg_target".into(), syms)],
        allow_unchecked_trace: false,
        ..Env::default()
    };
    let f = |t: &str, extra: &str| {
        manifest_with(&format!("target = \"{t}\"\nobject = \"lg_target\"\n{extra}replacement = \"r\""))
    };
    let (plan, diags) = check(&f("mod_fn", ""), &source_with(&["r"]), &env);
    assert!(plan.is_some() && diags.is_empty(), "{diags:#?}");
    // Only one of the two dup_fn is traced: by name, both count as traced,
    // as kallsyms names do; an untraced module function is refused.
    let ko = elf::module_ko_traced(Some("lg_target"), Some(&[36]));
    let env = Env {
        modules: vec![("lg_target.ko".into(), "lg_target".into(), module_symbols(&ko).unwrap())],
        allow_unchecked_trace: false,
        ..Env::default()
    };
    let (plan, diags) = check(&f("mod_fn", ""), &source_with(&["r"]), &env);
    assert!(plan.is_none());
    one_error(&diags, "`mod_fn` has no ftrace call site (inlined or notrace?)");
}

#[test]
fn available_filter_functions_check_a_kernel_without_build_tree() {
    let names: std::collections::HashSet<String> =
        ["cmdline_proc_show".to_string()].into_iter().collect();
    let env = Env {
        filter_functions: Some(names),
        allow_unchecked_trace: false,
        ..Env::with_map()
    };
    let (plan, diags) = check(
        &manifest_with("target = \"cmdline_proc_show\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &env,
    );
    assert!(plan.is_some() && diags.is_empty(), "{diags:#?}");
    let (_, diags) = check(
        &manifest_with("target = \"untraced_fn\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &env,
    );
    one_error(&diags, "`untraced_fn` has no ftrace call site");
    // Without any of vmlinux, --vmlinux or the list: an error unless overridden.
    let strict = Env { allow_unchecked_trace: false, ..Env::with_map() };
    let (plan, diags) = check(
        &manifest_with("target = \"cmdline_proc_show\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &strict,
    );
    assert!(plan.is_none());
    let e = one_error(&diags, "traceability of the vmlinux targets not checked");
    assert!(e.help.as_ref().unwrap().contains("--available-filter-functions"), "{e:#?}");
}

#[test]
fn vmlinux_fixture_drives_the_traceability_check() {
    // The System.map fixture puts cmdline_proc_show at 0xffffffff81224330 and
    // untraced_fn at 0xffffffff81320000.
    let set = mcount_locations(&elf::vmlinux_with_symbols(&[0xffffffff81224330]))
        .unwrap()
        .unwrap();
    let env = Env {
        mcount: Mcount::Loaded(set),
        ..Env::with_map()
    };
    let (plan, diags) = check(
        &manifest_with("target = \"cmdline_proc_show\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &env,
    );
    assert!(plan.is_some(), "{diags:#?}");
    assert!(diags.is_empty(), "{diags:#?}");
    let (_, diags) = check(
        &manifest_with("target = \"untraced_fn\"\nreplacement = \"r\""),
        &source_with(&["r"]),
        &env,
    );
    one_error(&diags, "has no ftrace call site");
}
