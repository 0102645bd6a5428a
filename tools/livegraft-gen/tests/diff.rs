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
    assert!(refused[0].contains("kernel/panic.c: changed data `panic_timeout`"), "{refused:#?}");
    assert!(!out.path().join("fix.c").exists());
}
