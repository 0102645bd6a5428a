//! `replace = true`, `[[callbacks]]` and `[[state]]`: parsing, validation
//! (every problem at once, each located and with a help line) and the
//! generated descriptors, for Rust and C sources.

mod common;

use common::*;
use livegraft_gen::generate::{crate_root_file, render};
use livegraft_gen::validate::CallbacksPlan;

const CALLBACKS_SRC: &str = r#"
use crate::livegraft::Object;
use kernel::prelude::*;

#[no_mangle]
pub extern "C" fn new_a() {}

pub fn pre(obj: &Object) -> Result {
    Ok(())
}

pub fn post(_obj: &crate::livegraft::Object) {}

pub fn pre_un(obj: &Object) {}

pub(crate) fn post_un(obj: &Object) -> () {}
"#;

fn manifest(extra: &str) -> String {
    format!(
        "[patch]\nname = \"p\"\ndescription = \"d\"\n{extra}\n\n[[function]]\ntarget = \"a\"\nreplacement = \"new_a\"\n"
    )
}

#[test]
fn samples_with_callbacks_states_and_replace_are_valid() {
    let (plan, diags) = check_in(&repo().join("samples/gen_callbacks"), &Env::default());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let plan = plan.unwrap();
    assert!(!plan.replace);
    assert_eq!(plan.states, vec![(7, 1)]);
    assert_eq!(
        plan.callbacks,
        vec![CallbacksPlan {
            object: "lg_target".into(),
            pre_patch: Some("pre_patch".into()),
            post_patch: Some("post_patch".into()),
            pre_unpatch: Some("pre_unpatch".into()),
            post_unpatch: Some("post_unpatch".into()),
        }]
    );
    let (plan, diags) = check_in(&repo().join("samples/gen_replace"), &Env::default());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let plan = plan.unwrap();
    assert!(plan.replace);
    assert_eq!(plan.states, vec![(7, 2)]);
    // Callbacks only: no function, one object.
    let (plan, diags) = check_in(&repo().join("samples/gen_requires"), &Env::default());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let plan = plan.unwrap();
    assert!(plan.objects.is_empty());
    assert_eq!(plan.callbacks.len(), 1);
}

#[test]
fn callbacks_states_and_replace_reach_the_plan() {
    let m = manifest("replace = true")
        + "\n[[callbacks]]\npre_patch = \"pre\"\npost_patch = \"post\"\n\
           \n[[callbacks]]\nobject = \"lg_target\"\npre_unpatch = \"pre_un\"\npost_unpatch = \"post_un\"\n\
           \n[[state]]\nid = 3\nversion = 2\n\n[[state]]\nid = 4\n";
    let (plan, diags) = check(&m, CALLBACKS_SRC, &Env::default());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let plan = plan.unwrap();
    assert!(plan.replace);
    assert_eq!(plan.states, vec![(3, 2), (4, 0)]);
    assert_eq!(plan.callbacks.len(), 2);
    assert_eq!(plan.callbacks[0].object, "vmlinux");
    assert_eq!(plan.callbacks[0].given(), vec![("pre_patch", "pre"), ("post_patch", "post")]);
    assert_eq!(plan.callbacks[1].object, "lg_target");

    // The crate root: glue per callback, the callbacks in the objects (the
    // callbacks-only lg_target with an empty function table), the states,
    // and a descriptor with `.replace()` and `.states(...)`.
    let files = render(&plan, "m");
    let root = &files.iter().find(|(n, _)| *n == crate_root_file(&plan)).unwrap().1;
    for want in [
        "unsafe extern \"C\" fn __livegraft_cb_0_pre_patch(obj: *mut abi::Object) -> core::ffi::c_int {",
        "    let result = replacements::pre(obj);\n    livegraft::to_errno(result)\n}",
        "unsafe extern \"C\" fn __livegraft_cb_1_post_unpatch(obj: *mut abi::Object) {",
        "    replacements::post_un(obj)",
        "            pre_patch: Some(__livegraft_cb_0_pre_patch),",
        "            ..abi::Callbacks::NONE",
        "static FUNCS_LG_TARGET: abi::Table<abi::Func, 1> = abi::Table([abi::Func::END]);",
        "static STATES: abi::Table<abi::State, 3> = abi::Table([",
        "        id: 3,\n        version: 2,",
        "            .replace()\n                .states(STATES.0.as_ptr()),",
        "        livegraft::set_patch(&mut *patch);",
        "#[path = \"livegraft.rs\"]\nmod livegraft;",
    ] {
        assert!(root.contains(want), "no `{want}` in:\n{root}");
    }
    assert!(files.iter().any(|(n, t)| n == "livegraft.rs" && t.contains("pub(crate) struct Shadow<T, const ID: u64>")));
}

#[test]
fn plain_manifest_has_no_replace_states_or_callbacks() {
    let (plan, diags) = check(&manifest(""), &source_with(&["new_a"]), &Env::default());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let plan = plan.unwrap();
    assert!(!plan.replace && plan.states.is_empty() && plan.callbacks.is_empty());
    let files = render(&plan, "m");
    let root = &files[1].1;
    assert!(!root.contains(".replace()") && !root.contains("STATES") && !root.contains("__livegraft_cb_"), "{root}");
}

#[test]
fn every_callback_and_state_error_at_once() {
    let m = manifest("replace = \"yes\"")
        + "\n[[callbacks]]\nobject = \"lg-target\"\npre_patch = \"missing\"\n\
           \n[[callbacks]]\npre_patch = \"c_abi\"\npost_patch = \"new_a\"\npre_unpatch = \"wrong_ret\"\npost_unpatch = \"two_args\"\n\
           \n[[callbacks]]\nobject = \"vmlinux\"\npost_patch = \"post\"\n\
           \n[[callbacks]]\nobject = \"m\"\n\
           \n[[callbacks]]\nobject = \"n\"\npre_patch = \"no_result\"\npost_patch = \"private\"\npre_patch_x = \"y\"\n\
           \n[[state]]\nid = 0\n\n[[state]]\nid = 5\nversion = -1\n\n[[state]]\nid = 5\n\n[[state]]\nversion = 1\n";
    let src = r#"
#[no_mangle]
pub extern "C" fn new_a() {}
#[no_mangle]
pub extern "C" fn c_abi(obj: *mut u8) -> i32 { 0 }
pub fn wrong_ret(obj: &Object) -> Result { Ok(()) }
pub fn two_args(obj: &Object, x: u32) {}
pub fn post(obj: &Object) {}
pub fn no_result(obj: &Object) {}
fn private(obj: &Object) {}
"#;
    let (plan, diags) = check(&m, src, &Env::default());
    assert!(plan.is_none());
    let errs = errors(&diags);
    for e in &errs {
        assert_well_formed(e);
    }
    let has = |entry: &str, needle: &str| {
        assert!(
            errs.iter().any(|e| e.entry.starts_with(entry) && e.message.contains(needle)),
            "no error `{needle}` for {entry}: {errs:#?}"
        )
    };
    has("[patch]", "`replace` must be a boolean");
    has("[[callbacks]] #1", "object `lg-target` is not a valid module name");
    has("[[callbacks]] #1", "callback `missing` (pre_patch) is not defined");
    has("[[callbacks]] #2", "callback `c_abi`");
    has("[[callbacks]] #2", "is `extern \"C\"`");
    has("[[callbacks]] #2", "`post_patch` = `new_a` is also the replacement of [[function]] #1");
    has("[[callbacks]] #2", "it returns `Result`; a pre_unpatch callback returns nothing");
    has("[[callbacks]] #2", "it takes 2 parameters");
    has("[[callbacks]] #3", "object `vmlinux` already has its callbacks in [[callbacks]] #2");
    has("[[callbacks]] #4", "names no callback");
    has("[[callbacks]] #5", "unknown key `pre_patch_x`");
    has("[[callbacks]] #5", "it returns nothing, not `Result`");
    has("[[callbacks]] #5", "callback `private`");
    has("[[state]] #1", "state id 0 is not positive");
    has("[[state]] #2", "state version -1 is out of range");
    has("[[state]] #3", "state id 5 is already declared by [[state]] #2");
    has("[[state]] #4", "`id` is missing");
    assert_eq!(errs.len(), 16, "{errs:#?}");
    // The help of a signature error shows the signature to write.
    let e = errs.iter().find(|e| e.message.contains("it takes 2 parameters")).unwrap();
    assert!(e.help.as_deref().unwrap().contains("pub fn two_args(obj: &Object)"), "{e:?}");
    let e = errs.iter().find(|e| e.message.contains("not `Result`")).unwrap();
    assert!(e.help.as_deref().unwrap().contains("pub fn no_result(obj: &Object) -> Result"), "{e:?}");
}

#[test]
fn misspelt_tables_are_suggested() {
    let m = manifest("") + "\n[[callback]]\npre_patch = \"pre\"\n\n[[states]]\nid = 1\n";
    let (_, diags) = check(&m, CALLBACKS_SRC, &Env::default());
    let errs = errors(&diags);
    assert!(errs.iter().any(|e| e.message.contains("did you mean `[[callbacks]]`?")), "{errs:#?}");
    assert!(errs.iter().any(|e| e.message.contains("did you mean `[[state]]`?")), "{errs:#?}");
}

#[test]
fn callbacks_only_patch_needs_no_function() {
    let m = "[patch]\nname = \"p\"\ndescription = \"d\"\n\n[[callbacks]]\nobject = \"lg_target\"\npre_patch = \"pre\"\n";
    let (plan, diags) = check(m, CALLBACKS_SRC, &Env::default());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let plan = plan.unwrap();
    assert!(plan.objects.is_empty());
    let root = &render(&plan, "m")[1].1;
    assert!(root.contains("name: c\"lg_target\".as_ptr(),"), "{root}");
}

#[test]
fn c_sources_get_callbacks_states_and_replace() {
    let d = tempfile::tempdir().unwrap();
    let m = "[patch]\nname = \"pc\"\ndescription = \"d\"\nsource = \"fix.c\"\nreplace = true\n\n\
             [[function]]\ntarget = \"a\"\nreplacement = \"new_a\"\n\n\
             [[callbacks]]\nobject = \"lg_target\"\npre_patch = \"pre\"\npost_unpatch = \"post_un\"\n\n\
             [[state]]\nid = 9\nversion = 3\n";
    std::fs::write(d.path().join("patch.toml"), m).unwrap();
    std::fs::write(
        d.path().join("fix.c"),
        "int new_a(void) { return 1; }\nstatic int pre(struct livegraft_object *obj) { return 0; }\n\
         static void post_un(struct livegraft_object *obj) { }\n",
    )
    .unwrap();
    let (plan, diags) = check_in(d.path(), &Env::default());
    assert!(errors(&diags).is_empty(), "{diags:#?}");
    let plan = plan.unwrap();
    let c = &render(&plan, "m").iter().find(|(n, _)| n == "pc.c").unwrap().1.clone();
    for want in [
        "\t{ .name = \"lg_target\", .funcs = __livegraft_funcs_1,\n\t  .callbacks = { .pre_patch = pre, .post_unpatch = post_un } },",
        "\t{ .id = 9, .version = 3 },",
        "\t__livegraft_patch.flags |= LIVEGRAFT_F_REPLACE;\n\t__livegraft_patch.replace = true;\n",
        "\t__livegraft_patch.states = __livegraft_states;\n",
    ] {
        assert!(c.contains(want), "no `{want}` in:\n{c}");
    }
    // A C callback that is not defined.
    std::fs::write(d.path().join("fix.c"), "int new_a(void) { return 1; }\n").unwrap();
    let (_, diags) = check_in(d.path(), &Env::default());
    let e = errors(&diags);
    assert_eq!(e.len(), 2, "{e:#?}");
    assert!(e[0].message.contains("callback `pre` (pre_patch) is not defined"), "{e:#?}");
    assert!(e[0].help.as_deref().unwrap().contains("static int pre(struct livegraft_object *obj)"));
}
