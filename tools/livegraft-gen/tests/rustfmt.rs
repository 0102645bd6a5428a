//! The generated crate root is rustfmt-clean (default settings, as in the
//! kernel's `.rustfmt.toml`) for names of every length: the generator breaks
//! long lines where rustfmt does. Skipped when rustfmt is not installed.

use std::process::Command;

use livegraft_gen::generate::{crate_root_file, render};
use livegraft_gen::validate::{CallbacksPlan, FuncPlan, ObjectPlan, Plan};

fn rustfmt_available() -> bool {
    Command::new("rustfmt")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn name(prefix: &str, len: usize) -> String {
    let mut s = prefix.to_string();
    while s.len() < len {
        s.push('x');
    }
    s.truncate(len.max(1));
    s
}

fn plan(patch: usize, object: usize, target: usize, replacement: usize, funcs: usize) -> Plan {
    plan_with(patch, object, target, replacement, funcs, false)
}

fn plan_with(
    patch: usize,
    object: usize,
    target: usize,
    replacement: usize,
    funcs: usize,
    with_originals: bool,
) -> Plan {
    let funcs = (0..funcs)
        .map(|i| FuncPlan {
            target: name(&format!("t{i}"), target),
            sympos: (i % 2) as u64,
            replacement: name(&format!("r{i}"), replacement),
            // Every third function calls its original, whose name is as
            // long as the replacement's.
            original: (i % 3 == 0 && with_originals).then(|| name(&format!("o{i}"), replacement)),
        })
        .collect();
    Plan {
        name: name("p", patch),
        description: "a description".into(),
        source_text: String::new(),
        lang: Default::default(),
        source_path: String::new(),
        symbols: Vec::new(),
        replace: false,
        callbacks: Vec::new(),
        states: Vec::new(),
        objects: vec![
            ObjectPlan {
                name: name("o", object),
                funcs,
            },
            ObjectPlan {
                name: "vmlinux".into(),
                funcs: vec![FuncPlan {
                    target: "f".into(),
                    sympos: 0,
                    replacement: "g".into(),
                    original: None,
                }],
            },
        ],
    }
}

#[test]
fn crate_root_is_rustfmt_clean_for_all_name_lengths() {
    if !rustfmt_available() {
        eprintln!("rustfmt not installed: skipping");
        return;
    }
    let mut plans = Vec::new();
    for len in 1..=55 {
        plans.push(plan(len, 7, 10, 10, 1));
        plans.push(plan(5, len, 10, 10, 2));
    }
    for len in (1..=40)
        .step_by(3)
        .chain(41..=100)
        .chain((101..=140).step_by(3))
    {
        plans.push(plan(17, 7, len, 10, 1));
        plans.push(plan(17, 7, 10, len, 1));
        plans.push(plan(17, 50, len, len, 1));
    }
    plans.push(plan(17, 7, 10, 10, 12));
    for len in (1..=40)
        .step_by(3)
        .chain(41..=100)
        .chain((101..=140).step_by(7))
    {
        plans.push(plan_with(17, 7, 10, len, 4, true));
    }
    // Callbacks (on a patched object and on a callbacks-only one of every
    // name length), states, replace.
    for len in (1..=55).step_by(2) {
        for (n, callback_name) in [(17, 10), (17, len), (len, 60)] {
            let mut p = plan(n, 7, 10, 10, 1);
            p.replace = len % 2 == 1;
            p.states = (0..(len % 4)).map(|i| (i as u64 + 1, i as u32 * 1_000_000_000)).collect();
            p.callbacks = vec![
                CallbacksPlan {
                    object: p.objects[0].name.clone(),
                    pre_patch: Some(name("cb_pre", callback_name)),
                    post_unpatch: Some(name("cb_post_un", callback_name)),
                    ..Default::default()
                },
                CallbacksPlan {
                    object: name("only_callbacks", len),
                    pre_patch: Some(name("cb2_pre", callback_name)),
                    post_patch: Some(name("cb2_post", callback_name)),
                    pre_unpatch: Some(name("cb2_pre_un", callback_name)),
                    post_unpatch: Some(name("cb2_post_un", callback_name)),
                },
            ];
            plans.push(p);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let mut roots = Vec::new();
    for (i, p) in plans.iter().enumerate() {
        let d = dir.path().join(i.to_string());
        std::fs::create_dir(&d).unwrap();
        for (file, text) in render(p, "x/patch.toml") {
            // Empty child modules: only the crate root is checked here.
            let text = if file.ends_with(".rs") && file != crate_root_file(p) {
                "// -\n".into()
            } else {
                text
            };
            std::fs::write(d.join(&file), text).unwrap();
        }
        roots.push(d.join(crate_root_file(p)));
    }
    let out = Command::new("rustfmt")
        .args(["--check", "--edition", "2021"])
        .args(&roots)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rustfmt would change the generated code:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
