//! Unit tests of `symbols`: upstream livepatch's sympos semantics and the lifecycle-hook policy.

use livegraft_logic::symbols::{
    check_hooks, hook_verdict, resolve_in, HookVerdict, Need, Resolution, Search,
};

const A: usize = 0xffff_ffff_8100_1000;
const B: usize = 0xffff_ffff_8100_2000;
const C: usize = 0xffff_ffff_8100_3000;

#[test]
fn unique_name() {
    assert_eq!(resolve_in(&[A], 0), Resolution::Found(A));
    // Upstream accepts sympos 1 for a unique name too.
    assert_eq!(resolve_in(&[A], 1), Resolution::Found(A));
    assert_eq!(resolve_in(&[A], 2), Resolution::NoSuchPosition);
}

#[test]
fn sympos_zero_refuses_ambiguity() {
    // Not "the first one": a silent pick can patch a function of another prototype.
    assert_eq!(resolve_in(&[A, B], 0), Resolution::Ambiguous);
    assert_eq!(resolve_in(&[A, B, C], 0), Resolution::Ambiguous);
}

#[test]
fn sympos_counts_positions_exactly() {
    assert_eq!(resolve_in(&[A, B, C], 1), Resolution::Found(A));
    assert_eq!(resolve_in(&[A, B, C], 2), Resolution::Found(B));
    assert_eq!(resolve_in(&[A, B, C], 3), Resolution::Found(C));
    assert_eq!(resolve_in(&[A, B, C], 4), Resolution::NoSuchPosition);
    assert_eq!(resolve_in(&[A, B], u64::MAX), Resolution::NoSuchPosition);
}

#[test]
fn missing_name() {
    for pos in [0, 1, 2] {
        assert_eq!(resolve_in(&[], pos), Resolution::NotFound);
    }
    // Upstream treats a symbol at address 0 as not found.
    assert_eq!(resolve_in(&[0], 0), Resolution::NotFound);
}

#[test]
fn walk_stops_where_upstream_stops() {
    // sympos 0: the second symbol proves the ambiguity.
    let mut s = Search::new(0);
    assert!(!s.visit(A));
    assert!(s.visit(B));
    // sympos 2: stop at the second, which is the one found.
    let mut s = Search::new(2);
    assert!(!s.visit(A));
    assert!(s.visit(B));
    assert_eq!(s.verdict(), Resolution::Found(B));
    // sympos 3 of two: the walk runs to its end and the position is missing.
    let mut s = Search::new(3);
    assert!(!s.visit(A));
    assert!(!s.visit(B));
    assert_eq!(s.verdict(), Resolution::NoSuchPosition);
}

#[test]
fn required_hooks_fail_when_missing() {
    assert_eq!(hook_verdict(Need::Required, Resolution::Found(A)), HookVerdict::Use(A));
    assert_eq!(hook_verdict(Need::Required, Resolution::NotFound), HookVerdict::Fail);
    assert_eq!(hook_verdict(Need::Required, Resolution::Ambiguous), HookVerdict::Fail);
}

#[test]
fn optional_hooks_may_be_absent_but_not_ambiguous() {
    assert_eq!(hook_verdict(Need::Optional, Resolution::Found(A)), HookVerdict::Use(A));
    assert_eq!(hook_verdict(Need::Optional, Resolution::NotFound), HookVerdict::Absent);
    assert_eq!(hook_verdict(Need::Optional, Resolution::Ambiguous), HookVerdict::Fail);
}

#[test]
fn hook_table() {
    let all = [
        (Need::Required, Resolution::Found(A)),
        (Need::Optional, Resolution::NotFound),
        (Need::Required, Resolution::Found(B)),
    ];
    assert_eq!(check_hooks(&all), Ok([A, 0, B]));
    let missing_required = [
        (Need::Required, Resolution::Found(A)),
        (Need::Optional, Resolution::NotFound),
        (Need::Required, Resolution::NotFound),
    ];
    assert_eq!(check_hooks(&missing_required), Err(2));
    let ambiguous_optional = [
        (Need::Optional, Resolution::Ambiguous),
        (Need::Required, Resolution::NotFound),
    ];
    assert_eq!(check_hooks(&ambiguous_optional), Err(0));
}
