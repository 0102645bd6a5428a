//! Item-3 checks of what a replacement uses: a kernel function that is
//! neither exported nor declared as a `[[symbol]]` is an error at
//! generation, naming the symbol and the fix; a static inline gets a hint
//! to the exported functions it calls.

mod common;

use common::*;

const MANIFEST: &str = "[patch]\nname = \"p\"\ndescription = \"d\"\n\n[[function]]\ntarget = \"cmdline_proc_show\"\nreplacement = \"r\"\n";

const SOURCE: &str = "use core::ffi::{c_int, c_void};\n\
extern \"C\" {\n\
    fn seq_write(m: *mut c_void, d: *const c_void, n: usize) -> c_int;\n\
    fn lg_target_scale(x: c_int) -> c_int;\n\
    fn seq_puts(m: *mut c_void, s: *const u8);\n\
}\n\
#[no_mangle]\npub extern \"C\" fn r() {}\n";

/// A kernel tree with Module.symvers and one header holding a static inline.
fn kdir() -> tempfile::TempDir {
    let k = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(k.path().join("include/linux")).unwrap();
    std::fs::write(
        k.path().join("include/linux/seq_file.h"),
        "void __seq_puts(struct seq_file *m, const char *s);\n\n\
         static __always_inline void seq_puts(struct seq_file *m, const char *s)\n{\n\
         \tif (!__builtin_constant_p(*s))\n\t\t__seq_puts(m, s);\n\telse\n\t\tseq_write(m, s, __builtin_strlen(s));\n}\n",
    )
    .unwrap();
    k
}

fn env(k: &tempfile::TempDir) -> Env {
    Env {
        exports: Some(["seq_write", "__seq_puts"].iter().map(|s| s.to_string()).collect()),
        kdir: Some(k.path().to_path_buf()),
        ..Env::with_map()
    }
}

#[test]
fn unexported_undeclared_symbols_are_errors_naming_the_fix() {
    let k = kdir();
    let (plan, diags) = check(MANIFEST, SOURCE, &env(&k));
    assert!(plan.is_none());
    let e = errors(&diags);
    assert_eq!(e.len(), 2, "{e:#?}");
    let scale = e.iter().find(|d| d.message.contains("`lg_target_scale`")).unwrap();
    assert!(scale.file.ends_with("replacements.rs") && scale.line == Some(4), "{scale:#?}");
    assert!(scale.message.contains("not exported to modules"), "{scale:#?}");
    let help = scale.help.as_ref().unwrap();
    assert!(help.contains("[[symbol]]\nname = \"lg_target_scale\""), "{help}");
    assert!(help.contains("crate::symbols::lg_target_scale()"), "{help}");
    let puts = e.iter().find(|d| d.message.contains("`seq_puts`")).unwrap();
    assert_eq!(puts.line, Some(5));
    let help = puts.help.as_ref().unwrap();
    assert!(
        help.contains("`seq_puts` is a static inline function (include/linux/seq_file.h:3)")
            && help.contains("`__seq_puts`, `seq_write`"),
        "{help}"
    );
}

#[test]
fn declared_symbols_are_accepted_and_must_not_be_imported_by_name() {
    let k = kdir();
    let m = format!("{MANIFEST}\n[[symbol]]\nname = \"lg_target_scale\"\ntype = \"fn(c_int) -> c_int\"\n");
    let src = "extern \"C\" {\n    fn seq_write(m: *mut u8, d: *const u8, n: usize) -> i32;\n}\n#[no_mangle]\npub extern \"C\" fn r() {}\n";
    let mut env = env(&k);
    // lg_target_scale resolves in System.map for the [[symbol]] check.
    env.map = Some(
        livegraft_gen::symbols::SystemMap::parse(&format!("{SYSTEM_MAP}ffffffff81700000 t lg_target_scale\n")).unwrap(),
    );
    let (plan, diags) = check(&m, src, &env);
    assert!(plan.is_some(), "{diags:#?}");
    let src2 = "extern \"C\" {\n    fn lg_target_scale(x: i32) -> i32;\n}\n#[no_mangle]\npub extern \"C\" fn r() {}\n";
    let (_, diags) = check(&m, src2, &env);
    let e = one_error(&diags, "`lg_target_scale` is declared as a [[symbol]] but also imported by name here");
    assert_eq!(e.line, Some(2));
}

#[test]
fn a_static_inline_target_gets_the_hint() {
    let k = kdir();
    let m = "[patch]\nname = \"p\"\ndescription = \"d\"\n\n[[function]]\ntarget = \"seq_puts\"\nreplacement = \"r\"\n";
    let (_, diags) = check(m, &source_with(&["r"]), &env(&k));
    let e = one_error(&diags, "`seq_puts` is not in System.map");
    let help = e.help.as_ref().unwrap();
    assert!(help.contains("static inline function (include/linux/seq_file.h:3)"), "{help}");
    assert!(help.contains("`__seq_puts`, `seq_write`"), "{help}");
}

#[test]
fn a_rust_replacement_must_have_the_targets_prototype() {
    let k = kdir();
    std::fs::write(
        k.path().join("include/linux/lg_fix.h"),
        "/* fixture */\n#ifndef X\n#define X\nint lg_target_fix(int x);\nvoid lg_other(void);\n#endif\n",
    )
    .unwrap();
    let mut env = env(&k);
    env.map = Some(
        livegraft_gen::symbols::SystemMap::parse(&format!("{SYSTEM_MAP}ffffffff81700000 T lg_target_fix\n")).unwrap(),
    );
    let m = "[patch]\nname = \"p\"\ndescription = \"d\"\n\n[[function]]\ntarget = \"lg_target_fix\"\nreplacement = \"r\"\n";
    let good = "use core::ffi::c_int;\n#[no_mangle]\npub extern \"C\" fn r(x: c_int) -> c_int {\n    x\n}\n";
    let (plan, diags) = check(m, good, &env);
    assert!(plan.is_some(), "{diags:#?}");
    let bad = "use core::ffi::c_long;\n#[no_mangle]\npub extern \"C\" fn r(x: c_long) {\n    let _ = x;\n}\n";
    let (_, diags) = check(m, bad, &env);
    let e = one_error(&diags, "does not have the prototype of `lg_target_fix`");
    assert!(e.message.contains("parameter 1 is `c_long`, the target's is `int`"), "{e:#?}");
    assert!(e.message.contains("it returns nothing, the target `int`"), "{e:#?}");
    assert!(e.help.as_ref().unwrap().contains("`int lg_target_fix(int x);` (include/linux/lg_fix.h:4)"), "{e:#?}");
    assert_eq!(e.line, Some(7));
}
