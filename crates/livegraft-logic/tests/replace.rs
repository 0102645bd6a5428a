//! Unit tests of `replace`: which functions a cumulative patch reverts, and stack order.

use livegraft_logic::replace::{reverted, stack_order};

fn rev(older: &[u32], new: &[u32]) -> Vec<u32> {
    reverted(older, new).collect()
}

#[test]
fn functions_only_the_replaced_patches_touch_get_a_nop() {
    // lg_testpatch and lg_testpatch2 replace a, b, unit, block (1..4); lg_replace a and unit.
    assert_eq!(rev(&[1, 2, 3, 4, 1, 2, 3, 4], &[1, 3]), vec![2, 4]);
}

#[test]
fn each_function_once_in_first_seen_order() {
    assert_eq!(rev(&[5, 2, 5, 7, 2], &[]), vec![5, 2, 7]);
}

#[test]
fn nothing_to_revert() {
    assert_eq!(rev(&[], &[1, 2]), Vec::<u32>::new());
    assert_eq!(rev(&[1, 2, 2], &[2, 1, 9]), Vec::<u32>::new());
}

#[test]
fn new_functions_are_not_nops() {
    assert_eq!(rev(&[1], &[1, 2, 3]), Vec::<u32>::new());
}

#[test]
fn stack_order_is_the_position_in_enable_order() {
    let ids = [7u32, 3, 9];
    assert_eq!(stack_order(ids, 3), Some(1));
    assert_eq!(stack_order(ids, 7), Some(2));
    assert_eq!(stack_order(ids, 9), Some(3));
    assert_eq!(stack_order(ids, 4), None);
    // The only patch left after a replace is first.
    assert_eq!(stack_order([9u32], 9), Some(1));
}

use livegraft_logic::replace::{at_replace_end, coming, Coming, ReplaceEnd};

#[test]
fn a_replace_unhooks_its_nops_and_cuts_below_its_versions() {
    assert_eq!(at_replace_end(true), ReplaceEnd::Unhook);
    assert_eq!(at_replace_end(false), ReplaceEnd::CutOlder);
}

#[test]
fn coming_pushes_pushed_patches_marked_only_for_the_transition() {
    // (nop, replacing, pushed, in_transition)
    for nop_ok in [(false, false), (false, true), (true, true)] {
        let (nop, replacing) = nop_ok;
        assert_eq!(coming(nop, replacing, false, false), Coming::Attach);
        assert_eq!(coming(nop, replacing, false, true), Coming::Attach);
        assert_eq!(coming(nop, replacing, true, false), Coming::Push { in_transition: false });
        assert_eq!(coming(nop, replacing, true, true), Coming::Push { in_transition: true });
    }
}

#[test]
fn coming_skips_the_nops_of_a_replace_that_is_over() {
    for pushed in [false, true] {
        for in_transition in [false, true] {
            assert_eq!(coming(true, false, pushed, in_transition), Coming::Skip);
        }
    }
}

#[test]
fn stack_order_names_the_first_function_with_a_newer_version() {
    use livegraft_logic::replace::{newer_on_top, FuncTop::*};
    assert_eq!(newer_on_top([Live(Some(3u32), 3), Live(None, 3), Live(Some(3), 3)]), None);
    assert_eq!(newer_on_top([Live(Some(3u32), 3), Live(Some(4), 3), Live(Some(5), 3)]), Some(1));
    assert_eq!(newer_on_top([Live(Some(4u32), 3)]), Some(0));
    assert_eq!(newer_on_top(Vec::<livegraft_logic::replace::FuncTop<u32>>::new()), None);
    // A function of a module not loaded counts when a newer patch replaces it too.
    assert_eq!(newer_on_top([Live(Some(3u32), 3), Unloaded(false)]), None);
    assert_eq!(newer_on_top([Live(Some(3u32), 3), Unloaded(true)]), Some(1));
}
