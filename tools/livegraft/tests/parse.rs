//! The library against recorded sysfs trees and kernel logs.

use livegraft_cli::kmsg::{self, Event, Record};
use livegraft_cli::modinfo::{Mismatch, ModInfo};
use livegraft_cli::sysfs::{PendingTask, Summary, Sysfs};
use std::path::PathBuf;

fn tree(name: &str) -> Sysfs {
    Sysfs::new(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/trees").join(name))
}

fn log(name: &str) -> Vec<Record> {
    kmsg::read_kmsg(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/logs").join(name)).unwrap()
}

#[test]
fn transition_in_progress() {
    let s = tree("in-progress");
    assert!(s.core_loaded());
    let core = s.core();
    assert_eq!(core.abi, Some(2));
    assert_eq!(core.version.as_deref(), Some("0.1.0"));
    assert_eq!(core.parameters.get("sweep").map(String::as_str), Some("N"));
    let p = s.patch("lg_testpatch").unwrap().unwrap();
    assert!(p.enabled && p.transition && !p.forced);
    assert_eq!(p.summary.state, "running");
    assert_eq!(p.summary.direction.as_deref(), Some("patching"));
    assert_eq!(p.summary.progress(), Some((59, 61)));
    assert_eq!(p.summary.switched.get("stack_check"), Some(&52));
    assert_eq!(p.summary.switched_text(), "idle=2 kthread=1 stack_check=52 syscall=3 workqueue=1");
    assert_eq!(p.state_text(), "patching 59/61");
    assert_eq!(p.replace, None, "absent on this core");
    assert_eq!(p.stack_order, None);
    assert_eq!(p.pending_tasks.len(), 2);
    assert_eq!(p.pending_tasks[0].reason, "running");
    assert_eq!(p.pending_tasks[1].function.as_deref(), Some("lg_target_b"));
    assert_eq!(p.pending_tasks[1].module.as_deref(), Some("lg_target"));
    assert_eq!(p.objects.len(), 1);
    assert_eq!(p.objects[0].patched, Some(true));
    let f: Vec<_> = p.objects[0].functions.iter().map(|f| (f.name.as_str(), f.sympos)).collect();
    assert_eq!(f, [("lg_target_a", 1), ("lg_target_b", 1), ("lg_target_block", 1)]);
    assert!(p.extra.is_empty(), "{:?}", p.extra);
    assert!(s.module_loaded("lg_testpatch"));
    assert!(!s.module_loaded("lg_target"));
}

#[test]
fn stalled_task() {
    let p = tree("stalled").patch("lg_testpatch").unwrap().unwrap();
    assert_eq!(p.summary.pending, Some(1));
    let t = &p.pending_tasks[0];
    assert_eq!((t.pid, t.comm.as_str(), t.reason.as_str()), (88, "lg_target_hold", "sleeping-on"));
    assert_eq!(t.function.as_deref(), Some("lg_target_hold"));
    assert_eq!(t.location.as_deref(), Some("lg_target_hold+0x1c/0x30"));
    assert!(t.describe().contains("sleeping in lg_target_hold+0x1c/0x30 [lg_target]"), "{}", t.describe());
}

#[test]
fn forced_patch() {
    let p = tree("forced").patch("lg_testpatch").unwrap().unwrap();
    assert!(p.forced && p.enabled && !p.transition);
    assert_eq!(p.summary.progress(), None);
    assert_eq!(p.state_text(), "enabled");
    assert_eq!(p.summary.fast_path, Some(2));
}

#[test]
fn module_object_not_loaded_and_newer_files() {
    let s = tree("object-not-loaded");
    assert_eq!(s.core().abi, Some(3), "the ABI comes from the core, not a constant");
    let ps = s.patches().unwrap();
    let names: Vec<_> = ps.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["livegraft_cmdline", "livegraft_multi"], "stack order");
    let m = &ps[1];
    assert_eq!(m.replace, Some(true));
    assert_eq!(m.stack_order, Some(2));
    let objs: Vec<_> = m.objects.iter().map(|o| (o.name.as_str(), o.patched)).collect();
    assert_eq!(objs, [("lg_target", Some(false)), ("vmlinux", Some(true))]);
    assert_eq!(m.function_count(), 2);
}

#[test]
fn old_core_and_unpatching() {
    let s = tree("old-core");
    let c = s.core();
    assert!(c.loaded);
    assert_eq!(c.abi, None, "no abi_version parameter: unknown, not guessed");
    let p = s.patch("lg_testpatch").unwrap().unwrap();
    assert!(!p.enabled && p.transition);
    assert_eq!(p.state_text(), "unpatching 59/61");
}

#[test]
fn no_core() {
    let s = tree("no-core");
    assert!(!s.core_loaded());
    assert!(!s.core().loaded);
    assert!(s.patch("x").unwrap().is_none());
    assert!(s.patch("../x").unwrap().is_none());
}

#[test]
fn summary_unknown_lines_kept() {
    let s = Summary::parse("state: idle\nforced: 0\nnew_key: 7\nswitched_newkind: 4\n");
    assert_eq!(s.other.get("new_key").map(String::as_str), Some("7"));
    assert_eq!(s.switched.get("newkind"), Some(&4));
}

#[test]
fn pending_lines() {
    assert_eq!(PendingTask::parse("12 kworker/0:1 unreliable-stack").unwrap().reason, "unreliable-stack");
    let t = PendingTask::parse("7 sh sleeping-on cmdline_proc_show+0x5/0x40").unwrap();
    assert_eq!((t.function.as_deref(), t.module.as_deref()), (Some("cmdline_proc_show"), None));
    assert!(PendingTask::parse("garbage").is_none());
    assert!(PendingTask::parse("x sh running").is_none());
}

fn section(tags: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    for t in tags {
        v.extend_from_slice(t.as_bytes());
        v.push(0);
    }
    v
}

#[test]
fn modinfo_checks() {
    let m = ModInfo::from_section(&section(&[
        "livegraft=Y",
        "livegraft_abi=2",
        "livegraft_patch=livegraft_cmdline",
        "livegraft_func=vmlinux:cmdline_proc_show,0",
        "name=livegraft_cmdline",
        "depends=livegraft",
        "vermagic=6.12.117 SMP mod_unload ",
    ]));
    assert_eq!(m.release.as_deref(), Some("6.12.117"));
    assert_eq!(m.livegraft_abi, Some(2));
    assert_eq!(m.functions[0].function, "cmdline_proc_show");
    assert_eq!(m.expected_patch_name(), Some("livegraft_cmdline"));
    assert!(m.check("6.12.117", Some(2)).is_empty());
    assert!(m.check("6.12.117", None).is_empty());
    assert_eq!(m.check("6.12.117", Some(3)), [Mismatch::Abi { module: 2, core: 3 }]);
    let both = m.check("6.1.0-28-amd64", Some(3));
    assert_eq!(both.len(), 2);
    let text = both[0].to_string();
    assert!(text.contains("6.12.117") && text.contains("6.1.0-28-amd64"), "{text}");
    assert!(both[1].to_string().contains("ABI 2") && both[1].to_string().contains("ABI 3"));
    let bare = ModInfo::from_section(&section(&["name=foo", "vermagic=6.12.117 SMP"]));
    assert_eq!(bare.check("6.12.117", Some(2)), [Mismatch::NoAbi]);
    assert_eq!(ModInfo::from_section(b"").check("6.12.117", None), [Mismatch::NotAModule, Mismatch::NoAbi]);
}

#[test]
fn modinfo_from_elf() {
    use object::write::{Object, StandardSection};
    let mut o = Object::new(object::BinaryFormat::Elf, object::Architecture::X86_64, object::Endianness::Little);
    let _ = o.section_id(StandardSection::Text);
    let id = o.add_section(Vec::new(), b".modinfo".to_vec(), object::SectionKind::ReadOnlyData);
    o.append_section_data(id, &section(&["name=lg_x", "livegraft_abi=5", "vermagic=6.12.117 SMP"]), 1);
    let elf = o.write().unwrap();
    let m = ModInfo::from_elf(&elf).unwrap();
    assert_eq!((m.name.as_deref(), m.livegraft_abi), (Some("lg_x"), Some(5)));
    assert!(ModInfo::from_elf(b"not an elf").is_err());
}

#[test]
fn dmesg_transitions() {
    let r = log("dmesg.txt");
    let t = kmsg::transitions(&r, None);
    assert_eq!(t.len(), 3);
    assert_eq!((t[0].patch.as_str(), t[0].direction.as_str()), ("lg_testpatch", "patching"));
    assert_eq!(t[0].outcome.as_deref(), Some("patching complete"));
    assert_eq!(t[0].switch_ms, Some(530));
    assert_eq!(t[0].duration_ms, Some(530));
    assert_eq!(t[0].setup_us, Some(480));
    assert_eq!(t[0].switched_by.get("stack_check"), Some(&52));
    assert!(t[1].reversed && !t[1].forced);
    assert_eq!(t[1].outcome.as_deref(), Some("unpatching complete"));
    assert_eq!(t[1].stalled.len(), 1);
    assert!(t[1].stalled[0].contains("lg_target_hold:88"));
    assert_eq!(t[2].outcome, None, "still running");
    assert_eq!(kmsg::transitions(&r, Some("lg_hold")).len(), 1);
}

#[test]
fn kmsg_records() {
    let r = log("kmsg.txt");
    assert!(r.iter().all(|x| x.seq.is_some()), "the continuation line is skipped");
    assert_eq!(r[0].ts_us, Some(3_101_234));
    assert_eq!(Event::parse(r[0].livegraft_text().unwrap()), Event::CoreLoaded { version: "0.1.0".into(), abi: Some(3) });
    let t = kmsg::transitions(&r, None);
    assert_eq!(t.len(), 1);
    assert!(t[0].forced);
    assert_eq!(t[0].duration_ms, Some(1030));
    assert!(matches!(Event::parse(r.last().unwrap().livegraft_text().unwrap()), Event::Refused { patch: None, .. }));
}

/// The log as livegraft writes it since its patch lines became upstream's
/// exactly: the details on `livegraft-stats:` lines without a patch name,
/// belonging to the one transition in progress or just completed.
#[test]
fn stats_lines_belong_to_the_current_transition() {
    let r = log("dmesg-stats.txt");
    let t = kmsg::transitions(&r, None);
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].patch, "lg_testpatch");
    assert_eq!(t[0].switch_ms, Some(530));
    assert_eq!(t[0].setup_us, Some(480));
    assert_eq!(t[0].switched_by.get("syscall"), Some(&3));
    assert!(t[1].reversed);
    assert_eq!(t[1].patch, "lg_hold");
    assert_eq!(t[1].switch_ms, Some(5300));
    assert_eq!(t[1].stalled.len(), 1);
    assert!(t[1].stalled[0].contains("lg_target_hold:88"));
}
