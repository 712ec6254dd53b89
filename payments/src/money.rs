//! Our amounts (integer minor units, the exponent from `shop.currency`) as Stripe wants
//! them. Stripe's "zero-decimal" currencies (BIF CLP DJF GNF JPY KMF KRW MGA PYG RWF UGX
//! VND VUV XAF XOF XPF, docs.stripe.com/currencies) take whole units — what our minor
//! units already are for them (exponent 0). A currency with exponent 0 that Stripe
//! treats as two-decimal (ISK) is multiplied by 100; three-decimal currencies must end
//! in 0. Paystack's subunits (kobo, pesewas) and FedaPay's whole XOF are our minor
//! units as they are.

/// Stripe's zero-decimal currencies.
pub const STRIPE_ZERO_DECIMAL: &[&str] = &[
    "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF",
    "XPF",
];

/// An amount Stripe cannot take as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Our exponent disagrees with Stripe's for a zero-decimal currency.
    #[error("{currency} is zero-decimal at Stripe but has {exponent} decimals here")]
    ExponentMismatch {
        /// ISO 4217.
        currency: String,
        /// Our exponent.
        exponent: u32,
    },
    /// A three-decimal amount whose last digit is not 0.
    #[error("Stripe takes {currency} amounts in multiples of 10")]
    NotMultipleOfTen {
        /// ISO 4217.
        currency: String,
    },
    /// Out of range.
    #[error("amount out of range")]
    OutOfRange,
}

fn zero_decimal(currency: &str) -> bool {
    STRIPE_ZERO_DECIMAL.contains(&currency.to_ascii_uppercase().as_str())
}

/// Our minor units → Stripe's `amount`.
///
/// # Errors
/// See [`AmountError`].
pub fn to_stripe(amount: i64, currency: &str, exponent: u32) -> Result<i64, AmountError> {
    let currency = currency.to_ascii_uppercase();
    match (zero_decimal(&currency), exponent) {
        (true, 0) => Ok(amount),
        (true, e) => Err(AmountError::ExponentMismatch {
            currency,
            exponent: e,
        }),
        (false, 0) => amount.checked_mul(100).ok_or(AmountError::OutOfRange),
        (false, 3) if amount % 10 != 0 => Err(AmountError::NotMultipleOfTen { currency }),
        (false, _) => Ok(amount),
    }
}

/// Stripe's `amount` → our minor units (the inverse of [`to_stripe`]).
pub fn from_stripe(amount: i64, currency: &str, exponent: u32) -> i64 {
    if !zero_decimal(currency) && exponent == 0 {
        amount / 100
    } else {
        amount
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xof_is_whole_units_and_eur_is_cents() {
        assert_eq!(to_stripe(32_000, "XOF", 0), Ok(32_000));
        assert_eq!(to_stripe(2_599, "EUR", 2), Ok(2_599));
        assert_eq!(to_stripe(2_599, "eur", 2), Ok(2_599));
        assert_eq!(from_stripe(32_000, "xof", 0), 32_000);
        assert_eq!(from_stripe(2_599, "eur", 2), 2_599);
    }

    #[test]
    fn disagreements_with_stripe_are_refused_not_guessed() {
        assert!(matches!(
            to_stripe(100, "XOF", 2),
            Err(AmountError::ExponentMismatch { .. })
        ));
        // ISK: exponent 0 in ISO 4217, two-decimal at Stripe.
        assert_eq!(to_stripe(500, "ISK", 0), Ok(50_000));
        assert_eq!(from_stripe(50_000, "isk", 0), 500);
        assert!(matches!(
            to_stripe(5_124, "KWD", 3),
            Err(AmountError::NotMultipleOfTen { .. })
        ));
        assert_eq!(to_stripe(5_120, "KWD", 3), Ok(5_120));
        assert_eq!(to_stripe(i64::MAX, "ISK", 0), Err(AmountError::OutOfRange));
    }
}
