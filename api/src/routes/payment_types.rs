//! The shapes of the payment routes (`payments.rs`, `payment_webhooks.rs`), for the
//! OpenAPI document: response bodies are JSON made by `sql/payments.sql` and passed
//! through, so these types are never serialised.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routes::{
    catalog_types::{Currency, Timestamp},
    orders::{OrderStatus, PaymentStatus},
};

/// A way to pay (`shop.payment_provider`).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentProvider {
    /// Cards, through Stripe PaymentIntents.
    Stripe,
    /// Mobile money in XOF (MTN, Moov, Wave…), through FedaPay's hosted page.
    Fedapay,
    /// Cards and mobile money (NGN, GHS, USD), through Paystack's hosted page.
    Paystack,
    /// The courier collects the money.
    CashOnDelivery,
}

/// A payment's state: forward only (pending → processing → failed/cancelled →
/// succeeded); `needs_review`: captured but not applied to the order.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentState {
    Pending,
    Processing,
    Succeeded,
    Failed,
    Cancelled,
    NeedsReview,
}

/// Why captured money was not applied to the order.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewReason {
    /// The provider captured another amount or currency.
    AmountMismatch,
    /// Another payment had paid the order.
    AlreadyPaid,
    /// The order had expired or been cancelled.
    OrderClosed,
}

/// What the client does next.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NextActionType {
    /// Confirm the PaymentIntent in the browser with Stripe.js and `client_secret`.
    StripeClientSecret,
    /// Send the customer to `url` (FedaPay, Paystack), who comes back to the shop's
    /// callback page.
    Redirect,
    /// Nothing (cash on delivery).
    None,
}

/// What the client needs to complete the payment.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NextAction {
    #[serde(rename = "type")]
    pub kind: NextActionType,
    /// Stripe: the PaymentIntent's client secret.
    #[schema(nullable = false)]
    pub client_secret: Option<String>,
    /// FedaPay, Paystack: the hosted payment page.
    #[schema(nullable = false)]
    pub url: Option<String>,
    /// FedaPay's transaction id, Paystack's reference.
    #[schema(nullable = false)]
    pub reference: Option<String>,
    /// Paystack's access code (for its inline popup).
    pub access_code: Option<String>,
}

/// A refund's state.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundState {
    Pending,
    Succeeded,
    Failed,
}

/// How a refund is made.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundMethod {
    /// Through the provider's API (Stripe, Paystack).
    Provider,
    /// Outside maef, recorded: FedaPay's dashboard, cash.
    Manual,
}

/// An order line a refund covers.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLine {
    pub order_item_id: i64,
    pub quantity: i32,
    /// Its share of the line's total and tax.
    pub amount: i64,
}

/// A refund.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Refund {
    pub id: i64,
    pub payment_id: uuid::Uuid,
    pub amount: i64,
    #[schema(value_type = Currency)]
    pub currency: String,
    pub status: RefundState,
    pub method: RefundMethod,
    pub reason: String,
    /// Whether it covers the shipping.
    pub shipping: bool,
    pub lines: Vec<RefundLine>,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub succeeded_at: Option<String>,
    /// Staff only: the refunded lines went back on hand.
    #[schema(nullable = false)]
    pub restock: Option<bool>,
    /// Staff only: the provider's refund id.
    pub provider_ref: Option<String>,
    /// Staff only.
    pub failure_code: Option<String>,
    /// Staff only.
    pub failure_message: Option<String>,
    /// Staff only: who asked for it.
    pub created_by: Option<uuid::Uuid>,
}

/// The order a payment belongs to, as it stands.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentOrderState {
    #[schema(pattern = "^[0-9]{4}-[0-9]{6,}$")]
    pub number: String,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    #[schema(required, value_type = Option<Timestamp>)]
    pub reservation_expires_at: Option<String>,
}

/// A payment.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    pub id: uuid::Uuid,
    pub provider: PaymentProvider,
    pub status: PaymentState,
    /// The order's total when the payment was asked, minor units.
    pub amount: i64,
    #[schema(value_type = Currency)]
    pub currency: String,
    #[schema(minimum = 0, maximum = 4)]
    pub exponent: i32,
    pub amount_formatted: String,
    /// The provider's failure code (e.g. `card_declined`).
    #[schema(required)]
    pub failure_code: Option<String>,
    #[schema(required)]
    pub failure_message: Option<String>,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub succeeded_at: Option<String>,
    /// Refunded so far (succeeded refunds), minor units.
    pub refunded: i64,
    pub refunds: Vec<Refund>,
    /// What the client does next: in the 201 of a payment request, and in the
    /// customer's list while the payment is pending (else null).
    pub next_action: Option<NextAction>,
    /// In the 201 of a payment request: the order as it stands.
    #[schema(nullable = false)]
    pub order: Option<PaymentOrderState>,
    /// Staff only: `pi_…`, FedaPay's transaction id, Paystack's reference.
    pub provider_ref: Option<String>,
    /// Staff only: what the provider captured.
    pub amount_received: Option<i64>,
    /// Staff only.
    pub review_reason: Option<ReviewReason>,
    /// Staff only: creation attempts at the provider.
    #[schema(nullable = false)]
    pub attempt: Option<i32>,
    /// Staff only: last webhook or re-fetch.
    #[schema(value_type = Option<Timestamp>)]
    pub last_checked_at: Option<String>,
    /// Staff only: provider webhooks received for it.
    #[schema(nullable = false)]
    pub events: Option<i64>,
    /// In the staff list: the order's number.
    #[schema(nullable = false)]
    pub order_number: Option<String>,
}

/// One way to pay an order.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentOption {
    pub provider: PaymentProvider,
    pub name: String,
    /// `online` (a provider) or `offline` (cash).
    #[schema(pattern = "^(online|offline)$")]
    pub kind: String,
}

/// An order's money in short.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentOrderTotals {
    #[schema(pattern = "^[0-9]{4}-[0-9]{6,}$")]
    pub number: String,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    #[schema(value_type = Currency)]
    pub currency: String,
    pub grand_total: i64,
}

/// The ways to pay an order.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentOptions {
    pub order: PaymentOrderTotals,
    pub providers: Vec<PaymentOption>,
}

/// The order's state in a customer's payment list.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderPaymentState {
    #[schema(pattern = "^[0-9]{4}-[0-9]{6,}$")]
    pub number: String,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
}

/// An order's payments, for its customer.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderPayments {
    pub order: OrderPaymentState,
    /// Oldest first.
    pub payments: Vec<Payment>,
}

/// An order's payments and refunds, for staff.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminOrderPayments {
    pub order: PaymentOrderTotals,
    /// Captured by the payment applied to the order, minor units.
    pub captured: i64,
    /// Refunded (succeeded refunds).
    pub refunded: i64,
    /// Refunds still pending at the provider.
    pub refund_pending: i64,
    /// Oldest first.
    pub payments: Vec<Payment>,
    /// In the 201 of a refund: the refund made.
    #[schema(nullable = false)]
    pub refund: Option<Refund>,
}

/// A page of payments, newest first.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentPage {
    pub items: Vec<Payment>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

/// What a provider webhook did.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    /// Applied to its payment or refund.
    Applied,
    /// Already received: nothing done.
    Duplicate,
    /// Older than what is known (a late `processing` after `succeeded`): kept, not applied.
    Stale,
    /// Its payment is re-fetched from the provider (FedaPay, Paystack).
    VerificationEnqueued,
    /// No payment of ours: kept.
    UnknownPayment,
    /// No refund of ours: kept.
    UnknownRefund,
    /// An event type maef does not act on: kept.
    Ignored,
    /// Captured, but another amount or currency: flagged for review, order unpaid.
    #[serde(rename = "needs_review:amount_mismatch")]
    NeedsReviewAmountMismatch,
    /// Captured for an order another payment had paid: flagged for review.
    #[serde(rename = "needs_review:already_paid")]
    NeedsReviewAlreadyPaid,
    /// Captured for an expired or cancelled order: flagged for review.
    #[serde(rename = "needs_review:order_closed")]
    NeedsReviewOrderClosed,
}

/// The answer to a provider webhook.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookReceipt {
    pub outcome: WebhookOutcome,
}

/// Body of `POST /api/v1/orders/{number}/payments`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"provider": "fedapay"}))]
pub struct PaymentRequest {
    /// Offered when its keys are configured and it accepts the order's currency
    /// (`GET …/payment-options`).
    pub provider: PaymentProvider,
}

/// A line to refund.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineRequest {
    #[schema(minimum = 1, maximum = 999999999999999999i64)]
    pub order_item_id: i64,
    #[schema(minimum = 1, maximum = 999999999)]
    pub quantity: i32,
}

/// Body of `POST /api/v1/admin/orders/{number}/refunds`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"order_item_id": 12, "quantity": 1}], "shipping": false,
    "reason": "returned item", "restock": true}))]
pub struct RefundRequest {
    /// Lines and units to refund (each line's total and tax, pro rata).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<RefundLineRequest>>,
    /// Refund the shipping (and its tax) too; once per order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shipping: Option<bool>,
    /// An amount instead of the computed one (minor units); never more than captured
    /// minus refunded (422 `refund_exceeds_captured`).
    #[schema(minimum = 1, maximum = 999999999999999i64)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// Why (1 to 500 characters; shown in the customer's e-mail).
    #[schema(min_length = 1, max_length = 500, pattern = "[^ ]")]
    pub reason: String,
    /// Put the refunded lines back on hand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restock: Option<bool>,
    /// A payment of the order needing review (captured, not applied) to refund instead
    /// of the order's payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<uuid::Uuid>,
}

/// Body of `POST /api/v1/admin/orders/{number}/mark-paid`.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"note": "Cash collected by the courier"}))]
pub struct MarkPaidRequest {
    /// For the timeline (at most 500 characters).
    #[schema(max_length = 500)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
