//! The shapes of the fulfilment routes (`fulfilment.rs`, `returns.rs`, `invoices.rs`),
//! for the OpenAPI document: response bodies are JSON made by `sql/fulfilment.sql`,
//! `sql/returns.sql` and `sql/invoices.sql` and passed through, so the response types
//! are never serialised.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::routes::{
    catalog_types::{Currency, Timestamp},
    orders::{FulfillmentStatus, OrderStatus, PaymentStatus},
};

/// A shipment's state (`shop.shipment_transition` lists the allowed moves).
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// Made (units counted as shipped), not yet handed to the carrier.
    Pending,
    Shipped,
    InTransit,
    Delivered,
    /// A delivery attempt failed: in transit again, delivered or returned to sender next.
    FailedDelivery,
    /// Back at the shop undelivered: its units count as returned and go back on hand.
    ReturnedToSender,
}

/// A state staff (or a carrier) move a shipment to.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentTarget {
    Shipped,
    InTransit,
    Delivered,
    FailedDelivery,
    ReturnedToSender,
}

/// Units of an order line.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineQuantity {
    #[schema(minimum = 1, maximum = 999999999999999999i64)]
    pub order_item_id: i64,
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: i32,
}

/// Body of `POST /api/v1/admin/orders/{number}/shipments`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"order_item_id": 12, "quantity": 1}], "carrier": "dhl",
    "tracking_number": "JD0123456789"}))]
pub struct ShipmentRequest {
    /// 1 to 500 lines, each listed once; never more than ordered minus shipped or
    /// cancelled (409 `shipment_quantity_exceeds`).
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<LineQuantity>,
    /// An active carrier's code (`GET /api/v1/admin/carriers`).
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    pub carrier: String,
    /// Unique per carrier (409 `tracking_number_taken`).
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    /// An active stock location's code; default: where the units were sold from.
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// Body of `POST /api/v1/admin/shipments/{id}/status`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "shipped", "tracking_number": "JD0123456789"}))]
pub struct ShipmentStatusRequest {
    pub status: ShipmentTarget,
    /// For the timeline (at most 1000 characters).
    #[schema(max_length = 1000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set it while the shipment has none.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
}

/// A carrier as a shipment names it.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierName {
    pub code: String,
    pub name: String,
}

/// Units of a line in a shipment.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentLine {
    pub order_item_id: i64,
    pub sku: String,
    pub product_title: String,
    pub variant_name: String,
    pub quantity: i32,
}

/// A parcel.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shipment {
    pub id: i64,
    pub order_number: String,
    pub status: ShipmentStatus,
    pub carrier: CarrierName,
    #[schema(required)]
    pub tracking_number: Option<String>,
    /// The carrier's tracking page (its template with the number), when both are known.
    #[schema(required)]
    pub tracking_url: Option<String>,
    /// The stock location it leaves from.
    #[schema(required)]
    pub location: Option<String>,
    pub lines: Vec<ShipmentLine>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub shipped_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub in_transit_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub delivered_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub failed_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub returned_at: Option<String>,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
}

/// An order line's units: ordered, shipped, cancelled, returned.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineCounts {
    pub id: i64,
    pub sku: String,
    pub quantity: i32,
    pub quantity_shipped: i32,
    pub quantity_cancelled: i32,
    pub quantity_returned: i32,
}

/// An order's states and its lines' counters.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderFulfilment {
    pub number: String,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub fulfillment_status: FulfillmentStatus,
    pub lines: Vec<LineCounts>,
}

/// A shipment and its order after a change.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentResult {
    pub shipment: Shipment,
    pub order: OrderFulfilment,
}

/// A carrier event received for a shipment.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierEventSummary {
    pub event_id: String,
    #[schema(required)]
    pub status: Option<String>,
    pub outcome: CarrierOutcome,
    #[schema(value_type = Timestamp)]
    pub received_at: String,
}

/// A shipment for staff, with its carrier events.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShipmentDetail {
    pub shipment: Shipment,
    pub order: OrderFulfilment,
    pub carrier_events: Vec<CarrierEventSummary>,
}

/// When a carrier's webhook secret was made and until when it is valid.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretDates {
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    /// Null for the current secret.
    #[schema(required, value_type = Option<Timestamp>)]
    pub expires_at: Option<String>,
}

/// A carrier for staff (never its secrets, except `secret` once when made).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Carrier {
    pub id: i64,
    pub code: String,
    pub name: String,
    /// `https://…{tracking}…`.
    #[schema(required)]
    pub tracking_url_template: Option<String>,
    pub is_active: bool,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
    /// The valid webhook secrets' dates.
    pub secrets: Vec<SecretDates>,
    /// On creation and rotation only, once: the new signing secret (`whsec_…`).
    #[schema(nullable = false)]
    pub secret: Option<String>,
}

/// `{items}`: every carrier.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierList {
    pub items: Vec<Carrier>,
}

/// Body of `POST /api/v1/admin/carriers`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "chronopost", "name": "Chronopost",
    "tracking_url_template": "https://www.chronopost.fr/tracking-no-cms/suivi-page?listeNumerosLT={tracking}"}))]
pub struct CarrierCreate {
    #[schema(pattern = "^[a-z0-9]+(-[a-z0-9]+)*$", max_length = 64)]
    pub code: String,
    #[schema(min_length = 1, max_length = 200, pattern = "[^ ]")]
    pub name: String,
    /// An https URL holding `{tracking}` (at most 500 characters).
    #[schema(pattern = "^https://[^\\s]*\\{tracking\\}[^\\s]*$", max_length = 500)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_url_template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
}

/// Body of `PATCH /api/v1/admin/carriers/{code}`: the fields to change (passed to SQL
/// as sent, so `null` can remove the template).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierPatch {
    #[schema(min_length = 1, max_length = 200, pattern = "[^ ]", nullable = false)]
    pub name: Option<String>,
    /// Null removes the template.
    #[schema(pattern = "^https://[^\\s]*\\{tracking\\}[^\\s]*$", max_length = 500)]
    pub tracking_url_template: Option<String>,
    #[schema(nullable = false)]
    pub is_active: Option<bool>,
}

/// What applying a carrier event did.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CarrierOutcome {
    /// Not yet applied (only while it is being stored).
    Received,
    Applied,
    /// Already in that state.
    DuplicateState,
    /// Older than the shipment's last change (carriers deliver out of order).
    Stale,
    /// A move the machine refuses (kept for staff to look at).
    TransitionRefused,
    /// No shipment of this carrier has the tracking number.
    UnknownShipment,
    /// This event id was received before: nothing done.
    Duplicate,
}

/// The answer to a carrier webhook.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierReceipt {
    pub outcome: CarrierOutcome,
    /// The shipment it concerned, if any (absent for a duplicate).
    #[schema(nullable = true)]
    pub shipment_id: Option<i64>,
}

/// A carrier webhook's body (signed, `Maef-Carrier-Signature: t=<unix>,v1=<hex>`).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"id": "evt_1", "tracking_number": "JD0123456789", "status": "delivered",
    "occurred_at": "2026-11-02T10:15:00Z"}))]
pub struct CarrierEvent {
    /// The carrier's event id: each is applied once.
    #[schema(min_length = 1, max_length = 200)]
    pub id: String,
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}$")]
    pub tracking_number: String,
    pub status: ShipmentTarget,
    /// When it happened (an event older than the shipment's last change is stale).
    #[schema(value_type = Option<Timestamp>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<String>,
    #[schema(max_length = 500)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

// ---------------------------------------------------------------- cancellations

/// Body of `POST /api/v1/admin/orders/{number}/cancellations`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"order_item_id": 12, "quantity": 1}], "reason": "out of stock"}))]
pub struct CancellationRequest {
    /// Unshipped units to cancel; absent: the whole order.
    #[schema(min_items = 1, max_items = 500, nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<LineQuantity>>,
    /// Why (1 to 500 characters; in the customer's e-mail).
    #[schema(min_length = 1, max_length = 500, pattern = "[^ ]")]
    pub reason: String,
}

/// Body of `POST /api/v1/orders/{number}/cancel`.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "ordered the wrong size"}))]
pub struct CustomerCancelRequest {
    #[schema(max_length = 500)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Units cancelled from a line.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelledLine {
    pub order_item_id: i64,
    pub sku: String,
    pub quantity: i32,
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
    /// Through the provider's API.
    Provider,
    /// Outside maef (FedaPay, cash), recorded.
    Manual,
}

/// The refund a cancellation or a return started.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartedRefund {
    pub id: i64,
    pub amount: i64,
    #[schema(value_type = Currency)]
    pub currency: String,
    pub status: RefundState,
    pub method: RefundMethod,
    /// Whether it includes the shipping.
    pub shipping: bool,
}

/// Who cancelled.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelledBy {
    Staff,
    Customer,
}

/// A cancellation.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Cancellation {
    pub id: i64,
    pub whole_order: bool,
    pub reason: String,
    pub by: CancelledBy,
    #[schema(value_type = Timestamp)]
    pub created_at: String,
    pub lines: Vec<CancelledLine>,
    /// The refund of exactly the cancelled lines (null for an unpaid order).
    #[schema(required)]
    pub refund: Option<StartedRefund>,
    pub order: OrderFulfilment,
}

// ---------------------------------------------------------------- returns

/// A return's state (`shop.return_transition`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    Requested,
    Approved,
    Rejected,
    Received,
    Refunded,
}

/// A reason to return.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnReason {
    pub code: String,
    /// In the caller's language.
    pub label: String,
    pub label_en: String,
    pub label_fr: String,
    /// The shop's fault: the refund includes the shipping.
    pub shop_fault: bool,
}

/// `{items}`: the active reasons.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnReasonList {
    pub items: Vec<ReturnReason>,
}

/// A line to return.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLineRequest {
    #[schema(minimum = 1, maximum = 999999999999999999i64)]
    pub order_item_id: i64,
    #[schema(minimum = 1, maximum = 1000000)]
    pub quantity: i32,
    /// A reason's code (`GET /api/v1/return-reasons`).
    #[schema(pattern = "^[a-z][a-z0-9_]*$", max_length = 64)]
    pub reason: String,
}

/// Body of `POST /api/v1/orders/{number}/returns`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"order_item_id": 12, "quantity": 1, "reason": "wrong_size"}],
    "note": "Too small"}))]
pub struct ReturnRequest {
    /// Delivered units, within the return window (422 `return_window_passed`).
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<ReturnLineRequest>,
    #[schema(max_length = 2000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnDecision {
    Approve,
    Reject,
}

/// Body of `POST /api/v1/admin/returns/{id}/decision`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "approve", "note": "Send it back within 14 days"}))]
pub struct ReturnDecisionRequest {
    pub decision: ReturnDecision,
    /// Required to reject (the customer reads it).
    #[schema(max_length = 2000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The state a returned line arrived in.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemCondition {
    /// Back on hand.
    Resellable,
    /// Not restocked.
    Damaged,
}

/// A received line's condition.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceivedLine {
    #[schema(minimum = 1, maximum = 999999999999999999i64)]
    pub order_item_id: i64,
    pub condition: ItemCondition,
}

/// Body of `POST /api/v1/admin/returns/{id}/receive`.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"lines": [{"order_item_id": 12, "condition": "resellable"}]}))]
pub struct ReceiveRequest {
    /// Every line of the return, once.
    #[schema(max_items = 500)]
    pub lines: Vec<ReceivedLine>,
    #[schema(max_length = 2000)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A returned line.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnLine {
    pub order_item_id: i64,
    pub sku: String,
    pub product_title: String,
    pub variant_name: String,
    pub quantity: i32,
    pub reason: String,
    pub reason_label: String,
    /// Set when received.
    #[schema(required)]
    pub condition: Option<String>,
    /// Units put back on hand.
    pub restocked: i32,
}

/// A return (RMA).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Return {
    pub id: i64,
    /// `RMA-2026-000001`.
    pub rma_number: String,
    pub order_number: String,
    pub status: ReturnStatus,
    /// The customer's.
    pub note: String,
    /// Staff's (customers see it on a rejection only).
    pub staff_note: String,
    pub lines: Vec<ReturnLine>,
    #[schema(required)]
    pub refund: Option<StartedRefund>,
    #[schema(value_type = Timestamp)]
    pub requested_at: String,
    #[schema(required, value_type = Option<Timestamp>)]
    pub decided_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub received_at: Option<String>,
    #[schema(required, value_type = Option<Timestamp>)]
    pub refunded_at: Option<String>,
    #[schema(value_type = Timestamp)]
    pub updated_at: String,
}

/// `{items}`: an order's returns.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnList {
    pub items: Vec<Return>,
}

/// A page of returns, newest first.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnPage {
    pub items: Vec<Return>,
    /// `after` for the next page.
    #[schema(required)]
    pub next_cursor: Option<String>,
}

// ---------------------------------------------------------------- invoices

/// A document's kind.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    CreditNote,
}

/// A document in a list.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentSummary {
    /// `F-2026-000001` (invoices), `AV-2026-000001` (credit notes): gapless per year.
    pub number: String,
    pub kind: DocumentKind,
    #[schema(value_type = Timestamp)]
    pub issued_at: String,
    #[schema(value_type = Currency)]
    pub currency: String,
    pub total: i64,
    pub tax_total: i64,
}

/// `{items}`: an order's invoice and credit notes.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentList {
    pub items: Vec<DocumentSummary>,
}

/// A document for the accountant.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LedgerDocument {
    pub number: String,
    pub kind: DocumentKind,
    pub year: i32,
    pub sequence: i32,
    #[schema(value_type = Timestamp)]
    pub issued_at: String,
    pub order_number: String,
    #[schema(value_type = Currency)]
    pub currency: String,
    pub total: i64,
    pub tax_total: i64,
}

/// A page of documents by number.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DocumentPage {
    pub items: Vec<LedgerDocument>,
    #[schema(required)]
    pub next_cursor: Option<String>,
}
