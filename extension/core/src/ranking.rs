//! Search ranking: one score from the signals PostgreSQL computes for a product that
//! matched a query.
//!
//! ```text
//! score = w.text       * text                   (ts_rank_cd normalised to 0..1)
//!       + w.trigram    * trigram                (word_similarity, 0..1: typo tolerance)
//!       + w.exact      * [title == query]
//!       + w.prefix     * [title starts with query]
//!       + w.popularity * p / (p + 10)           (p = recent sales or views, saturating)
//!       + w.in_stock   * [in stock]
//! ```
//!
//! Every term is bounded, so one signal can dominate only through its weight; NaN or
//! negative inputs (which PostgreSQL should not send) count as 0.

/// The signals of one candidate.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Signals {
    /// `ts_rank_cd(vector, query, 32)`, already in 0..1 (normalisation 32 = rank/(rank+1)).
    pub text: f64,
    /// `word_similarity(query, title)`, 0..1.
    pub trigram: f64,
    /// The (unaccented, lower-case) title equals the query.
    pub exact_title: bool,
    /// The title starts with the query.
    pub prefix: bool,
    /// Popularity count (sales or views over a recent window).
    pub popularity: f64,
    /// At least one variant is available.
    pub in_stock: bool,
}

/// Weights of each signal (configurable in `shop.search_weight`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Weights {
    /// Full-text rank.
    pub text: f64,
    /// Trigram similarity.
    pub trigram: f64,
    /// Exact title match.
    pub exact: f64,
    /// Title prefix match.
    pub prefix: f64,
    /// Popularity.
    pub popularity: f64,
    /// In stock.
    pub in_stock: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Self {
            text: 1.0,
            trigram: 0.6,
            exact: 2.0,
            prefix: 0.5,
            popularity: 0.3,
            in_stock: 0.2,
        }
    }
}

fn unit(x: f64) -> f64 {
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn weight(w: f64) -> f64 {
    if w.is_finite() {
        w.max(0.0)
    } else {
        0.0
    }
}

/// The score of a candidate: higher ranks first.
pub fn score(s: &Signals, w: &Weights) -> f64 {
    let popularity = if s.popularity.is_finite() && s.popularity > 0.0 {
        s.popularity / (s.popularity + 10.0)
    } else {
        0.0
    };
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    weight(w.text) * unit(s.text)
        + weight(w.trigram) * unit(s.trigram)
        + weight(w.exact) * flag(s.exact_title)
        + weight(w.prefix) * flag(s.prefix)
        + weight(w.popularity) * popularity
        + weight(w.in_stock) * flag(s.in_stock)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_exact_title_outranks_a_mere_mention() {
        let w = Weights::default();
        let exact = Signals {
            text: 0.3,
            trigram: 1.0,
            exact_title: true,
            prefix: true,
            ..Default::default()
        };
        let mention = Signals {
            text: 0.6,
            trigram: 0.4,
            ..Default::default()
        };
        assert!(score(&exact, &w) > score(&mention, &w));
    }

    #[test]
    fn stock_breaks_a_tie() {
        let w = Weights::default();
        let base = Signals {
            text: 0.5,
            trigram: 0.5,
            ..Default::default()
        };
        assert!(
            score(
                &Signals {
                    in_stock: true,
                    ..base
                },
                &w
            ) > score(&base, &w)
        );
    }

    #[test]
    fn bad_inputs_count_as_zero() {
        let w = Weights::default();
        let bad = Signals {
            text: f64::NAN,
            trigram: -3.0,
            popularity: f64::INFINITY,
            ..Default::default()
        };
        assert_eq!(score(&bad, &w), 0.0);
        let w_bad = Weights {
            text: f64::NAN,
            ..Weights::default()
        };
        assert_eq!(
            score(
                &Signals {
                    text: 1.0,
                    ..Default::default()
                },
                &w_bad
            ),
            0.0
        );
    }

    fn signals() -> impl Strategy<Value = Signals> {
        (
            0.0..1.0f64,
            0.0..1.0f64,
            any::<bool>(),
            any::<bool>(),
            0.0..1e6f64,
            any::<bool>(),
        )
            .prop_map(
                |(text, trigram, exact_title, prefix, popularity, in_stock)| Signals {
                    text,
                    trigram,
                    exact_title,
                    prefix,
                    popularity,
                    in_stock,
                },
            )
    }

    proptest! {
        #[test]
        fn scores_are_finite_non_negative_and_bounded(s in signals()) {
            let w = Weights::default();
            let v = score(&s, &w);
            let max = w.text + w.trigram + w.exact + w.prefix + w.popularity + w.in_stock;
            prop_assert!(v.is_finite() && v >= 0.0 && v <= max);
        }

        #[test]
        fn more_of_any_signal_never_lowers_the_score(s in signals(), bump in 0.0..1.0f64) {
            let w = Weights::default();
            let base = score(&s, &w);
            let raised = [
                Signals { text: (s.text + bump).min(1.0), ..s },
                Signals { trigram: (s.trigram + bump).min(1.0), ..s },
                Signals { popularity: s.popularity + bump * 100.0, ..s },
                Signals { exact_title: true, ..s },
                Signals { prefix: true, ..s },
                Signals { in_stock: true, ..s },
            ];
            for r in raised {
                let higher = score(&r, &w);
                prop_assert!(higher >= base, "{:?} scored {} < {}", r, higher, base);
            }
        }
    }
}
