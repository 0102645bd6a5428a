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
