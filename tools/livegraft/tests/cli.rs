//! The command against recorded sysfs trees: output, --json, exit codes and
//! argument errors. Nothing here touches the running kernel: every command
//! gets a recorded tree (LIVEGRAFT_SYSFS), log and lib dir.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn lg(tree: &str, args: &[&str]) -> Output {
    let lib = tempfile::tempdir().unwrap();
    lg_lib(tree, lib.path(), args)
}

fn lg_lib(tree: &str, lib: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_livegraft"))
        .args(args)
        .env("LIVEGRAFT_SYSFS", root().join("trees").join(tree))
        .env("LIVEGRAFT_KMSG", root().join("logs/dmesg.txt"))
        .env("LIVEGRAFT_LIB_DIR", lib)
        .env("LIVEGRAFT_RELEASE", "6.12.117")
        .env_remove("LIVEGRAFT_CORE")
        .output()
        .unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

#[test]
fn list_in_progress() {
    let o = lg("in-progress", &["list"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let s = out(&o);
    assert!(s.contains("core: livegraft 0.1.0 (patch ABI 2)"), "{s}");
    assert!(s.lines().any(|l| l.starts_with("lg_testpatch") && l.contains("patching 59/61") && l.contains("lg_target")), "{s}");
}

#[test]
fn list_json_object_not_loaded() {
    let o = lg("object-not-loaded", &["list", "--json"]);
    assert_eq!(code(&o), 0, "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["core"]["abi"], 3);
    assert_eq!(v["patches"][1]["name"], "livegraft_multi");
    assert_eq!(v["patches"][1]["replace"], true);
    assert_eq!(v["patches"][1]["stack_order"], 2);
    assert_eq!(v["patches"][1]["objects"][0]["patched"], false);
    let t = out(&lg("object-not-loaded", &["list"]));
    assert!(t.contains("lg_target(no)"), "{t}");
}

#[test]
fn status_stalled_names_the_task() {
    let o = lg("stalled", &["status", "lg_testpatch"]);
    assert_eq!(code(&o), 0);
    let s = out(&o);
    assert!(s.contains("88 lg_target_hold: sleeping in lg_target_hold+0x1c/0x30 [lg_target]"), "{s}");
    assert!(s.contains("21 stack-check passes"), "{s}");
    let j: serde_json::Value = serde_json::from_slice(&lg("stalled", &["pending", "--json"]).stdout).unwrap();
    assert_eq!(j[0]["tasks"][0]["pid"], 88);
    assert_eq!(j[0]["tasks"][0]["function"], "lg_target_hold");
}

#[test]
fn status_forced() {
    let s = out(&lg("forced", &["status"]));
    assert!(s.contains("forced: the module can never be unloaded"), "{s}");
    let s = out(&lg("forced", &["pending"]));
    assert!(s.contains("no transition in progress"), "{s}");
}

#[test]
fn no_core_exit_code() {
    let o = lg("no-core", &["status", "x"]);
    assert_eq!(code(&o), 4, "{}", err(&o));
    assert!(err(&o).contains("core is not loaded"), "{}", err(&o));
    let o = lg("no-core", &["list"]);
    assert_eq!(code(&o), 0);
    assert!(out(&o).contains("core: not loaded"));
}

#[test]
fn unknown_patch_exit_code() {
    let o = lg("in-progress", &["disable", "nope"]);
    assert_eq!(code(&o), 9);
    assert!(err(&o).contains("no patch 'nope'") && err(&o).contains("loaded: lg_testpatch"), "{}", err(&o));
}

#[test]
fn force_needs_yes() {
    let o = lg("stalled", &["force", "lg_testpatch"]);
    assert_eq!(code(&o), 2);
    assert!(err(&o).contains("never be unloaded") && err(&o).contains("--yes"), "{}", err(&o));
    let o = lg("forced", &["force", "lg_testpatch", "--yes"]);
    assert_eq!(code(&o), 1, "not in transition");
    assert!(err(&o).contains("not in transition"));
}

#[test]
fn argument_errors() {
    for args in [&["load"][..], &["bogus"], &["load", "a.ko", "--timeout", "soon"], &["force"], &["status", "a", "b"], &[]] {
        let o = lg("in-progress", args);
        assert_eq!(code(&o), 2, "{args:?}: {}", err(&o));
    }
}

#[test]
fn info_and_load_of_missing_file() {
    let o = lg("in-progress", &["info", "/nonexistent/x.ko"]);
    assert_eq!(code(&o), 5);
    assert!(err(&o).contains("cannot read"), "{}", err(&o));
    let o = lg("in-progress", &["load", "/nonexistent/x.ko"]);
    assert_eq!(code(&o), 5);
}

#[test]
fn load_refuses_wrong_abi_before_loading() {
    // An ELF .ko with another ABI than the recorded core's: refused with
    // both numbers, before any syscall (the tree is read-only and there is
    // no kernel to load into).
    use object::write::Object;
    let mut o = Object::new(object::BinaryFormat::Elf, object::Architecture::X86_64, object::Endianness::Little);
    let id = o.add_section(Vec::new(), b".modinfo".to_vec(), object::SectionKind::ReadOnlyData);
    o.append_section_data(id, b"name=lg_x\0livegraft_abi=1\0depends=livegraft\0vermagic=6.1.0 SMP\0", 1);
    let dir = tempfile::tempdir().unwrap();
    let ko = dir.path().join("lg_x.ko");
    std::fs::write(&ko, o.write().unwrap()).unwrap();
    let r = lg("in-progress", &["load", ko.to_str().unwrap()]);
    assert_eq!(code(&r), 5, "{}", err(&r));
    let e = err(&r);
    assert!(e.contains("nothing was loaded"), "{e}");
    assert!(e.contains("ABI 1") && e.contains("ABI 2"), "{e}");
    assert!(e.contains("kernel 6.1.0") && e.contains("6.12.117"), "{e}");
    let i = lg("in-progress", &["info", ko.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&i.stdout).unwrap();
    assert_eq!(v["loadable"], false);
    assert_eq!(v["livegraft_abi"], 1);
    assert_eq!(v["core_abi"], 2);
}

#[test]
fn install_uninstall_order() {
    use object::write::Object;
    let lib = tempfile::tempdir().unwrap();
    let src = tempfile::tempdir().unwrap();
    for n in ["lg_b", "lg_a"] {
        let mut o = Object::new(object::BinaryFormat::Elf, object::Architecture::X86_64, object::Endianness::Little);
        let id = o.add_section(Vec::new(), b".modinfo".to_vec(), object::SectionKind::ReadOnlyData);
        o.append_section_data(id, format!("name={n}\0livegraft_abi=2\0vermagic=6.12.117 SMP\0").as_bytes(), 1);
        std::fs::write(src.path().join(format!("{n}.ko")), o.write().unwrap()).unwrap();
        let r = lg_lib("no-core", lib.path(), &["install", src.path().join(format!("{n}.ko")).to_str().unwrap()]);
        assert_eq!(code(&r), 0, "{}", err(&r));
    }
    let dir = lib.path().join("6.12.117");
    assert_eq!(std::fs::read_to_string(dir.join("order")).unwrap(), "lg_b.ko\nlg_a.ko\n");
    let l = out(&lg_lib("no-core", lib.path(), &["list"]));
    let b = l.find("installed, not loaded: lg_b").expect(&l);
    let a = l.find("installed, not loaded: lg_a").expect(&l);
    assert!(b < a, "install order: {l}");
    let r = lg_lib("no-core", lib.path(), &["uninstall", "lg_b"]);
    assert_eq!(code(&r), 0);
    assert!(!dir.join("lg_b.ko").exists());
    assert_eq!(std::fs::read_to_string(dir.join("order")).unwrap(), "lg_a.ko\n");
    assert_eq!(code(&lg_lib("no-core", lib.path(), &["uninstall", "lg_b"])), 9);
}

#[test]
fn log_per_patch() {
    let o = lg("in-progress", &["log", "lg_hold"]);
    assert_eq!(code(&o), 0);
    let s = out(&o);
    assert!(s.contains("lg_hold: patching -> unpatching complete in 5300 ms (stack_check=54) [reversed]"), "{s}");
    assert!(s.contains("stalled: lg_target_hold:88"), "{s}");
    assert!(!s.contains("lg_testpatch"), "{s}");
    let j: serde_json::Value = serde_json::from_slice(&lg("in-progress", &["log", "--json"]).stdout).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 3);
}

#[test]
fn completions() {
    let o = lg("no-core", &["completions", "bash"]);
    assert_eq!(code(&o), 0);
    assert!(out(&o).contains("load-all"));
}

#[test]
fn help_documents_exit_codes() {
    let s = out(&lg("no-core", &["--help"]));
    assert!(s.contains("Exit codes:") && s.contains("7  transition timed out and was reverted"), "{s}");
}
