-- V28: payments (issue 16) — Stripe, FedaPay, Paystack and cash on delivery; the
-- provider webhooks received (each stored once); refunds with their lines.
--
-- A payment row is written before any provider call (idempotently: one row per order
-- and Idempotency-Key), the provider is called with no transaction open, and the
-- result is recorded after. Its status only moves forward (pending → processing →
-- failed/cancelled → succeeded), and at most one payment of an order is `succeeded`
-- (payment_one_succeeded_per_order): money captured that cannot be applied to the order
-- (another payment already paid it, it expired, the amount differs) is `needs_review`,
-- for staff to refund.
--
-- Lock order (the orders' one, V27): order row → payment row → refund rows → inventory
-- rows. A payment's success marks the order paid in the same transaction
-- (api.mark_order_paid).

-- ---------------------------------------------------------------- providers
-- Which currencies each provider accepts (a DBA may narrow or widen them to what the
-- shop's accounts support). Whether a provider is offered at all depends on its keys
-- being configured (STRIPE_SECRET_KEY, …: the API passes the configured ones).
create table shop.payment_provider (
    provider    text primary key check (provider in ('stripe', 'fedapay', 'paystack', 'cash_on_delivery')),
    name        text not null,
    kind        text not null check (kind in ('online', 'offline')),
    -- null: any currency of the shop.
    currencies  char(3)[],
    -- false: refunds are made outside maef (FedaPay's dashboard, cash) and recorded as manual.
    refund_api  boolean not null,
    -- The order's payment is confirmed by re-fetching the transaction (the provider's advice),
    -- not by the webhook itself.
    verify_webhooks boolean not null default false,
    description text not null
);
comment on table shop.payment_provider is
    'Payment providers, the currencies each accepts and whether refunds go through its API. Offered only when the API has its keys.';
insert into shop.payment_provider (provider, name, kind, currencies, refund_api, verify_webhooks, description) values
    ('stripe', 'Card (Stripe)', 'online', '{XOF,EUR,USD,GBP,NGN}', true, false,
     'PaymentIntents confirmed in the browser with the client_secret; webhooks signed Stripe-Signature.'),
    ('fedapay', 'Mobile money (FedaPay)', 'online', '{XOF}', false, true,
     'A FedaPay transaction and its hosted payment page (MTN, Moov, Wave…); webhooks checked by re-fetching the transaction.'),
    ('paystack', 'Card and mobile money (Paystack)', 'online', '{NGN,GHS,USD}', true, true,
     'A Paystack transaction and its authorization_url; webhooks checked by /transaction/verify.'),
    ('cash_on_delivery', 'Cash on delivery', 'offline', null, false, false,
     'The order is confirmed at once; staff mark it paid when the courier brings the money.');

-- ---------------------------------------------------------------- payments
update shop.payment set status = 'processing' where status = 'authorized';
alter table shop.payment
    drop constraint payment_provider_check,
    drop constraint payment_status_check,
    add constraint payment_provider_check check (provider in ('stripe', 'fedapay', 'paystack', 'cash_on_delivery')),
    add constraint payment_status_check check (status in
        ('pending', 'processing', 'succeeded', 'failed', 'cancelled', 'needs_review')),
    -- The client's Idempotency-Key ("scope:key") and the fingerprint of its request.
    add column request_key     text,
    add column request_hash    text,
    -- Creation attempts at the provider (retries with the same key count up).
    add column attempt         integer not null default 0 check (attempt >= 0),
    -- While a request is calling the provider to create this payment: a duplicate
    -- request with the same key meanwhile answers 409 instead of calling again.
    add column creating_until  timestamptz,
    -- What the client needs (Stripe client_secret; hosted page URL and reference).
    add column client_data     jsonb,
    -- The 201 body, replayed to a retry with the same key.
    add column response        jsonb,
    add column amount_received bigint check (amount_received >= 0),
    add column failure_code    text check (length(failure_code) <= 200),
    add column failure_message text check (length(failure_message) <= 1000),
    add column review_reason   text check (review_reason in ('amount_mismatch', 'already_paid', 'order_closed')),
    add column succeeded_at    timestamptz,
    add column last_checked_at timestamptz,
    add column created_by      uuid references shop.app_user on delete set null,
    add constraint payment_request_key unique (order_id, request_key),
    add constraint payment_review_has_reason check ((status = 'needs_review') = (review_reason is not null)),
    add constraint payment_succeeded_has_time check (status not in ('succeeded', 'needs_review') or succeeded_at is not null);
-- Two succeeded payments for one order are impossible.
create unique index payment_one_succeeded_per_order on shop.payment (order_id) where status = 'succeeded';
-- Reconciliation: payments still open at the provider.
create index payment_open_idx on shop.payment (created_at) where status in ('pending', 'processing');
comment on column shop.payment.status is
    'pending → processing → failed/cancelled → succeeded, forward only; needs_review: captured by the provider but not applied to the order (review_reason), to refund.';
comment on column shop.payment.provider_ref is
    'The provider''s id: Stripe PaymentIntent pi_…, FedaPay transaction id, Paystack reference.';

-- ---------------------------------------------------------------- refunds
alter table shop.refund
    add column order_id        uuid references shop.customer_order on delete restrict,
    add column method          text not null default 'provider' check (method in ('provider', 'manual')),
    add column shipping        boolean not null default false,
    add column restock         boolean not null default false,
    add column request_key     text,
    add column request_hash    text,
    add column attempt         integer not null default 0 check (attempt >= 0),
    add column creating_until  timestamptz,
    add column response        jsonb,
    add column failure_code    text check (length(failure_code) <= 200),
    add column failure_message text check (length(failure_message) <= 1000),
    add column succeeded_at    timestamptz,
    add column updated_at      timestamptz not null default now(),
    add column created_by      uuid references shop.app_user on delete set null,
    add constraint refund_request_key unique (order_id, request_key),
    add constraint refund_reason_length check (length(reason) <= 500);
update shop.refund r set order_id = p.order_id from shop.payment p where p.payment_id = r.payment_id;
alter table shop.refund alter column order_id set not null;
create index refund_order_idx on shop.refund (order_id);
create trigger refund_updated_at before update on shop.refund
    for each row execute function shop.set_updated_at();
comment on table shop.refund is
    'Refunds of a payment: pending → succeeded or failed (forward only). method manual: made outside maef (FedaPay dashboard, cash) and recorded.';

create table shop.refund_item (
    refund_id     bigint not null references shop.refund on delete cascade,
    order_item_id bigint not null references shop.order_item on delete restrict,
    quantity      integer not null check (quantity > 0),
    amount        bigint not null check (amount >= 0),
    primary key (refund_id, order_item_id)
);
comment on table shop.refund_item is 'The order lines a refund covers: units and the amount computed for them (line total and tax, pro rata).';
create index refund_item_order_item_idx on shop.refund_item (order_item_id);

-- ---------------------------------------------------------------- provider webhooks
-- Every verified provider webhook, stored once: a second delivery of the same event
-- (same provider and event id) changes nothing. Paystack sends no event id: its id is
-- event, reference and status (api.payment_webhook).
create table shop.payment_event (
    payment_event_id bigint generated always as identity primary key,
    provider         text not null check (provider in ('stripe', 'fedapay', 'paystack')),
    event_id         text not null check (length(event_id) between 1 and 300),
    event_type       text not null check (length(event_type) <= 200),
    payment_id       uuid references shop.payment on delete set null,
    refund_id        bigint references shop.refund on delete set null,
    -- applied, stale, duplicate_state, unknown_payment, verification_enqueued, ignored, …
    outcome          text not null default 'received',
    payload          jsonb not null,
    received_at      timestamptz not null default now(),
    constraint payment_event_provider_event_key unique (provider, event_id)
);
comment on table shop.payment_event is
    'Provider webhooks (verified signatures only), each stored once by (provider, event id), with what applying it did.';
create index payment_event_payment_idx on shop.payment_event (payment_id) where payment_id is not null;
create index payment_event_received_brin on shop.payment_event using brin (received_at);

-- ---------------------------------------------------------------- policies
insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('payments.cod_countries', '""', 'text', null, null, 'COD_COUNTRIES',
     'Countries (ISO 3166 alpha-2, comma-separated) where cash on delivery is offered, by the shipping address; empty: nowhere.'),
    ('payments.cod_max_amounts', '""', 'text', null, null, 'COD_MAX_AMOUNTS',
     'Largest order total for cash on delivery per currency, in minor units: "XOF:500000,EUR:30000"; a currency not listed has no limit.'),
    ('payments.reconcile_after_secs', '600', 'integer', 60, 86400, 'PAYMENT_RECONCILE_AFTER_SECS',
     'A payment still pending this long is re-fetched from its provider by the reconcile_payments schedule (lost webhooks).'),
    ('payments.creation_lease_secs', '60', 'integer', 5, 3600, 'PAYMENT_CREATION_LEASE_SECS',
     'How long a request calling a provider holds its payment or refund: a duplicate with the same key meanwhile answers 409.'),
    ('payments.retry_url', '"http://localhost:8000/orders/{number}/pay"', 'text', null, null, 'PAYMENT_RETRY_URL',
     'The storefront page where a customer pays an order again ({number} is replaced), linked from the payment_failed e-mail.');

insert into shop.job_kind (kind, timeout, description) values
    ('verify_payment', '2 minutes', 'Re-fetches one payment from its provider (FedaPay, Paystack after a webhook; any provider when reconciling) and applies what it says.'),
    ('reconcile_payments', '5 minutes', 'Enqueues verify_payment for every payment pending longer than payments.reconcile_after_secs (lost webhooks).');
insert into shop.job_schedule (name, kind, cron, payload) values
    ('reconcile_payments', 'reconcile_payments', '*/5 * * * *', '{}');

revoke all on shop.payment_provider, shop.payment, shop.refund, shop.refund_item, shop.payment_event from public;
