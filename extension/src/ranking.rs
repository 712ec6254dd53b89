//! `maef.search_score`: the search ranking of `maef_core::ranking`, callable from SQL.

use maef_core::ranking::{score, Signals, Weights};
use pgrx::prelude::*;

/// Combines the match signals of a search candidate into one score (higher first).
/// Weights come last so SQL callers pass them from `shop.search_weight`.
#[allow(clippy::too_many_arguments)]
#[pg_extern(immutable, parallel_safe, strict)]
fn search_score(
    text_rank: f64,
    trigram: f64,
    exact_title: bool,
    prefix: bool,
    popularity: f64,
    in_stock: bool,
    w_text: default!(f64, 1.0),
    w_trigram: default!(f64, 0.6),
    w_exact: default!(f64, 2.0),
    w_prefix: default!(f64, 0.5),
    w_popularity: default!(f64, 0.3),
    w_in_stock: default!(f64, 0.2),
) -> f64 {
    let signals = Signals {
        text: text_rank,
        trigram,
        exact_title,
        prefix,
        popularity,
        in_stock,
    };
    let weights = Weights {
        text: w_text,
        trigram: w_trigram,
        exact: w_exact,
        prefix: w_prefix,
        popularity: w_popularity,
        in_stock: w_in_stock,
    };
    score(&signals, &weights)
}

extension_sql!(
    r#"
COMMENT ON FUNCTION search_score(double precision, double precision, boolean, boolean, double precision, boolean,
                                 double precision, double precision, double precision, double precision, double precision, double precision) IS
  'Search score: w_text*text_rank + w_trigram*trigram + w_exact*[exact title] + w_prefix*[prefix] + w_popularity*p/(p+10) + w_in_stock*[in stock]; inputs clamped to 0..1.';
"#,
    name = "ranking_comments",
    requires = [search_score]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn search_score_matches_the_documented_formula() {
        let v = Spi::get_one::<f64>("SELECT maef.search_score(0.5, 0.5, true, false, 10, true)");
        // 1.0*0.5 + 0.6*0.5 + 2.0 + 0 + 0.3*0.5 + 0.2
        assert_eq!(v, Ok(Some(3.15)));
        let weighted =
            Spi::get_one::<f64>("SELECT maef.search_score(1, 0, false, false, 0, false, w_text => 3)");
        assert_eq!(weighted, Ok(Some(3.0)));
    }
}
