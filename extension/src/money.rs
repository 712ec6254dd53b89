//! Money helpers: rounding and formatting amounts by currency exponent.
//!
//! Amounts are `bigint` minor units; the exponent comes from `shop.currency` and is
//! passed in by the SQL caller, so these functions are IMMUTABLE (no table access).

use maef_core::money::{self, MoneyError};
use pgrx::prelude::*;
use pgrx::{AnyNumeric, PgSqlErrorCode};

/// Raises a MoneyError as an `22023 invalid_parameter_value` (or `22003` for overflow)
/// ERROR, which maef-api maps to 422.
fn raise(err: MoneyError) -> ! {
    let code = match err {
        MoneyError::Overflow => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        _ => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
    };
    ereport!(ERROR, code, err.to_string());
}

/// `maef.format_money(150000, 0, 'XOF')` → `'150,000 XOF'`: minor units shown in major
/// units with thousands separators and the currency code.
#[pg_extern(immutable, parallel_safe, strict)]
fn format_money(amount_minor: i64, exponent: i32, currency: &str) -> String {
    money::format(amount_minor, exponent, currency).unwrap_or_else(|e| raise(e))
}

/// `maef.to_minor_units(19.995, 2)` → `2000`: a major-unit numeric rounded half to
/// even to the currency's minor unit.
#[pg_extern(immutable, parallel_safe, strict)]
fn to_minor_units(amount: AnyNumeric, exponent: i32) -> i64 {
    money::to_minor_units(&amount.to_string(), exponent).unwrap_or_else(|e| raise(e))
}

/// `maef.to_major_units(1999, 2)` → `19.99`: minor units as an exact numeric.
#[pg_extern(immutable, parallel_safe, strict)]
fn to_major_units(amount_minor: i64, exponent: i32) -> AnyNumeric {
    let text = money::to_decimal_string(amount_minor, exponent).unwrap_or_else(|e| raise(e));
    AnyNumeric::try_from(text.as_str()).unwrap_or_else(|e| error!("numeric conversion: {e}"))
}

extension_sql!(
    r#"
COMMENT ON FUNCTION format_money(bigint, integer, text) IS
  'Formats minor units for display: format_money(150000, 0, ''XOF'') = ''150,000 XOF''; format_money(1999, 2, ''EUR'') = ''19.99 EUR''.';
COMMENT ON FUNCTION to_minor_units(numeric, integer) IS
  'Converts a major-unit amount to bigint minor units, rounding half to even: to_minor_units(19.995, 2) = 2000.';
COMMENT ON FUNCTION to_major_units(bigint, integer) IS
  'Converts bigint minor units to an exact numeric in major units: to_major_units(1999, 2) = 19.99.';
"#,
    name = "money_comments",
    requires = [format_money, to_minor_units, to_major_units]
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use pgrx::prelude::*;

    #[pg_test]
    fn format_money_uses_the_currency_exponent() {
        let xof = Spi::get_one::<String>("SELECT maef.format_money(150000, 0, 'XOF')");
        assert_eq!(xof, Ok(Some("150,000 XOF".to_string())));
        let eur = Spi::get_one::<String>("SELECT maef.format_money(1999, 2, 'EUR')");
        assert_eq!(eur, Ok(Some("19.99 EUR".to_string())));
    }

    #[pg_test]
    fn to_minor_units_rounds_half_to_even() {
        let up = Spi::get_one::<i64>("SELECT maef.to_minor_units(19.995, 2)");
        assert_eq!(up, Ok(Some(2000)));
        let even = Spi::get_one::<i64>("SELECT maef.to_minor_units(2.5, 0)");
        assert_eq!(even, Ok(Some(2)));
    }

    #[pg_test]
    fn major_and_minor_units_round_trip() {
        let back = Spi::get_one::<i64>("SELECT maef.to_minor_units(maef.to_major_units(-123456, 2), 2)");
        assert_eq!(back, Ok(Some(-123456)));
    }

    #[pg_test]
    fn money_functions_are_immutable_and_parallel_safe() {
        let n = Spi::get_one::<i64>(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE n.nspname = 'maef' AND p.provolatile = 'i' AND p.proparallel = 's' \
             AND p.proname IN ('format_money', 'to_minor_units', 'to_major_units')",
        );
        assert_eq!(n, Ok(Some(3)));
    }

    #[pg_test(error = "currency exponent 7 is outside 0..=4")]
    fn a_bad_exponent_is_an_error() {
        let _ = Spi::get_one::<String>("SELECT maef.format_money(1, 7, 'EUR')");
    }
}
