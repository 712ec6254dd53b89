//! Pricing: `maef.quote(jsonb)` and `maef.validate_promotion_rules(jsonb)`.
//!
//! Both are pure functions of their argument (SQL gathers the data and passes it in),
//! hence IMMUTABLE and PARALLEL SAFE. The engine and its tests live in
//! `maef_core::pricing`; this module only converts `jsonb` to and from its types.

use maef_core::pricing::{self, QuoteInput};
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};

/// Raises `22023 invalid_parameter_value` (maef-api maps it to 422).
fn invalid(message: String) -> ! {
    ereport!(ERROR, PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message);
}

/// `maef.quote(input)` → the quote of a cart (see `maef_core::pricing::model` for both
/// documents). A malformed input raises `22023 invalid_parameter_value`.
#[pg_extern(immutable, parallel_safe, strict)]
fn quote(input: JsonB) -> JsonB {
    let input: QuoteInput =
        serde_json::from_value(input.0).unwrap_or_else(|e| invalid(format!("invalid quote input: {e}")));
    let quote = pricing::quote(&input).unwrap_or_else(|e| invalid(e.to_string()));
    JsonB(serde_json::to_value(quote).unwrap_or_else(|e| error!("quote serialisation: {e}")))
}

/// `maef.validate_promotion_rules(rules)` → `NULL` when the rules document is valid,
/// else `{"path": "$.action.percent", "message": "must be between 1 and 100"}`.
/// SQL turns the latter into a 422 naming the path.
#[pg_extern(immutable, parallel_safe, strict)]
fn validate_promotion_rules(rules: JsonB) -> Option<JsonB> {
    pricing::validate_rules(&rules.0)
        .err()
        .map(|e| JsonB(serde_json::json!({"path": e.path, "message": e.message})))
}

extension_sql!(
    r#"
COMMENT ON FUNCTION quote(jsonb) IS
  'Prices a cart: lines, promotions, coupon, customer, tax and shipping in; lines with allocated discounts, totals and messages out. Minor units, half-to-even rounding.';
COMMENT ON FUNCTION validate_promotion_rules(jsonb) IS
  'NULL when a promotion rules document is valid, else {"path", "message"} naming the first error.';
"#,
    name = "pricing_comments",
    requires = [quote, validate_promotion_rules]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn quote_prices_a_cart_with_a_percentage_off() {
        let total = Spi::get_one::<i64>(
            r#"SELECT (maef.quote('{"currency":"EUR","exponent":2,
                 "lines":[{"line_id":1,"variant_id":1,"quantity":2,"unit_price":1999,"tax_rate_bp":2000}],
                 "promotions":[{"promotion_id":7,"name":"ten","stacking":"exclusive",
                   "rules":{"action":{"type":"percent_off_items","percent":10}}}]}')
               ->>'grand_total')::bigint"#,
        );
        // 39.98 − 4.00 (3.998 → 4.00) = 35.98; tax 20 % = 7.196 → 7.20; 43.18
        assert_eq!(total, Ok(Some(4318)));
    }

    #[pg_test]
    fn validation_names_the_path_of_the_error() {
        let path = Spi::get_one::<String>(
            r#"SELECT maef.validate_promotion_rules('{"action":{"type":"percent_off_items","percent":0}}')->>'path'"#,
        );
        assert_eq!(path, Ok(Some("$.action.percent".to_string())));
        let ok = Spi::get_one::<bool>(
            r#"SELECT maef.validate_promotion_rules('{"action":{"type":"free_shipping"}}') IS NULL"#,
        );
        assert_eq!(ok, Ok(Some(true)));
    }

    #[pg_test]
    fn pricing_functions_are_immutable_and_parallel_safe() {
        let n = Spi::get_one::<i64>(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = 'maef' AND p.provolatile = 'i' AND p.proparallel = 's' \
             AND p.proname IN ('quote', 'validate_promotion_rules')",
        );
        assert_eq!(n, Ok(Some(2)));
    }

    #[pg_test(error = "line 1: quantity must be at least 1")]
    fn a_zero_quantity_is_an_error() {
        let _ = Spi::get_one::<pgrx::JsonB>(
            r#"SELECT maef.quote('{"currency":"XOF","exponent":0,
                 "lines":[{"line_id":1,"variant_id":1,"quantity":0,"unit_price":100}]}')"#,
        );
    }
}
