//! `livegraft-gen diff` on the corpus (tests/corpus/), against the cached
//! test kernel tree (or $LIVEGRAFT_KDIR); skipped when neither exists.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;

use common::repo;
use livegraft_gen::checks::parse_symvers;

fn kdir() -> Option<PathBuf> {
    if let Some(k) = std::env::var_os("LIVEGRAFT_KDIR") {
        return Some(PathBuf::from(k));
    }
    let cache = std::env::var_os("LIVEGRAFT_CACHE").map(PathBuf::from).or_else(|| {
        std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|c| c.join("livegraft"))
    })?;
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cache.join("kernel"))
        .ok()?
        .flatten()
        .map(|e| e.path().join("linux-source-6.12"))
        .filter(|p| p.join(".built").exists() || p.parent().is_some_and(|d| d.join(".built").exists()))
        .filter(|p| p.join("fs/proc/.cmdline.o.cmd").is_file())
        .collect();
    dirs.sort();
    dirs.into_iter().find(|p| !p.display().to_string().contains("debug"))
}

fn exports(k: &std::path::Path) -> HashSet<String> {
    parse_symvers(&std::fs::read_to_string(k.join("Module.symvers")).unwrap_or_default())
}

#[test]
fn corpus_body_change_becomes_a_c_patch() {
    let Some(k) = kdir() else {
        eprintln!("no built kernel tree: skipping");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let fix = repo().join("tests/corpus/01-cmdline-body.patch");
    let r = livegraft_gen::diff::run(&fix, &k, &k, out.path(), "p", &exports(&k))
        .unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(r.changed, vec![("fs/proc/cmdline.c".to_string(), "cmdline_proc_show".to_string())]);
    assert_eq!(r.symbols, vec!["saved_command_line"]);
    let c = std::fs::read_to_string(out.path().join("fix.c")).unwrap();
    assert!(c.contains("static int livegraft_cmdline_proc_show(struct seq_file *m, void *v)"), "{c}");
    assert!(c.contains("seq_puts(m, \"fixed: \");"), "{c}");
    assert!(c.contains("#define saved_command_line LIVEGRAFT_SYM(saved_command_line)"), "{c}");
    let t = std::fs::read_to_string(out.path().join("patch.toml")).unwrap();
    assert!(t.contains("target = \"cmdline_proc_show\"") && t.contains("type = \"__typeof__(saved_command_line)\""), "{t}");
    // The generated directory is a valid patch.
    let (plan, diags) = common::check_in(out.path(), &common::Env::default());
    assert!(plan.is_some(), "{diags:#?}");
}

#[test]
fn corpus_data_change_is_refused() {
    let Some(k) = kdir() else {
        eprintln!("no built kernel tree: skipping");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let fix = repo().join("tests/corpus/05-global-initial-value.patch");
    let Err(refused) = livegraft_gen::diff::run(&fix, &k, &k, out.path(), "p", &exports(&k)) else {
        panic!("a changed initial value was accepted");
    };
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert!(refused[0].contains("kernel/panic.c:69: changed data `panic_timeout`"), "{refused:#?}");
    assert!(!out.path().join("fix.c").exists());
}

/// Runs `diff` on a corpus case; `None` without a built tree.
fn run_case(case: &str) -> Option<(Result<livegraft_gen::diff::DiffResult, Vec<String>>, tempfile::TempDir)> {
    let Some(k) = kdir() else {
        eprintln!("no built kernel tree: skipping");
        return None;
    };
    let out = tempfile::tempdir().unwrap();
    let fix = repo().join("tests/corpus").join(case);
    let r = livegraft_gen::diff::run(&fix, &k, &k, out.path(), "p", &exports(&k));
    Some((r, out))
}

#[test]
fn corpus_static_helper_and_variables_are_the_kernels() {
    let Some((r, out)) = run_case("02-static-helper-and-variable.patch") else { return };
    let r = r.unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(r.changed, vec![("fs/filesystems.c".to_string(), "filesystems_proc_show".to_string())]);
    assert_eq!(r.symbols, vec!["find_filesystem", "file_systems", "file_systems_lock"]);
    let c = std::fs::read_to_string(out.path().join("fix.c")).unwrap();
    // The changed function, renamed, its uses of the file's statics redirected.
    assert!(c.contains("static int livegraft_filesystems_proc_show(struct seq_file *m, void *v)"), "{c}");
    assert!(c.contains("\tread_lock(&__livegraft_use_file_systems_lock);\n\tif (*__livegraft_use_find_filesystem(\"proc\", 4))"), "{c}");
    assert!(c.contains("\ttmp = __livegraft_use_file_systems;\n"), "{c}");
    assert!(c.contains(
        "#define __livegraft_use_find_filesystem (*(__typeof__(struct file_system_type **(const char *, unsigned int)) *)__livegraft_sym_find_filesystem)"
    ), "{c}");
    assert!(c.contains(
        "#define __livegraft_use_file_systems (*(__typeof__(struct file_system_type *) *)__livegraft_sym_file_systems)"
    ), "{c}");
    assert!(c.contains("#define __livegraft_use_file_systems_lock (*(__typeof__(rwlock_t) *)__livegraft_sym_file_systems_lock)"), "{c}");
    // No copy of the file's other code or data: no definition, export or initcall.
    for gone in ["int register_filesystem(", "EXPORT_SYMBOL(", "DEFINE_RWLOCK(", "module_init(", "static struct file_system_type **find_filesystem("] {
        assert!(!c.contains(gone), "{gone} left in {c}");
    }
    // Its headers, quoted ones by absolute path.
    assert!(c.contains("#include <linux/fs_parser.h>"), "{c}");
    let t = std::fs::read_to_string(out.path().join("patch.toml")).unwrap();
    assert!(t.contains("name = \"file_systems\"\ntype = \"void\""), "{t}");
    let (plan, diags) = common::check_in(out.path(), &common::Env::default());
    assert!(plan.is_some(), "{diags:#?}");
}

#[test]
fn corpus_static_inline_change_replaces_both_callers() {
    let Some((r, out)) = run_case("03-static-inline-two-callers.patch") else { return };
    let r = r.unwrap_or_else(|e| panic!("{e:#?}"));
    let f = "fs/proc/array.c".to_string();
    assert_eq!(r.changed, vec![(f.clone(), "do_task_stat".to_string()), (f, "proc_pid_status".to_string())]);
    let c = std::fs::read_to_string(out.path().join("fix.c")).unwrap();
    assert!(c.contains("static int livegraft_do_task_stat("), "{c}");
    assert!(c.contains("static int livegraft_proc_pid_status("), "{c}");
    // The changed static inline is copied as patched; the table it reads is the kernel's.
    assert!(c.contains("static inline const char *get_task_state(struct task_struct *tsk)"), "{c}");
    assert!(c.contains("\t\treturn \"r (running, fixed)\";"), "{c}");
    assert!(c.contains("return __livegraft_use_task_state_array[task_state_index(tsk)];"), "{c}");
    // A non-exported function called from a header's inline: a thunk of its name.
    assert!(c.contains("\t\"__lock_task_sighand:\\n\"\n\t\"\\tjmp *__livegraft_sym___lock_task_sighand(%rip)\\n\""), "{c}");
    assert!(r.symbols.iter().any(|s| s == "__lock_task_sighand") && r.symbols.iter().any(|s| s == "task_state_array"));
    let (plan, diags) = common::check_in(out.path(), &common::Env::default());
    assert!(plan.is_some(), "{diags:#?}");
}

#[test]
fn corpus_struct_layout_change_is_refused() {
    let Some((r, out)) = run_case("06-struct-layout.patch") else { return };
    let Err(refused) = r else { panic!("a struct layout change was accepted") };
    assert_eq!(
        refused,
        vec!["fs/proc/fd.c:193: `struct fd_data` changes layout (size 8 -> 12 bytes, field `flags` added, field `fd` \
              unsigned int at bit 32 -> unsigned int at bit 64): the running kernel's objects keep the old layout; a \
              live patch cannot change a data structure"
            .to_string()]
    );
    assert!(!out.path().join("fix.c").exists());
}

#[test]
fn hunks_and_padding() {
    let d = "--- a/x.c\n+++ b/x.c\n@@ -2,1 +2,3 @@\n a\n+b\n+c\n@@ -10,3 +12 @@\n";
    assert_eq!(livegraft_gen::diff::hunks_of(d, "x.c"), vec![(2, 1, 2, 3), (10, 3, 12, 1)]);
    assert!(livegraft_gen::diff::hunks_of(d, "y.c").is_empty());
    // Before: 2 lines added after its hunk; after: 2 after its second hunk.
    let before: String = (1..=14).map(|i| format!("{i}\n")).collect();
    let (p, added) = livegraft_gen::diff::pad_lines(&before, &[(2, 1, 2, 3), (10, 3, 12, 1)], true);
    assert!(p.starts_with("1\n2\n\n\n3\n"), "{p}");
    assert_eq!(added, vec![3, 4]);
    assert_eq!(livegraft_gen::diff::real_line(5, &added), 3);
    let after: String = (1..=14).map(|i| format!("{i}\n")).collect();
    let (p, added) = livegraft_gen::diff::pad_lines(&after, &[(2, 1, 2, 3), (10, 3, 12, 1)], false);
    assert!(p.contains("12\n\n\n13\n"), "{p}");
    assert_eq!(added, vec![13, 14]);
    assert_eq!(livegraft_gen::diff::real_line(15, &added), 13);
    assert_eq!(livegraft_gen::diff::real_line(12, &added), 12);
    // Never inside a continued line.
    let (p, _) = livegraft_gen::diff::pad_lines("1\n#define A \\\n x\n4\n", &[(2, 1, 2, 2)], true);
    assert_eq!(p, "1\n#define A \\\n x\n\n4\n");
}

#[test]
fn corpus_module_fix_patches_the_module() {
    let Some(k) = kdir() else {
        eprintln!("no built kernel tree: skipping");
        return;
    };
    if !repo().join("tests/modules/lg_target/.lg_target.o.cmd").is_file() {
        eprintln!("tests/modules/lg_target not built (tools/build-module.sh): skipping");
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let fix = repo().join("tests/corpus/04-module-object.patch");
    let r = livegraft_gen::diff::run(&fix, &k, &repo(), out.path(), "p", &exports(&k)).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(r.changed, vec![("tests/modules/lg_target/lg_target.c".to_string(), "lg_target_fix".to_string())]);
    let m = r.module.expect("a module object");
    assert_eq!(m.name, "lg_target");
    assert!(m.ko.ends_with("tests/modules/lg_target/lg_target.ko"), "{m:?}");
    assert_eq!(r.symbols, vec!["lg_target_scale"]);
    let t = std::fs::read_to_string(out.path().join("patch.toml")).unwrap();
    assert!(t.contains("target = \"lg_target_fix\"\nobject = \"lg_target\"\n"), "{t}");
    assert!(t.contains("name = \"lg_target_scale\"\nobject = \"lg_target\"\ntype = \"void\""), "{t}");
    let c = std::fs::read_to_string(out.path().join("fix.c")).unwrap();
    assert!(c.contains("\treturn __livegraft_use_lg_target_scale(x) + 1;\n"), "{c}");
    assert!(c.contains(".quad lg_target_record"), "{c}");
    for gone in ["MODULE_LICENSE(", "module_init(", "static int kthread_fn(", "EXPORT_SYMBOL_GPL("] {
        assert!(!c.contains(gone), "{gone} left in {c}");
    }
}

#[test]
fn sympos_of_a_files_static_in_vmlinux() {
    let Some(k) = kdir() else {
        eprintln!("no built kernel tree: skipping");
        return;
    };
    use livegraft_gen::diff::vmlinux_sympos;
    // Six modalias_show() in the test kernel, by address: pci-sysfs.c,
    // device_sysfs.c, platform.c, bus.c, serio.c, hid-core.c (one bus.c defines it).
    assert_eq!(vmlinux_sympos(&k, "drivers/base/platform.c", "modalias_show"), Ok(3));
    assert_eq!(vmlinux_sympos(&k, "drivers/base/bus.c", "modalias_show"), Ok(4));
    assert_eq!(vmlinux_sympos(&k, "fs/filesystems.c", "find_filesystem"), Ok(0));
    let e = vmlinux_sympos(&k, "fs/nosuch.c", "modalias_show").unwrap_err();
    assert!(e.contains("none of them is fs/nosuch.c's"), "{e}");
}
