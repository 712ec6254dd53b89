//! Validation of a promotion's `rules` document, naming the JSON path of the first error.
//!
//! # Schema
//! ```json
//! {
//!   "conditions": {                       // optional; every condition optional
//!     "min_subtotal": 5000,               // integer >= 0, minor units, matched lines
//!     "min_quantity": 2,                  // integer >= 1, matched units
//!     "products": [1, 2], "variants": [3], "categories": [4],   // positive integers
//!     "tags": ["summer"], "brands": ["Acme"], "customer_groups": ["vip"],  // non-empty strings
//!     "first_order": true, "coupon_required": true               // booleans
//!   },
//!   "action": {"type": "percent_off_items", "percent": 10},      // required, see below
//!   "combines_with": ["product", "order", "shipping"]            // optional
//! }
//! ```
//! Action types: `percent_off_items` / `percent_off_order` (`percent` 1..=100),
//! `amount_off_items` / `amount_off_order` / `fixed_price` (`amount` >= 0 minor units),
//! `buy_x_get_y` (`buy` >= 1, `get` >= 1, optional `percent` 1..=100, default 100),
//! `free_shipping` (no field).

use serde_json::{Map, Value};
use thiserror::Error;

use super::model::Rules;

/// The first problem found in a rules document.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{path}: {message}")]
pub struct RuleError {
    /// JSONPath of the offending value (`$.action.percent`).
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

fn err<T>(path: &str, message: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError {
        path: path.to_string(),
        message: message.into(),
    })
}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, RuleError> {
    v.as_object().map_or_else(|| err(path, "must be an object"), Ok)
}

fn int_at_least(v: &Value, path: &str, min: i64, max: i64) -> Result<(), RuleError> {
    match v.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(()),
        Some(_) => err(path, format!("must be between {min} and {max}")),
        None => err(path, "must be an integer"),
    }
}

fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, RuleError> {
    v.as_array().map_or_else(|| err(path, "must be an array"), Ok)
}

fn check_fields(map: &Map<String, Value>, path: &str, allowed: &[&str]) -> Result<(), RuleError> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => err(&format!("{path}.{k}"), "unknown field"),
        None => Ok(()),
    }
}

fn conditions(v: &Value, path: &str) -> Result<(), RuleError> {
    let map = object(v, path)?;
    for (key, value) in map {
        let at = format!("{path}.{key}");
        match key.as_str() {
            "min_subtotal" => int_at_least(value, &at, 0, i64::MAX)?,
            "min_quantity" => int_at_least(value, &at, 1, i64::MAX)?,
            "products" | "variants" | "categories" => {
                for (i, item) in array(value, &at)?.iter().enumerate() {
                    int_at_least(item, &format!("{at}[{i}]"), 1, i64::MAX)?;
                }
            }
            "tags" | "brands" | "customer_groups" => {
                for (i, item) in array(value, &at)?.iter().enumerate() {
                    if item.as_str().is_none_or(str::is_empty) {
                        return err(&format!("{at}[{i}]"), "must be a non-empty string");
                    }
                }
            }
            "first_order" | "coupon_required" => {
                if !value.is_boolean() {
                    return err(&at, "must be a boolean");
                }
            }
            _ => return err(&at, "unknown field"),
        }
    }
    Ok(())
}

fn action(v: &Value, path: &str) -> Result<(), RuleError> {
    let map = object(v, path)?;
    let kind = match map.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return err(&format!("{path}.type"), "must be a string"),
        None => return err(&format!("{path}.type"), "is required"),
    };
    let required: &[(&str, i64, i64)] = match kind {
        "percent_off_items" | "percent_off_order" => &[("percent", 1, 100)],
        "amount_off_items" | "amount_off_order" | "fixed_price" => &[("amount", 0, i64::MAX)],
        "buy_x_get_y" => &[("buy", 1, 1000), ("get", 1, 1000)],
        "free_shipping" => &[],
        _ => {
            return err(
                &format!("{path}.type"),
                "must be one of percent_off_items, amount_off_items, fixed_price, buy_x_get_y, \
                 percent_off_order, amount_off_order, free_shipping",
            )
        }
    };
    for (field, min, max) in required {
        let at = format!("{path}.{field}");
        match map.get(*field) {
            Some(value) => int_at_least(value, &at, *min, *max)?,
            None => return err(&at, "is required"),
        }
    }
    let mut allowed: Vec<&str> = vec!["type"];
    allowed.extend(required.iter().map(|(f, _, _)| *f));
    if kind == "buy_x_get_y" {
        allowed.push("percent");
        if let Some(p) = map.get("percent") {
            int_at_least(p, &format!("{path}.percent"), 1, 100)?;
        }
    }
    check_fields(map, path, &allowed)
}

/// Checks a rules document against the schema above and returns it typed.
///
/// # Errors
/// [`RuleError`] with the JSONPath (`$.conditions.tags[2]`) of the first bad value.
pub fn validate_rules(rules: &Value) -> Result<Rules, RuleError> {
    let map = object(rules, "$")?;
    check_fields(map, "$", &["conditions", "action", "combines_with"])?;
    if let Some(c) = map.get("conditions") {
        conditions(c, "$.conditions")?;
    }
    match map.get("action") {
        Some(a) => action(a, "$.action")?,
        None => return err("$.action", "is required"),
    }
    if let Some(c) = map.get("combines_with") {
        for (i, item) in array(c, "$.combines_with")?.iter().enumerate() {
            if !matches!(item.as_str(), Some("product" | "order" | "shipping")) {
                return err(
                    &format!("$.combines_with[{i}]"),
                    "must be one of product, order, shipping",
                );
            }
        }
    }
    // The checks above mirror the serde model, so this only fails if they drift apart.
    serde_json::from_value(rules.clone()).map_err(|e| RuleError {
        path: "$".into(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn path_of(v: Value) -> String {
        validate_rules(&v).unwrap_err().path
    }

    #[test]
    fn a_complete_rule_is_accepted() {
        let rules = json!({
            "conditions": {"min_subtotal": 5000, "min_quantity": 2, "products": [1],
                "categories": [3], "tags": ["summer"], "brands": ["Acme"],
                "customer_groups": ["vip"], "first_order": false, "coupon_required": true},
            "action": {"type": "buy_x_get_y", "buy": 2, "get": 1, "percent": 50},
            "combines_with": ["order", "shipping"]
        });
        assert!(validate_rules(&rules).is_ok());
        assert!(validate_rules(&json!({"action": {"type": "free_shipping"}})).is_ok());
    }

    #[test]
    fn errors_name_the_json_path_of_the_bad_value() {
        assert_eq!(path_of(json!({})), "$.action");
        assert_eq!(path_of(json!([])), "$");
        assert_eq!(
            path_of(json!({"action": {"type": "percent_off_items", "percent": 150}})),
            "$.action.percent"
        );
        assert_eq!(
            path_of(json!({"action": {"type": "percent_off_items"}})),
            "$.action.percent"
        );
        assert_eq!(path_of(json!({"action": {"type": "teleport"}})), "$.action.type");
        assert_eq!(
            path_of(json!({"action": {"type": "free_shipping", "amount": 1}})),
            "$.action.amount"
        );
        assert_eq!(
            path_of(json!({"action": {"type": "free_shipping"}, "conditions": {"tags": ["a", ""]}})),
            "$.conditions.tags[1]"
        );
        assert_eq!(
            path_of(json!({"action": {"type": "free_shipping"}, "conditions": {"min_subtotal": -1}})),
            "$.conditions.min_subtotal"
        );
        assert_eq!(
            path_of(json!({"action": {"type": "free_shipping"}, "conditions": {"colour": "red"}})),
            "$.conditions.colour"
        );
        assert_eq!(
            path_of(json!({"action": {"type": "free_shipping"}, "combines_with": ["everything"]})),
            "$.combines_with[0]"
        );
        assert_eq!(
            path_of(json!({"action": {"type": "buy_x_get_y", "buy": 0, "get": 1}})),
            "$.action.buy"
        );
        assert_eq!(
            path_of(json!({"action": {"type": "fixed_price", "amount": 1.5}})),
            "$.action.amount"
        );
    }
}
