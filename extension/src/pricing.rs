//! Pricing: `maef.quote(jsonb)`, `maef.quote_cart(text, …)` and
//! `maef.validate_promotion_rules(jsonb)`.
//!
//! All are pure functions of their arguments (SQL gathers the data and passes it in),
//! hence IMMUTABLE and PARALLEL SAFE. The engine and its tests live in
//! `maef_core::pricing`; this module only converts arguments to and from its types.
//! `maef.quote_cart` is the fast path `api.cart_quote` uses: JSON text in and out, so
//! serde reads and writes it once (pgrx's `JsonB` goes through `jsonb_out`, a
//! `serde_json::Value` and `jsonb_in`, several times the engine's cost).

use maef_core::pricing::{self, CartContext, QuoteInput};
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

/// `maef.quote_cart(input, cart_id, coupon_code, shipping_country, unavailable)` → the
/// quote `api.cart_quote` returns, as JSON text: `input` is a quote input document (JSON
/// text, as `maef.quote` takes), the other arguments what SQL knows of the cart
/// (`unavailable`: SKUs of items no longer sold, each named in a message). Not STRICT:
/// the coupon code and the country may be null. A malformed input raises
/// `22023 invalid_parameter_value`.
#[pg_extern(immutable, parallel_safe)]
fn quote_cart(
    input: Option<&str>,
    cart_id: Option<&str>,
    coupon_code: Option<&str>,
    shipping_country: Option<&str>,
    unavailable: Option<Vec<Option<String>>>,
) -> Option<String> {
    let input = input?;
    let cart = CartContext {
        cart_id: cart_id.unwrap_or_default(),
        coupon_code,
        shipping_country,
        unavailable: unavailable.unwrap_or_default().into_iter().flatten().collect(),
    };
    Some(pricing::cart_quote_json(input, &cart).unwrap_or_else(|e| invalid(e.to_string())))
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
COMMENT ON FUNCTION quote_cart(text, text, text, text, text[]) IS
  'Prices a cart from JSON text (the maef.quote input) and returns the quote api.cart_quote shows, as JSON text: with cart_id, coupon_code, shipping_country, grand_total_formatted and an item_unavailable message per SKU in unavailable.';
COMMENT ON FUNCTION validate_promotion_rules(jsonb) IS
  'NULL when a promotion rules document is valid, else {"path", "message"} naming the first error.';
"#,
    name = "pricing_comments",
    requires = [quote, quote_cart, validate_promotion_rules]
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
             AND p.proname IN ('quote', 'quote_cart', 'validate_promotion_rules')",
        );
        assert_eq!(n, Ok(Some(3)));
    }

    #[pg_test]
    fn quote_cart_adds_the_carts_identity_and_names_unavailable_items() {
        let quote = Spi::get_one::<pgrx::JsonB>(
            r#"SELECT maef.quote_cart('{"currency":"XOF","exponent":0,
                 "lines":[{"line_id":1,"variant_id":1,"quantity":3,"unit_price":15000}]}',
                 'c1', NULL, 'SN', ARRAY['GONE-1'])::jsonb"#,
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(quote["grand_total"], 45000);
        assert_eq!(quote["grand_total_formatted"], "45,000 XOF");
        assert_eq!(quote["cart_id"], "c1");
        assert_eq!(quote["coupon_code"], serde_json::Value::Null);
        assert_eq!(quote["shipping_country"], "SN");
        assert_eq!(quote["messages"][0]["text"], "GONE-1 is no longer available");
    }

    #[pg_test(error = "line 1: quantity must be at least 1")]
    fn a_zero_quantity_is_an_error() {
        let _ = Spi::get_one::<pgrx::JsonB>(
            r#"SELECT maef.quote('{"currency":"XOF","exponent":0,
                 "lines":[{"line_id":1,"variant_id":1,"quantity":0,"unit_price":100}]}')"#,
        );
    }
}
