//! The command line: help, exit statuses, error format, progress, output
//! and the build step (against a fake kernel tree whose Makefile stands in
//! for Kbuild).

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_livegraft-gen"));
    c.env_remove("BINDGEN");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Every `error:` line is `error: <file>[:<line>]: <entry>: <what>` and is
/// followed by a `  help:` line.
fn assert_error_format(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    let mut n = 0;
    for (i, l) in lines.iter().enumerate() {
        if let Some(rest) = l.strip_prefix("error: ") {
            n += 1;
            assert!(
                rest.split(": ").count() >= 3,
                "not `file: entry: what`: {l}"
            );
            assert!(
                lines.get(i + 1).is_some_and(|h| h.starts_with("  help: ")),
                "no help after: {l}"
            );
        }
    }
    assert!(n > 0, "no error in:\n{stderr}");
}

fn sample() -> String {
    repo().join("samples/cmdline").display().to_string()
}

#[test]
fn help_teaches_the_manifest_and_the_workflow() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in [
        "Usage: livegraft-gen [OPTIONS] <PATCH_DIR>",
        "MANIFEST (<PATCH_DIR>/patch.toml):",
        "[patch]",
        "[[function]]",
        "target = \"cmdline_proc_show\"",
        "sympos = 0",
        "replacement = \"livegraft_cmdline_proc_show\"",
        "pub extern \"C\" fn",
        "WORKFLOW:",
        "insmod",
        "/sys/kernel/livegraft/<name>/enabled",
        "--kdir <DIR>",
        "--system-map <FILE>",
        "--module-ko <FILE>",
        "--symvers <FILE>",
        "--build",
        "-o, --out <DIR>",
        "-q, --quiet",
        "EXIT STATUS:",
    ] {
        assert!(help.contains(needle), "--help lacks `{needle}`:\n{help}");
    }
    let short = text(&run(&["-h"]).stdout);
    assert!(short.contains("--help for the manifest format"), "{short}");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["--frobnicate", "x"]).status.code(), Some(2));
    let out = run(&["/no/such/patch/dir"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("error: /no/such/patch/dir: PATCH_DIR: not a directory\n  help: "),
        "{err}"
    );
    let out = run(&[&sample(), "--build"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--build needs --kdir"));
    let out = run(&[&sample(), "--system-map", "/no/such/System.map"]);
    assert_eq!(out.status.code(), Some(2));
    assert_error_format(&text(&out.stderr));
}

#[test]
fn generates_the_sample() {
    let d = tempfile::tempdir().unwrap();
    let o = d.path().join("out/livegraft_cmdline");
    let out = run(&[&sample(), "-o", o.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), o.display().to_string());
    let err = text(&out.stderr);
    for stage in [
        "[1/3] parsing ",
        "[2/3] validating 1 function",
        "[3/3] generating ",
        "done in ",
    ] {
        assert!(err.contains(stage), "no `{stage}` in:\n{err}");
    }
    // No kernel given: the targets could not be checked.
    assert!(
        err.contains("warning: ") && err.contains("checked at load time"),
        "{err}"
    );
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/livegraft_cmdline");
    for f in [
        "Kbuild",
        "livegraft_cmdline.rs",
        "livegraft_abi.rs",
        "replacements.rs",
        "livegraft.rs",
    ] {
        assert_eq!(
            fs::read_to_string(o.join(f)).unwrap(),
            fs::read_to_string(golden.join(f)).unwrap(),
            "{f}"
        );
    }
    // Quiet: only the result.
    let out = run(&["-q", &sample(), "-o", o.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
    assert_eq!(text(&out.stdout).trim(), o.display().to_string());
}

#[test]
fn default_output_is_under_cwd_outside_the_repo() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("mypatch");
    fs::create_dir(&p).unwrap();
    fs::write(
        p.join("patch.toml"),
        manifest_with("target = \"t\"\nreplacement = \"r\""),
    )
    .unwrap();
    fs::write(p.join("replacements.rs"), source_with(&["r"])).unwrap();
    let out = bin()
        .current_dir(d.path())
        .args(["-q", "mypatch"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let o = d.path().join("out/patches/p");
    assert!(o.join("p.rs").is_file());
    // Outside the repository the header names the manifest as given.
    let root = fs::read_to_string(o.join("p.rs")).unwrap();
    assert!(
        root.contains("// Generated by livegraft-gen from mypatch/patch.toml: do not edit."),
        "{root}"
    );
}

#[test]
fn invalid_patch_exits_1_with_every_error_and_writes_nothing() {
    let m = r#"
[patch]
name = "p"
description = "say \"hi\""
flavour = "x"

[[function]]
target = "type_show"
sympos = 4
replacement = "nope"
"#;
    let p = patch_dir(m, "");
    let map = p.path().join("System.map");
    fs::write(&map, SYSTEM_MAP).unwrap();
    let o = p.path().join("out");
    let out = run(&[
        p.path().to_str().unwrap(),
        "-o",
        o.to_str().unwrap(),
        "--system-map",
        map.to_str().unwrap(),
        "--unchecked-trace",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert_error_format(&err);
    let file = p.path().join("patch.toml").display().to_string();
    for needle in [
        format!("error: {file}:4: [patch]: description contains '\"'"),
        format!("error: {file}:5: [patch]: unknown key `flavour`"),
        format!("error: {file}:9: [[function]] #1 (type_show): sympos 4: "),
        format!(
            "error: {file}:10: [[function]] #1 (type_show): replacement `nope` is not defined in"
        ),
        "livegraft-gen: 4 errors; nothing was written".to_string(),
    ] {
        assert!(err.contains(&needle), "no `{needle}` in:\n{err}");
    }
    assert!(!o.exists());
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn system_map_checks_through_the_cli() {
    let p = patch_dir(
        &manifest_with("target = \"type_show\"\nreplacement = \"r\""),
        &source_with(&["r"]),
    );
    let map = p.path().join("System.map");
    fs::write(&map, SYSTEM_MAP).unwrap();
    let o = p.path().join("out");
    let out = run(&[
        p.path().to_str().unwrap(),
        "-o",
        o.to_str().unwrap(),
        "--system-map",
        map.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("ambiguous: 3 symbols named type_show; set sympos"));
    // A file that is not a System.map is an error, located.
    fs::write(
        &map,
        "0x12345678\tlivegraft_enable_patch\tlivegraft\tEXPORT_SYMBOL_GPL\n",
    )
    .unwrap();
    let out = run(&[
        p.path().to_str().unwrap(),
        "-o",
        o.to_str().unwrap(),
        "--system-map",
        map.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("error: {}:1: --system-map: ", map.display())),
        "{err}"
    );
    assert_error_format(&err);
}

#[test]
fn module_ko_checks_through_the_cli() {
    let p = patch_dir(
        &manifest_with("target = \"mod_fn\"\nobject = \"lg_target\"\nreplacement = \"r\""),
        &source_with(&["r"]),
    );
    let ko = p.path().join("lg_target.ko");
    fs::write(&ko, elf::module_ko(Some("lg_target"))).unwrap();
    let o = p.path().join("out");
    let out = run(&[
        p.path().to_str().unwrap(),
        "-o",
        o.to_str().unwrap(),
        "--module-ko",
        ko.to_str().unwrap(),
        "--unchecked-trace",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = fs::read_to_string(o.join("p.rs")).unwrap();
    assert!(
        root.contains("static FUNCS_LG_TARGET:") && root.contains("name: c\"lg_target\".as_ptr(),"),
        "{root}"
    );
    // Not checked: a warning only.
    assert!(!text(&out.stderr).contains("module `lg_target` are not checked"));
}

#[test]
fn options_take_several_files() {
    let p = patch_dir(
        &manifest_with("target = \"mod_fn\"\nobject = \"lg_target\"\nreplacement = \"r\""),
        &source_with(&["r"]),
    );
    let ko = p.path().join("lg_target.ko");
    fs::write(&ko, elf::module_ko(Some("lg_target"))).unwrap();
    let other = p.path().join("other.ko");
    fs::write(&other, elf::module_ko(Some("other"))).unwrap();
    let (ko, other) = (ko.to_str().unwrap(), other.to_str().unwrap());
    let o = p.path().join("out");
    let o = o.to_str().unwrap();
    let dir = p.path().to_str().unwrap();
    // As tools/gen-samples.sh does: PATCH_DIR first, then lists.
    let out = run(&[dir, "-o", o, "--unchecked-trace", "--module-ko", ko, other, "--symvers", ko]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no [[function]] targets module `other`"));
    // Repeated options, and `--` ending a list.
    let out = run(&["-o", o, "--unchecked-trace", "--module-ko", ko, "--module-ko", other, "--", dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn output_dir_problems_exit_1_and_leave_nothing() {
    let p = patch_dir(
        &manifest_with("target = \"t\"\nreplacement = \"r\""),
        &source_with(&["r"]),
    );
    let blocker = p.path().join("file");
    fs::write(&blocker, "").unwrap();
    let o = blocker.join("out");
    let out = run(&["-q", p.path().to_str().unwrap(), "-o", o.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_error_format(&text(&out.stderr));
    // A directory that livegraft-gen did not make is not replaced.
    let mine = p.path().join("mine");
    fs::create_dir(&mine).unwrap();
    fs::write(mine.join("notes.txt"), "keep").unwrap();
    let out = run(&[
        "-q",
        p.path().to_str().unwrap(),
        "-o",
        mine.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("not generated by livegraft-gen"));
    assert_eq!(fs::read_to_string(mine.join("notes.txt")).unwrap(), "keep");
    assert!(!mine.join("Kbuild").exists());
}

fn have_make() -> bool {
    Command::new("make")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A "kernel tree" whose Makefile records its arguments and then runs `recipe`.
fn fake_kdir(dir: &Path, recipe: &str) -> std::path::PathBuf {
    let k = dir.join("kdir");
    fs::create_dir(&k).unwrap();
    fs::write(k.join("Makefile"), format!("modules:\n\t@echo \"$(MAKEFLAGS) M=$(M) KBUILD_EXTRA_SYMBOLS=$(KBUILD_EXTRA_SYMBOLS)\" > $(M)/args\n{recipe}")).unwrap();
    k
}

#[test]
fn build_success_prints_the_ko() {
    if !have_make() {
        eprintln!("make not installed: skipping");
        return;
    }
    let p = patch_dir(
        &manifest_with("target = \"t\"\nreplacement = \"r\""),
        &source_with(&["r"]),
    );
    let k = fake_kdir(p.path(), "\t@echo compiling\n\t@touch $(M)/p.ko\n");
    let symvers = p.path().join("Module.symvers");
    fs::write(&symvers, "").unwrap();
    let o = p.path().join("out");
    let out = bin()
        .env("BINDGEN", "/opt/bindgen")
        .args([
            p.path().to_str().unwrap(),
            "-o",
            o.to_str().unwrap(),
            "--kdir",
            k.to_str().unwrap(),
        ])
        .args(["--symvers", symvers.to_str().unwrap(), "--build"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let o = o.canonicalize().unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        o.join("p.ko").display().to_string()
    );
    assert!(err.contains("[4/4] building (make -C "), "{err}");
    assert!(
        !err.contains("compiling"),
        "make's output is shown only on failure:\n{err}"
    );
    let args = fs::read_to_string(o.join("args")).unwrap();
    assert!(args.contains(&format!("M={}", o.display())), "{args}");
    assert!(
        args.contains(&format!(
            "KBUILD_EXTRA_SYMBOLS={}",
            symvers.canonicalize().unwrap().display()
        )),
        "{args}"
    );
    assert!(
        args.contains("ARCH=x86_64")
            && args.contains("LLVM=1")
            && args.contains("BINDGEN=/opt/bindgen"),
        "{args}"
    );
}

#[test]
fn build_failure_exits_3_and_shows_make_output() {
    if !have_make() {
        eprintln!("make not installed: skipping");
        return;
    }
    let p = patch_dir(
        &manifest_with("target = \"t\"\nreplacement = \"r\""),
        &source_with(&["r"]),
    );
    let k = fake_kdir(
        p.path(),
        "\t@echo 'error[E0425]: cannot find value'\n\t@exit 1\n",
    );
    let o = p.path().join("out");
    let out = run(&[
        p.path().to_str().unwrap(),
        "-o",
        o.to_str().unwrap(),
        "--kdir",
        k.to_str().unwrap(),
        "--build",
    ]);
    assert_eq!(out.status.code(), Some(3));
    let err = text(&out.stderr);
    assert!(err.contains("error[E0425]: cannot find value"), "{err}");
    assert!(err.contains(": build: make failed"), "{err}");
    assert!(err.contains("  help: the command was: make -C "), "{err}");
    assert!(
        err.contains("replacements.rs with 3 header line(s) added: subtract 3"),
        "{err}"
    );
    // The generated source is kept for inspection.
    assert!(o.join("p.rs").is_file());
    assert_eq!(text(&out.stdout), "");
}
