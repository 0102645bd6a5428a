//! Unit tests of `decide` and `stack_verdict`: the kernel side's decisions, rule by rule (the
//! model test exercises them in context).

use livegraft_logic::decide::{
    select_version, switch_at, switch_check, task_forked, universe_of, wants_switch, Check,
    Context, Forked, SafePoint, NO_TABLE_UNIVERSE,
};
use livegraft_logic::stack_verdict::{
    affected_code, affected_for, judge, judge_stable, Affected, CodeOf, Judge, Verdict,
};
use livegraft_logic::task_table::{InsertError, Inserted, Slot, SwitchResult, TaskTable, Universe};

use Universe::{Patched, Unpatched};

const K: usize = 0xffff_8880_0400_0000;
const PARENT: usize = 0xffff_8880_0400_4000;
const CHILD: usize = 0xffff_8880_0400_8000;

fn storage(n: usize) -> Vec<Slot> {
    (0..n).map(|_| Slot::new()).collect()
}

#[test]
fn universe_of_uses_the_table_or_the_fallback() {
    assert_eq!(NO_TABLE_UNIVERSE, Unpatched);
    assert_eq!(universe_of(None, K), Unpatched);
    let s = storage(16);
    let t = TaskTable::new(&s, Patched).unwrap();
    assert_eq!(universe_of(Some(&t), K), Patched, "untracked: the default");
    t.insert(K, Unpatched).unwrap();
    assert_eq!(universe_of(Some(&t), K), Unpatched);
}

#[test]
fn select_version_rules() {
    // Stack [10 (older), 20 (top)] as indices 0, 1.
    let older = |i: usize| i.checked_sub(1);
    let sel =
        |top: Option<usize>, in_t: bool, u: Universe| select_version(top, |_| in_t, || u, older);
    assert_eq!(sel(None, true, Unpatched), None, "no version: the original");
    assert_eq!(
        sel(Some(1), false, Unpatched),
        Some(1),
        "not in transition: the top"
    );
    assert_eq!(sel(Some(1), true, Patched), Some(1));
    assert_eq!(
        sel(Some(1), true, Unpatched),
        Some(0),
        "unpatched: the older one"
    );
    assert_eq!(sel(Some(0), true, Unpatched), None, "... or the original");
    // The lookup is made only for a version in transition.
    let looked = std::cell::Cell::new(false);
    let r = select_version(
        Some(1usize),
        |_| false,
        || {
            looked.set(true);
            Unpatched
        },
        older,
    );
    assert_eq!(r, Some(1));
    assert!(!looked.get());
    assert_eq!(
        select_version(
            None::<usize>,
            |_| panic!("no flag without a version"),
            || Patched,
            older
        ),
        None
    );
}

#[test]
fn fork_rule() {
    let s = storage(16);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    t.insert(PARENT, Unpatched).unwrap();
    let ins = |k: usize, u: Universe| t.insert(k, u);
    assert_eq!(
        task_forked(&t, PARENT, CHILD, ins),
        Forked::Tracked {
            universe: Unpatched,
            in_target: false
        }
    );
    assert_eq!(t.lookup(CHILD), Some(Unpatched));
    assert_eq!(task_forked(&t, PARENT, CHILD, ins), Forked::AlreadyTracked);
    t.start_switching();
    assert_eq!(t.switch_task(PARENT, Patched), SwitchResult::Switched);
    let child2 = CHILD + 0x4000;
    assert_eq!(
        task_forked(&t, PARENT, child2, ins),
        Forked::Tracked {
            universe: Patched,
            in_target: true
        }
    );
    // The child gets the parent's universe, whatever the insert is told.
    let mut asked = None;
    let r = task_forked(&t, PARENT, CHILD + 0x8000, |k, u| {
        asked = Some((k, u));
        Err(InsertError::TableFull)
    });
    assert_eq!(
        r,
        Forked::Untracked { mixed: true },
        "a switched parent's untracked child finishes its unit in the other universe"
    );
    assert_eq!(asked, Some((CHILD + 0x8000, Patched)));
    t.insert(PARENT + 0x40, Unpatched).unwrap();
    assert_eq!(
        task_forked(&t, PARENT + 0x40, CHILD + 0x40, |_, _| Err(
            InsertError::TableFull
        )),
        Forked::Untracked { mixed: false },
        "a pending parent's untracked child runs where its parent runs"
    );
    // An untracked parent: the default universe.
    let mut asked = None;
    let _ = task_forked(&t, K, CHILD + 0xc000, |k, u| {
        asked = Some(u);
        Ok::<_, InsertError>(Inserted::New).map(|i| {
            let _ = k;
            i
        })
    });
    assert_eq!(asked, Some(Unpatched));
}

#[test]
fn switch_check_table() {
    use SafePoint::*;
    let all = [
        SyscallExit,
        ReturnToUser,
        WorkItemEnd,
        KthreadLoopHead,
        Freezer,
        CondResched,
        IdleLoop,
        IdleParked,
        Blocked,
        Sweep,
        OfflineIdle,
    ];
    for p in all {
        assert_eq!(switch_check(p, Context::HardIrq), Check::Refuse, "{p:?}");
        assert_eq!(switch_check(p, Context::SoftIrq), Check::Refuse, "{p:?}");
        let want = match p {
            SyscallExit | OfflineIdle => Check::None,
            ReturnToUser | WorkItemEnd | KthreadLoopHead | Freezer | CondResched | IdleLoop => {
                Check::CurrentStack
            }
            IdleParked | Blocked | Sweep => Check::PinnedStack,
        };
        assert_eq!(switch_check(p, Context::Task), want, "{p:?}");
    }
}

#[test]
fn wants_switch_table() {
    assert!(
        wants_switch(None, Patched, true),
        "untracked: try (the table says)"
    );
    assert!(wants_switch(Some(Unpatched), Patched, true));
    assert!(!wants_switch(Some(Patched), Patched, true), "already there");
    assert!(
        !wants_switch(Some(Unpatched), Patched, false),
        "not accepting"
    );
    assert!(!wants_switch(None, Patched, false));
}

#[test]
fn switch_at_applies_every_rule() {
    let s = storage(16);
    let t = TaskTable::new(&s, Unpatched).unwrap();
    t.insert(K, Unpatched).unwrap();
    t.insert(PARENT, Unpatched).unwrap();
    let never = || -> Verdict<usize> { panic!("no stack check expected") };
    // Not accepting yet.
    assert_eq!(
        switch_at(&t, K, SafePoint::SyscallExit, Context::Task, never),
        None
    );
    t.start_switching();
    // Interrupt context: refused, no check.
    assert_eq!(
        switch_at(&t, K, SafePoint::WorkItemEnd, Context::SoftIrq, never),
        None
    );
    // A stack check that finds affected code, or an unreliable stack: no switch.
    assert_eq!(
        switch_at(&t, K, SafePoint::KthreadLoopHead, Context::Task, || {
            Verdict::Affected(1)
        }),
        None
    );
    assert_eq!(
        switch_at(&t, K, SafePoint::Blocked, Context::Task, || {
            Verdict::Unreliable
        }),
        None
    );
    assert_eq!(t.lookup(K), Some(Unpatched));
    // A clean check switches.
    assert_eq!(
        switch_at(&t, K, SafePoint::CondResched, Context::Task, || {
            Verdict::Clean
        }),
        Some(SwitchResult::Switched)
    );
    // Already there: not attempted.
    assert_eq!(
        switch_at(&t, K, SafePoint::SyscallExit, Context::Task, never),
        None
    );
    // No check needed at syscall exit: the last pending task.
    assert_eq!(
        switch_at(&t, PARENT, SafePoint::SyscallExit, Context::Task, never),
        Some(SwitchResult::SwitchedLast)
    );
    // Untracked: attempted, not tracked.
    assert_eq!(
        switch_at(&t, CHILD, SafePoint::SyscallExit, Context::Task, never),
        Some(SwitchResult::NotTracked)
    );
    // The return to user mode checks the stack (task_work also runs in get_signal, do_exit).
    let u = CHILD + 0x4000;
    t.insert(u, Unpatched).unwrap();
    assert_eq!(
        switch_at(&t, u, SafePoint::ReturnToUser, Context::Task, || {
            Verdict::Affected(7)
        }),
        None
    );
    // A parked idle task is pinned: checked, then switched.
    let mut asked = false;
    assert_eq!(
        switch_at(&t, u, SafePoint::IdleParked, Context::Task, || {
            asked = true;
            Verdict::Clean
        }),
        Some(SwitchResult::SwitchedLast)
    );
    assert!(asked);
}

#[test]
fn judge_rules() {
    let affected = |a: usize| (100..200).contains(&a);
    assert_eq!(judge(&[1, 2, 3], true, affected), Verdict::Clean);
    assert_eq!(
        judge(&[1, 150, 160], true, affected),
        Verdict::Affected(150)
    );
    assert_eq!(
        judge(&[1, 2, 3], false, affected),
        Verdict::Unreliable,
        "an incomplete walk"
    );
    assert_eq!(
        judge(&[150], false, affected),
        Verdict::Affected(150),
        "an affected frame is enough"
    );
    assert_eq!(judge::<usize>(&[], true, affected), Verdict::Clean);
    assert_eq!(judge::<usize>(&[], false, affected), Verdict::Unreliable);
    assert_eq!(
        judge_stable::<usize>(true, || panic!("a dead task is not walked")),
        Verdict::Clean
    );
    assert_eq!(
        judge_stable(false, || Verdict::Affected(150usize)),
        Verdict::Affected(150)
    );
    assert_eq!(
        judge_stable::<usize>(false, || Verdict::Unreliable),
        Verdict::Unreliable
    );
}

/// The kernel's walk feeds the judge frame by frame and stops where it says.
#[test]
fn judge_streaming() {
    let seen = std::cell::RefCell::new(Vec::new());
    let mut j = Judge::new(|a: usize| {
        seen.borrow_mut().push(a);
        (100..200).contains(&a)
    });
    assert!(j.frame(1), "go on after a clean frame");
    assert!(!j.frame(150), "stop at the first affected frame");
    assert_eq!(j.verdict(false), Verdict::Affected(150));
    assert_eq!(*seen.borrow(), [1, 150]);
    // judge() stops asking at the first affected frame too.
    seen.borrow_mut().clear();
    let v = judge(&[1, 150, 160, 2], true, |a: usize| {
        seen.borrow_mut().push(a);
        (100..200).contains(&a)
    });
    assert_eq!(v, Verdict::Affected(150));
    assert_eq!(*seen.borrow(), [1, 150]);
    let mut j = Judge::new(|a: usize| a == 7);
    assert!(j.frame(1) && j.frame(2));
    assert_eq!(j.verdict(true), Verdict::Clean);
    let j = Judge::new(|a: usize| a == 7);
    assert_eq!(j.verdict(false), Verdict::Unreliable, "a walk that gave up");
}

#[test]
fn affected_code_rules() {
    assert_eq!(affected_for(Patched), Affected::OldCode);
    assert_eq!(affected_for(Unpatched), Affected::NewCode);
    assert_eq!(
        affected_code(Affected::OldCode, Some(1u32), 2),
        [CodeOf::Version(1), CodeOf::Original]
    );
    assert_eq!(
        affected_code(Affected::OldCode, None, 2u32),
        [CodeOf::Original, CodeOf::Original]
    );
    assert_eq!(
        affected_code(Affected::NewCode, Some(1u32), 2),
        [CodeOf::Version(2), CodeOf::Original]
    );
}

#[test]
fn late_code_is_both_sides() {
    use livegraft_logic::stack_verdict::{late_code, CodeOf};
    assert_eq!(
        late_code(Some(1u32), 2),
        [CodeOf::Version(2), CodeOf::Version(1), CodeOf::Original]
    );
    assert_eq!(
        late_code(None, 2u32),
        [CodeOf::Version(2), CodeOf::Original, CodeOf::Original]
    );
}
