//! The request and response shapes of the pricing settings (`pricing_settings.rs`:
//! tax rates, shipping rates, store settings) and price lists (`price_lists.rs`:
//! customer groups, volume tiers), for the OpenAPI document only. The handlers pass
//! the JSON body to SQL (`sql/pricing_settings.sql`, `sql/price_lists.sql`), whose
//! `_<thing>_apply` helpers accept exactly these keys: absent keeps a value, null
//! clears an optional one, a required one cannot be null.

use utoipa::ToSchema;

use super::catalog_types::Currency;

/// Body of `POST /api/v1/admin/tax-rates` (no category: the country's standard rate).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"country": "SN", "rate_bp": 1800, "name": "TVA"}))]
pub struct NewTaxRate {
    /// ISO 3166 alpha-2.
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
    /// Basis points (1800 = 18 %).
    #[schema(minimum = 0, maximum = 10000)]
    pub rate_bp: i64,
    /// A category (and its descendants) with its own rate; one that does not exist is
    /// 422 `invalid_field`, details `$.category_id`.
    #[schema(minimum = -999999999999999999i64, maximum = 999999999999999999i64)]
    pub category_id: Option<i64>,
    pub name: Option<String>,
}

/// Body of `PATCH /api/v1/admin/tax-rates/{id}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxRatePatch {
    #[schema(nullable = false, pattern = "^[A-Z]{2}$")]
    pub country: Option<String>,
    #[schema(nullable = false, minimum = 0, maximum = 10000)]
    pub rate_bp: Option<i64>,
    /// Null: the country's standard rate.
    #[schema(minimum = -999999999999999999i64, maximum = 999999999999999999i64)]
    pub category_id: Option<i64>,
    pub name: Option<String>,
}

/// A tax rate.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaxRateRow {
    pub tax_rate_id: i64,
    pub country: String,
    #[schema(required)]
    pub category_id: Option<i64>,
    #[schema(required)]
    pub category_slug: Option<String>,
    /// Basis points.
    pub rate_bp: i32,
    pub name: String,
}

/// Body of `POST /api/v1/admin/shipping-rates`: a shipping method's rate for a country
/// and currency (without `shipping_method`: the `standard` method's).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"shipping_method": "standard", "country": "SN", "currency": "XOF", "amount": 2000, "free_over": 50000}))]
pub struct NewShippingRate {
    /// A shipping method's code (one that does not exist is 422 `invalid_field`, details
    /// `$.shipping_method`).
    #[schema(nullable = false, max_length = 64)]
    pub shipping_method: Option<String>,
    #[schema(pattern = "^[A-Z]{2}$")]
    pub country: String,
    #[schema(value_type = Currency)]
    pub currency: String,
    /// Minor units.
    #[schema(minimum = 0, maximum = 999999999999i64)]
    pub amount: i64,
    /// Free when the merchandise after discounts reaches it (null: never).
    #[schema(minimum = 0, maximum = 999999999999i64)]
    pub free_over: Option<i64>,
}

/// Body of `PATCH /api/v1/admin/shipping-rates/{id}` (`free_over: null` removes the
/// free threshold).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingRatePatch {
    /// Moves the rate to another method (by code).
    #[schema(nullable = false, max_length = 64)]
    pub shipping_method: Option<String>,
    #[schema(nullable = false, pattern = "^[A-Z]{2}$")]
    pub country: Option<String>,
    #[schema(nullable = false, value_type = Option<Currency>)]
    pub currency: Option<String>,
    #[schema(nullable = false, minimum = 0, maximum = 999999999999i64)]
    pub amount: Option<i64>,
    #[schema(minimum = 0, maximum = 999999999999i64)]
    pub free_over: Option<i64>,
}

/// A shipping rate.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShippingRateRow {
    pub shipping_rate_id: i64,
    pub shipping_method_id: i64,
    /// The method's code.
    pub shipping_method: String,
    pub country: String,
    pub currency_code: String,
    pub amount: i64,
    #[schema(required)]
    pub free_over: Option<i64>,
}

/// Body of `PUT /api/v1/admin/store-settings/{currency}`: absent keys keep their value;
/// a currency without settings yet needs `default_country` (else 422 `invalid_field`,
/// details `$.default_country`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"prices_include_tax": true, "default_country": "SN"}))]
pub struct StoreSettingFields {
    /// Whether catalog prices include tax (changes how every price of the currency is
    /// read).
    #[schema(nullable = false)]
    pub prices_include_tax: Option<bool>,
    /// Where a cart ships when it names no country.
    #[schema(nullable = false, pattern = "^[A-Z]{2}$")]
    pub default_country: Option<String>,
}

/// A currency's price settings.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreSettingRow {
    pub currency_code: String,
    pub prices_include_tax: bool,
    pub default_country: String,
}

/// Body of `POST /api/v1/admin/customer-groups`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "trade-eu", "name": "Trade customers (EU)"}))]
pub struct NewCustomerGroup {
    /// Lower-case letters, digits and dashes; promotions and tiers name the group by it.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    pub code: String,
    /// 1 to 200 characters once trimmed.
    #[schema(pattern = "[^ ]", max_length = 200)]
    pub name: String,
}

/// Body of `PATCH /api/v1/admin/customer-groups/{id}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerGroupPatch {
    #[schema(nullable = false, pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    pub code: Option<String>,
    #[schema(nullable = false, pattern = "[^ ]", max_length = 200)]
    pub name: Option<String>,
}

/// A customer group.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerGroupRow {
    pub customer_group_id: i64,
    pub code: String,
    pub name: String,
    pub member_count: i64,
}

/// Body of `POST /api/v1/admin/variants/{id}/price-tiers`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"currency": "XOF", "amount": 13500, "min_quantity": 10, "customer_group": "trade-eu"}))]
pub struct NewPriceTier {
    #[schema(value_type = Currency)]
    pub currency: String,
    /// Unit price in minor units.
    #[schema(minimum = 0, maximum = 999999999999i64)]
    pub amount: i64,
    /// From this many units in the line (default 1).
    #[schema(minimum = 1, maximum = 999)]
    pub min_quantity: Option<i64>,
    /// A customer group code (null: every customer; one that does not exist: 422
    /// `invalid_field`, details `$.customer_group`).
    pub customer_group: Option<String>,
}

/// Body of `PATCH /api/v1/admin/price-tiers/{id}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceTierPatch {
    #[schema(nullable = false, value_type = Option<Currency>)]
    pub currency: Option<String>,
    #[schema(nullable = false, minimum = 0, maximum = 999999999999i64)]
    pub amount: Option<i64>,
    /// Null: 1.
    #[schema(minimum = 1, maximum = 999)]
    pub min_quantity: Option<i64>,
    pub customer_group: Option<String>,
}

/// A volume tier or customer-group price of a variant.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceTierRow {
    pub price_tier_id: i64,
    pub variant_id: i64,
    pub currency_code: String,
    pub min_quantity: i32,
    pub amount: i64,
    #[schema(required)]
    pub customer_group_id: Option<i64>,
    /// The group's code.
    #[schema(required)]
    pub customer_group: Option<String>,
}
