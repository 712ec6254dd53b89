//! Money as integer minor units.
//!
//! An amount is an `i64` count of the currency's minor unit (cents for EUR, francs for
//! XOF). The currency's *exponent* (number of decimals: XOF 0, EUR 2, …) comes from the
//! `shop.currency` table; these functions take it as an argument. No float is ever used.

use thiserror::Error;

/// Largest exponent we accept (ISO 4217 has none above 4).
pub const MAX_EXPONENT: u32 = 4;

/// Why a money value could not be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MoneyError {
    /// The exponent is outside `0..=MAX_EXPONENT`.
    #[error("currency exponent {0} is outside 0..={MAX_EXPONENT}")]
    BadExponent(i32),
    /// The text is not a plain decimal number (`-12.345`).
    #[error("'{0}' is not a decimal amount")]
    NotDecimal(String),
    /// The amount does not fit in 64-bit minor units.
    #[error("amount is too large for 64-bit minor units")]
    Overflow,
}

fn checked_exponent(exponent: i32) -> Result<u32, MoneyError> {
    u32::try_from(exponent)
        .ok()
        .filter(|e| *e <= MAX_EXPONENT)
        .ok_or(MoneyError::BadExponent(exponent))
}

/// Converts a decimal amount in major units (`"19.995"`) to minor units for a currency
/// of the given exponent, rounding half to even (banker's rounding) at the last minor
/// digit: `"19.995"` with exponent 2 is `2000`, `"0.125"` is `12`, `"2.5"` with
/// exponent 0 is `2`.
///
/// Half-to-even is used because it has no bias over many roundings (sums of rounded
/// line amounts drift neither up nor down).
///
/// # Errors
/// [`MoneyError::NotDecimal`] for anything but `[+-]digits[.digits]`,
/// [`MoneyError::BadExponent`] and [`MoneyError::Overflow`].
pub fn to_minor_units(decimal: &str, exponent: i32) -> Result<i64, MoneyError> {
    let exponent = checked_exponent(exponent)? as usize;
    let not_decimal = || MoneyError::NotDecimal(decimal.to_string());
    let text = decimal.trim();
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty()) || !all_digits(int_part) || !all_digits(frac_part) {
        return Err(not_decimal());
    }

    // Digits kept in minor units, and the first dropped digit plus "anything non-zero
    // after it", which is all half-to-even needs.
    let kept_frac: String = frac_part
        .chars()
        .chain(std::iter::repeat('0'))
        .take(exponent)
        .collect();
    let dropped = frac_part.get(exponent..).unwrap_or("");
    let first_dropped = dropped.bytes().next().map_or(0, |b| b - b'0');
    let rest_nonzero = dropped.bytes().skip(1).any(|b| b != b'0');

    let mut minor: i128 = 0;
    for b in int_part.bytes().chain(kept_frac.bytes()) {
        minor = minor * 10 + i128::from(b - b'0');
        if minor > i128::from(i64::MAX) + 1 {
            return Err(MoneyError::Overflow);
        }
    }
    let round_up = match first_dropped {
        6..=9 => true,
        5 => rest_nonzero || minor % 2 == 1,
        _ => false,
    };
    if round_up {
        minor += 1;
    }
    let signed = if negative { -minor } else { minor };
    i64::try_from(signed).map_err(|_| MoneyError::Overflow)
}

/// Formats minor units as a display string: major units with `,` between thousands,
/// `.` before the minor digits, then the currency code.
/// `format(150000, 0, "XOF")` is `"150,000 XOF"`; `format(-1999, 2, "EUR")` is
/// `"-19.99 EUR"`.
///
/// The format is deliberately locale-neutral (clients localise for display); it is the
/// same in every response so it can be shown as-is.
///
/// # Errors
/// [`MoneyError::BadExponent`].
pub fn format(amount_minor: i64, exponent: i32, currency: &str) -> Result<String, MoneyError> {
    let exponent = checked_exponent(exponent)?;
    let divisor = 10u64.pow(exponent);
    let magnitude = amount_minor.unsigned_abs();
    let (major, minor) = (magnitude / divisor, magnitude % divisor);

    let digits = major.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 24);
    if amount_minor < 0 {
        grouped.push('-');
    }
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    if exponent > 0 {
        grouped.push('.');
        grouped.push_str(&format!("{minor:0width$}", width = exponent as usize));
    }
    if !currency.is_empty() {
        grouped.push(' ');
        grouped.push_str(currency);
    }
    Ok(grouped)
}

/// Renders minor units as a plain decimal string in major units (`1999`, 2 → `"19.99"`),
/// the inverse of [`to_minor_units`] (suitable for a `numeric` cast).
///
/// # Errors
/// [`MoneyError::BadExponent`].
pub fn to_decimal_string(amount_minor: i64, exponent: i32) -> Result<String, MoneyError> {
    let exponent = checked_exponent(exponent)?;
    let divisor = 10u64.pow(exponent);
    let magnitude = amount_minor.unsigned_abs();
    let sign = if amount_minor < 0 { "-" } else { "" };
    if exponent == 0 {
        return Ok(format!("{sign}{magnitude}"));
    }
    Ok(format!(
        "{sign}{}.{:0width$}",
        magnitude / divisor,
        magnitude % divisor,
        width = exponent as usize
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn half_to_even_rounds_ties_to_the_even_minor_digit() {
        assert_eq!(to_minor_units("19.995", 2), Ok(2000));
        assert_eq!(to_minor_units("19.985", 2), Ok(1998));
        assert_eq!(to_minor_units("0.125", 2), Ok(12));
        assert_eq!(to_minor_units("0.1251", 2), Ok(13));
        assert_eq!(to_minor_units("2.5", 0), Ok(2));
        assert_eq!(to_minor_units("3.5", 0), Ok(4));
        assert_eq!(to_minor_units("-2.5", 0), Ok(-2));
        assert_eq!(to_minor_units("-19.995", 2), Ok(-2000));
    }

    #[test]
    fn whole_and_short_amounts_are_scaled_to_minor_units() {
        assert_eq!(to_minor_units("1500", 0), Ok(1500));
        assert_eq!(to_minor_units("15", 2), Ok(1500));
        assert_eq!(to_minor_units("15.5", 2), Ok(1550));
        assert_eq!(to_minor_units(".5", 2), Ok(50));
        assert_eq!(to_minor_units("+7.", 3), Ok(7000));
    }

    #[test]
    fn malformed_amounts_are_refused() {
        for bad in ["", "-", ".", "1e3", "1,5", "abc", "1.2.3", "--1", " 1 2"] {
            assert!(
                matches!(to_minor_units(bad, 2), Err(MoneyError::NotDecimal(_))),
                "{bad}"
            );
        }
        assert_eq!(to_minor_units("1", 5), Err(MoneyError::BadExponent(5)));
        assert_eq!(to_minor_units("1", -1), Err(MoneyError::BadExponent(-1)));
        assert_eq!(
            to_minor_units("99999999999999999999", 0),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn formatting_follows_the_currency_exponent() {
        assert_eq!(format(150_000, 0, "XOF").unwrap(), "150,000 XOF");
        assert_eq!(format(1999, 2, "EUR").unwrap(), "19.99 EUR");
        assert_eq!(format(5, 2, "EUR").unwrap(), "0.05 EUR");
        assert_eq!(format(-1_234_567, 2, "USD").unwrap(), "-12,345.67 USD");
        assert_eq!(format(0, 0, "XOF").unwrap(), "0 XOF");
        assert_eq!(format(i64::MIN, 0, "").unwrap(), "-9,223,372,036,854,775,808");
        assert_eq!(format(1, 9, "EUR"), Err(MoneyError::BadExponent(9)));
    }

    proptest! {
        #[test]
        fn decimal_string_round_trips_through_minor_units(amount in any::<i64>(), exp in 0i32..=4) {
            let text = to_decimal_string(amount, exp).unwrap();
            prop_assert_eq!(to_minor_units(&text, exp), Ok(amount));
        }

        #[test]
        fn rounding_is_within_half_a_minor_unit(whole in -1_000_000i64..1_000_000, frac in 0u32..10_000) {
            // amount = whole + frac/10000 major units, rounded to 2 decimals.
            let text = format!("{}{}.{:04}", if whole < 0 { "-" } else { "" }, whole.abs(), frac);
            let got = to_minor_units(&text, 2).unwrap();
            let magnitude = whole.abs() * 10_000 + i64::from(frac);
            let exact = if whole < 0 { -magnitude } else { magnitude };
            prop_assert!((got * 100 - exact).abs() <= 50);
        }

        #[test]
        fn formatting_never_panics_and_keeps_the_digits(amount in any::<i64>(), exp in 0i32..=4) {
            let shown = format(amount, exp, "EUR").unwrap();
            let digits: String = shown.chars().filter(|c| c.is_ascii_digit()).collect();
            let plain: String = to_decimal_string(amount, exp).unwrap().chars().filter(|c| c.is_ascii_digit()).collect();
            prop_assert_eq!(digits, plain);
        }
    }
}
