-- V20: domain events, the transactional outbox (issue 20).
--
-- A business change writes its event row in the same transaction as the change
-- (api._emit_event, sql/events.sql), so an event exists if and only if the change
-- committed. Consumers (maef-worker's webhook dispatcher, a psql consumer) tail the
-- events with api.events_after, ordered by the writing transaction's id and then the
-- event id, and only below the oldest transaction still running: a transaction that
-- commits late cannot slip an event in behind a consumer's cursor (docs/events.md).

-- The catalogue of event types, each with the version of its payload schema
-- (documented per type in docs/events.md). An event names its type here, so nothing
-- emits an undocumented type.
create table shop.event_type (
    type           text primary key check (type ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$'),
    version        smallint not null default 1 check (version >= 1),
    aggregate_type text not null check (aggregate_type ~ '^[a-z][a-z0-9_]*$'),
    description    text not null
);
comment on table shop.event_type is
    'Event types and the current version of their payload schema (docs/events.md documents each payload).';

insert into shop.event_type (type, aggregate_type, description) values
    ('customer.created', 'customer', 'A customer account was registered.'),
    ('product.created', 'product', 'A product was created (with its variants).'),
    ('product.updated', 'product', 'A product, one of its variants, prices or stock levels changed.'),
    ('product.deleted', 'product', 'A product was deleted.'),
    ('order.placed', 'order', 'An order was placed at checkout (stock reserved, awaiting payment).'),
    ('order.paid', 'order', 'An order''s payment was captured in full.'),
    ('order.cancelled', 'order', 'An order was cancelled (by the customer, an admin, or a failed payment).'),
    ('order.expired', 'order', 'An unpaid order expired and its reserved stock was released.'),
    ('payment.succeeded', 'payment', 'A payment succeeded at the provider.'),
    ('payment.failed', 'payment', 'A payment failed at the provider.'),
    ('refund.succeeded', 'refund', 'A refund was completed at the provider.'),
    ('shipment.shipped', 'shipment', 'A shipment left the warehouse (with its tracking number).'),
    ('shipment.delivered', 'shipment', 'A shipment was delivered.'),
    ('return.requested', 'return', 'A customer asked to return items of an order.'),
    ('review.submitted', 'review', 'A customer submitted a product review (awaiting moderation).'),
    ('story.ingested', 'story', 'An Instagram story was ingested.'),
    ('stock.low', 'variant', 'A variant''s available stock fell to or below its low-stock threshold.');

create table shop.event (
    event_id       bigint generated always as identity primary key,
    type           text not null references shop.event_type,
    version        smallint not null default 1 check (version >= 1),
    aggregate_type text not null check (aggregate_type ~ '^[a-z][a-z0-9_]*$'),
    aggregate_id   text not null check (length(aggregate_id) between 1 and 200),
    payload        jsonb not null check (jsonb_typeof(payload) = 'object'),
    occurred_at    timestamptz not null default now(),
    -- The writing transaction (top level): the consumers' order, and their watermark.
    xid            xid8 not null default pg_current_xact_id()
);
comment on table shop.event is
    'Domain events (transactional outbox): written in the transaction of the change they describe. Tail with api.events_after; kept events.retention_days.';
comment on column shop.event.xid is
    'The writing transaction''s id. Consumers read in (xid, event_id) order and only below pg_snapshot_xmin(pg_current_snapshot()), so a late commit never lands behind a cursor.';
-- The consumers' order.
create index event_xid_idx on shop.event (xid, event_id);
-- Pruning by age; events are appended in time order, so a BRIN index costs almost nothing.
create index event_occurred_at_brin on shop.event using brin (occurred_at);
create index event_aggregate_idx on shop.event (aggregate_type, aggregate_id);

-- Where each named consumer (maef-worker's webhook dispatcher) has read up to: the
-- (xid, event_id) of the last event it handled. The row is locked while a batch is
-- handled, so any number of workers may run the dispatcher.
create table shop.event_consumer (
    name           text primary key check (name ~ '^[a-z][a-z0-9_]*$'),
    after_xid      xid8 not null default '0',
    after_event_id bigint not null default 0,
    updated_at     timestamptz not null default now()
);
comment on table shop.event_consumer is 'Cursors of the named event consumers: the (xid, event_id) of the last event each has handled.';
create trigger event_consumer_updated_at before update on shop.event_consumer
    for each row execute function shop.set_updated_at();
insert into shop.event_consumer (name) values ('webhooks');

insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('events.retention_days', '30', 'integer', 1, 3650, 'EVENT_RETENTION_DAYS',
     'Days an event (and the delivery log of its webhooks) is kept before the prune_events job deletes it.');

insert into shop.job_kind (kind, timeout, description) values
    ('prune_events', '10 minutes', 'Deletes events older than events.retention_days, with their webhook deliveries.');
insert into shop.job_schedule (name, kind, cron, payload) values
    ('prune_events', 'prune_events', '23 * * * *', '{}');

revoke all on shop.event, shop.event_type, shop.event_consumer from public;
