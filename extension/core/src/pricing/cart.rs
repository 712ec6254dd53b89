//! A cart's quote as the SQL API returns it (`api.cart_quote`): the engine's [`Quote`]
//! plus the cart's identity, the grand total formatted for display and one
//! `item_unavailable` message per cart item left out of the totals.
//!
//! Why here and not in SQL: a quote travels as JSON *text* from the gathering query to
//! the engine and back (parsed once by serde, written once), instead of `jsonb` → text →
//! `serde_json::Value` → types and back, then merged with `jsonb ||`. Those conversions
//! cost PostgreSQL about 40 times the engine's own time per 20-line cart.

use serde::Serialize;
use thiserror::Error;

use super::model::{Message, Quote, QuoteError, QuoteInput};
use crate::money;

/// What SQL knows about the cart beyond the engine's input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CartContext<'a> {
    /// The cart's id (a UUID as text).
    pub cart_id: &'a str,
    /// The code entered on the cart, usable or not.
    pub coupon_code: Option<&'a str>,
    /// The destination the shopper chose, if any.
    pub shipping_country: Option<&'a str>,
    /// SKUs of cart items no longer sold (inactive, or without a price in the cart's
    /// currency), in cart order: left out of the totals, named in a message each.
    pub unavailable: Vec<String>,
}

/// The document `api.cart_quote` returns.
#[derive(Debug, Serialize)]
pub struct CartQuote<'a> {
    /// The engine's quote (its fields at the top level).
    #[serde(flatten)]
    pub quote: Quote,
    /// The cart's id.
    pub cart_id: &'a str,
    /// The code entered on the cart.
    pub coupon_code: Option<&'a str>,
    /// The chosen destination.
    pub shipping_country: Option<&'a str>,
    /// `grand_total` as `money::format` writes it (`"1,234.50 EUR"`).
    pub grand_total_formatted: String,
}

/// Why a cart quote cannot be produced.
#[derive(Debug, Error)]
pub enum CartQuoteError {
    /// The input is not a quote input document.
    #[error("invalid quote input: {0}")]
    Input(#[from] serde_json::Error),
    /// The engine refused the input.
    #[error(transparent)]
    Quote(#[from] QuoteError),
    /// The currency exponent is out of range.
    #[error(transparent)]
    Money(#[from] money::MoneyError),
}

/// Prices `input` (a [`QuoteInput`] as JSON text) and returns the cart's quote as JSON
/// text.
///
/// # Errors
/// [`CartQuoteError`]: malformed input, an input the engine refuses, a bad exponent.
pub fn cart_quote_json(input: &str, cart: &CartContext<'_>) -> Result<String, CartQuoteError> {
    let input: QuoteInput = serde_json::from_str(input)?;
    let mut quote = super::quote(&input)?;
    quote.messages.extend(cart.unavailable.iter().map(|sku| Message {
        code: "item_unavailable".into(),
        text: format!("{sku} is no longer available"),
        promotion_id: None,
    }));
    let grand_total_formatted = money::format(quote.grand_total, quote.exponent, &quote.currency)?;
    Ok(serde_json::to_string(&CartQuote {
        quote,
        cart_id: cart.cart_id,
        coupon_code: cart.coupon_code,
        shipping_country: cart.shipping_country,
        grand_total_formatted,
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn input() -> String {
        json!({"currency": "EUR", "exponent": 2, "tax_inclusive": true,
               "lines": [{"line_id": 1, "variant_id": 1, "quantity": 2, "unit_price": 123450,
                          "label": {"sku": "A-1"}}]})
        .to_string()
    }

    #[test]
    fn the_cart_quote_is_the_engine_quote_with_the_carts_identity_and_formatted_total() {
        let cart = CartContext {
            cart_id: "c1",
            coupon_code: Some("SPRING"),
            ..CartContext::default()
        };
        let out: Value = serde_json::from_str(&cart_quote_json(&input(), &cart).unwrap()).unwrap();
        let engine =
            serde_json::to_value(super::super::quote(&serde_json::from_str(&input()).unwrap()).unwrap())
                .unwrap();
        for (key, value) in engine.as_object().unwrap() {
            assert_eq!(&out[key], value, "{key}");
        }
        assert_eq!(out["cart_id"], "c1");
        assert_eq!(out["coupon_code"], "SPRING");
        assert_eq!(out["shipping_country"], Value::Null);
        assert_eq!(out["grand_total_formatted"], "2,469.00 EUR");
        assert_eq!(out["lines"][0]["label"]["sku"], "A-1");
    }

    #[test]
    fn each_unavailable_item_is_named_in_a_message_after_the_engines() {
        let cart = CartContext {
            cart_id: "c1",
            unavailable: vec!["GONE-1".into(), "GONE-2".into()],
            ..CartContext::default()
        };
        let out: Value = serde_json::from_str(&cart_quote_json(&input(), &cart).unwrap()).unwrap();
        assert_eq!(
            out["messages"],
            json!([{"code": "item_unavailable", "text": "GONE-1 is no longer available", "promotion_id": null},
                   {"code": "item_unavailable", "text": "GONE-2 is no longer available", "promotion_id": null}])
        );
    }

    #[test]
    fn malformed_input_and_refused_input_are_errors() {
        let cart = CartContext::default();
        assert!(matches!(
            cart_quote_json("{", &cart),
            Err(CartQuoteError::Input(_))
        ));
        let zero = input().replace("\"quantity\":2", "\"quantity\":0");
        assert!(matches!(
            cart_quote_json(&zero, &cart),
            Err(CartQuoteError::Quote(_))
        ));
    }
}
