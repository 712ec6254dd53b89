//! Integer arithmetic the engine needs: half-to-even division and exact allocation.

/// `num / den` rounded half to even, for `num >= 0` and `den > 0`.
///
/// Half-to-even (banker's rounding) has no upward bias over many roundings, which is
/// why the money module uses it too.
#[must_use]
pub fn div_half_even(num: i128, den: i128) -> i128 {
    debug_assert!(num >= 0 && den > 0);
    let (q, r) = (num / den, num % den);
    match (2 * r).cmp(&den) {
        std::cmp::Ordering::Less => q,
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal => q + (q & 1),
    }
}

/// Splits `total` into parts proportional to `weights` that sum **exactly** to `total`
/// (largest-remainder method): every part gets the floor of its exact share, and the
/// units left over go to the largest remainders, ties to the earlier index.
///
/// Callers pass weights in a canonical order (lines sorted by id), so the result does
/// not depend on the order lines were added. When `0 <= total <= sum(weights)` each part
/// is at most its weight, so a discount never exceeds the amount it is taken from.
#[must_use]
pub fn allocate(total: i128, weights: &[i128]) -> Vec<i128> {
    let sum: i128 = weights.iter().sum();
    if sum <= 0 || total == 0 {
        return vec![0; weights.len()];
    }
    let mut parts: Vec<i128> = weights.iter().map(|w| total * w / sum).collect();
    let mut left = total - parts.iter().sum::<i128>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    // Stable sort: equal remainders keep index order.
    order.sort_by_key(|&i| std::cmp::Reverse(total * weights[i] % sum));
    for i in order {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_round_to_the_even_neighbour() {
        assert_eq!(div_half_even(5, 2), 2);
        assert_eq!(div_half_even(7, 2), 4);
        assert_eq!(div_half_even(149, 100), 1);
        assert_eq!(div_half_even(151, 100), 2);
        assert_eq!(div_half_even(0, 3), 0);
    }

    #[test]
    fn a_third_is_split_with_the_leftover_unit_first() {
        assert_eq!(allocate(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(allocate(10, &[0, 5, 5]), vec![0, 5, 5]);
        assert_eq!(allocate(7, &[0, 0]), vec![0, 0]);
    }

    proptest! {
        #[test]
        fn allocation_sums_exactly_and_stays_within_weights(
            weights in proptest::collection::vec(0i128..1_000_000, 1..20),
            share in 0u32..=100,
        ) {
            let sum: i128 = weights.iter().sum();
            let total = sum * i128::from(share) / 100;
            let parts = allocate(total, &weights);
            if sum > 0 {
                prop_assert_eq!(parts.iter().sum::<i128>(), total);
            }
            for (p, w) in parts.iter().zip(&weights) {
                prop_assert!(*p >= 0 && p <= w);
            }
        }
    }
}
