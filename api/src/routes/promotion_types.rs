//! The request and response shapes of promotion and coupon administration
//! (`promotions.rs`), for the OpenAPI document only. The handlers pass the JSON body to
//! SQL (`sql/pricing_admin.sql`); a promotion's `rules` are checked by the extension's
//! validator (`maef_core::pricing::validate_rules`), whose schema [`Rules`] mirrors.

use utoipa::ToSchema;

use super::catalog_types::Timestamp;

/// Body of `POST /api/v1/admin/promotions`. Other keys are ignored.
#[derive(ToSchema)]
#[schema(example = json!({"name": "Tabaski -10 %", "rules": {"action": {"type": "percent_off_items", "percent": 10},
    "conditions": {"categories": [3]}}, "priority": 10, "stacking": "combinable",
    "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T00:00:00Z"}))]
pub struct NewPromotion {
    /// Shown next to the discounts it gives.
    pub name: String,
    pub rules: Rules,
    /// Higher first (default 0).
    pub priority: Option<i32>,
    /// Default `exclusive`.
    #[schema(inline)]
    pub stacking: Option<Stacking>,
    /// Null: from now. Must precede `ends_at` (else 422 `promotion_window_valid`).
    #[schema(value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    /// Null: no end.
    #[schema(value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
    /// Default true.
    pub is_active: Option<bool>,
}

/// Body of `PATCH /api/v1/admin/promotions/{id}`: the keys to change (null keeps the
/// value, except for `starts_at` and `ends_at`, which it clears). Other keys are ignored.
#[derive(ToSchema)]
pub struct PromotionPatch {
    pub name: Option<String>,
    #[schema(nullable = false)]
    pub rules: Option<Rules>,
    pub priority: Option<i32>,
    #[schema(inline)]
    pub stacking: Option<Stacking>,
    #[schema(value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    #[schema(value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
    pub is_active: Option<bool>,
}

/// How a promotion combines with others.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stacking {
    /// Applies alone (the best exclusive one wins).
    Exclusive,
    /// Adds up with other combinable promotions of the classes in `combines_with`.
    Combinable,
    /// The best of its group.
    BestOf,
}

/// A promotion's rules: when it applies and what it gives.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    #[schema(nullable = false)]
    pub conditions: Option<Conditions>,
    pub action: Action,
    /// The promotion classes it combines with.
    #[schema(nullable = false)]
    pub combines_with: Option<Vec<PromotionClassName>>,
}

/// A promotion class.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PromotionClassName {
    Product,
    Order,
    Shipping,
}

/// Conditions, all optional, all to be met.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// Minor units of the matched lines.
    #[schema(nullable = false, minimum = 0)]
    pub min_subtotal: Option<i64>,
    /// Units of the matched lines.
    #[schema(nullable = false, minimum = 1)]
    pub min_quantity: Option<i64>,
    /// Product ids the lines must be of.
    #[schema(nullable = false)]
    pub products: Option<Vec<PositiveId>>,
    #[schema(nullable = false)]
    pub variants: Option<Vec<PositiveId>>,
    /// Category ids (with their descendants).
    #[schema(nullable = false)]
    pub categories: Option<Vec<PositiveId>>,
    /// Tag slugs.
    #[schema(nullable = false)]
    pub tags: Option<Vec<NonEmpty>>,
    #[schema(nullable = false)]
    pub brands: Option<Vec<NonEmpty>>,
    /// Customer group codes.
    #[schema(nullable = false)]
    pub customer_groups: Option<Vec<NonEmpty>>,
    /// Only a customer's first order (guests count as first order).
    #[schema(nullable = false)]
    pub first_order: Option<bool>,
    /// Only with one of its coupons.
    #[schema(nullable = false)]
    pub coupon_required: Option<bool>,
}

/// A positive id.
pub struct PositiveId;

impl utoipa::PartialSchema for PositiveId {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .into()
    }
}

impl ToSchema for PositiveId {}

/// A non-empty string.
pub struct NonEmpty;

impl utoipa::PartialSchema for NonEmpty {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .into()
    }
}

impl ToSchema for NonEmpty {}

/// What a promotion gives: one of four closed shapes, told apart by `type`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum Action {
    Percent(PercentAction),
    Amount(AmountAction),
    BuyXGetY(BuyXGetYAction),
    FreeShipping(FreeShippingAction),
}

/// A percentage off the matched items or off the order.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PercentAction {
    #[schema(inline)]
    pub r#type: PercentKind,
    #[schema(minimum = 1, maximum = 100)]
    pub percent: i64,
}

/// The percentage actions.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PercentKind {
    PercentOffItems,
    PercentOffOrder,
}

/// An amount off the matched items or off the order, or the matched items at a fixed
/// unit price (minor units).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmountAction {
    #[schema(inline)]
    pub r#type: AmountKind,
    #[schema(minimum = 0)]
    pub amount: i64,
}

/// The amount actions.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AmountKind {
    AmountOffItems,
    AmountOffOrder,
    FixedPrice,
}

/// For every `buy` matched units, `get` more at `percent` off (default 100: free).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuyXGetYAction {
    #[schema(inline)]
    pub r#type: BuyXGetYKind,
    #[schema(minimum = 1, maximum = 1000)]
    pub buy: i64,
    #[schema(minimum = 1, maximum = 1000)]
    pub get: i64,
    #[schema(nullable = false, minimum = 1, maximum = 100)]
    pub percent: Option<i64>,
}

/// `buy_x_get_y`.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BuyXGetYKind {
    BuyXGetY,
}

/// Shipping is free.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FreeShippingAction {
    #[schema(inline)]
    pub r#type: FreeShippingKind,
}

/// `free_shipping`.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FreeShippingKind {
    FreeShipping,
}

/// A promotion with its coupons.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PromotionRow {
    pub promotion_id: i64,
    pub name: String,
    pub rules: Rules,
    pub priority: i32,
    #[schema(inline)]
    pub stacking: Stacking,
    #[schema(required, value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
    pub is_active: bool,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
    pub coupons: Vec<CouponRow>,
}

/// Body of `POST /api/v1/admin/promotions/{id}/coupons`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "TABASKI10", "ends_at": "2026-06-10T00:00:00Z", "usage_limit": 500, "per_customer_limit": 1}))]
pub struct NewCoupon {
    /// Unique case-insensitively (else 409 `coupon_code_key`); 1 to 64 characters once
    /// trimmed.
    #[schema(pattern = "[^ ]", max_length = 64)]
    pub code: String,
    #[schema(value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    /// After `starts_at` (else 422 `invalid_field`, details `$.ends_at`).
    #[schema(value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
    /// Uses in all (null: no limit).
    #[schema(minimum = 1, maximum = 2147483647)]
    pub usage_limit: Option<i64>,
    /// Uses per customer (null: no limit).
    #[schema(minimum = 1, maximum = 2147483647)]
    pub per_customer_limit: Option<i64>,
    /// Default true.
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
}

/// Body of `PATCH /api/v1/admin/coupons/{id}`: the keys to change; null clears a
/// window bound or a limit.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponPatch {
    #[schema(nullable = false, pattern = "[^ ]", max_length = 64)]
    pub code: Option<String>,
    #[schema(value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    /// After `starts_at` (else 422 `invalid_field`, details `$.ends_at`).
    #[schema(value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
    /// Not below the uses already made (else 422 `invalid_field`, details `$.usage_limit`).
    #[schema(minimum = 1, maximum = 2147483647)]
    pub usage_limit: Option<i64>,
    #[schema(minimum = 1, maximum = 2147483647)]
    pub per_customer_limit: Option<i64>,
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
}

/// A coupon row.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponRow {
    pub coupon_id: i64,
    pub promotion_id: i64,
    pub code: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub starts_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub ends_at: Option<String>,
    pub is_active: bool,
    #[schema(required)]
    pub usage_limit: Option<i32>,
    #[schema(required)]
    pub per_customer_limit: Option<i32>,
    /// Redemptions so far.
    pub times_used: i32,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
}
