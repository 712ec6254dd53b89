-- V30: what the shop's reports (schema report, sql/reports.sql) need from the data:
-- the reports:read permission, a privacy-safe search log (query text and result
-- count, no user, no address), the daily funnel kept after abandoned carts are
-- deleted, and the indexes the sales reports range over.

-- ---------------------------------------------------------------- permission
insert into shop.permission (name, description) values
    ('reports:read', 'Read the shop''s reports (sales, funnel, stock, searches, payments, customers) over HTTP');
insert into shop.role_permission (role_id, permission_id)
select r.role_id, p.permission_id from shop.role r, shop.permission p
where r.name in ('admin', 'manager') and p.name = 'reports:read';

-- ---------------------------------------------------------------- search log
-- One row per search made through the HTTP API: the normalised query and how many
-- products it found. No user id, session or address: it answers "what do people look
-- for, and what do we not have", nothing about who. Deleted after
-- privacy.search_log_days (V31). Unlogged would lose it at a crash; a search is cheap
-- to log (one insert into an append-only heap with one index).
create table shop.search_log (
    search_log_id bigint generated always as identity primary key,
    searched_at   timestamptz not null default now(),
    query         text not null check (length(query) between 1 and 200),
    results       bigint not null check (results >= 0)
);
comment on table shop.search_log is 'Searches: normalised query text and result count, no user (privacy-safe); for report.top_searches.';
create index search_log_searched_at_idx on shop.search_log (searched_at);
revoke all on shop.search_log from public;

-- ---------------------------------------------------------------- funnel
-- The funnel of a day (carts created → carts with items → checkouts → paid orders),
-- written once the day is over by the retention job, before abandoned carts are
-- deleted: the report keeps its history after the carts are gone.
create table shop.funnel_day (
    day              date primary key,
    carts_created    integer not null check (carts_created >= 0),
    carts_with_items integer not null check (carts_with_items >= 0),
    checkouts        integer not null check (checkouts >= 0),
    paid_orders      integer not null check (paid_orders >= 0),
    recorded_at      timestamptz not null default now()
);
comment on table shop.funnel_day is 'The funnel of each past day (UTC), recorded before abandoned carts are deleted; report.funnel adds the recent days live.';
revoke all on shop.funnel_day from public;

-- ---------------------------------------------------------------- indexes for the reports
create index customer_order_placed_at_idx on shop.customer_order (placed_at) where placed_at is not null;
create index cart_created_at_idx on shop.cart (created_at);
create index order_item_product_idx on shop.order_item (product_id);
create index payment_created_at_idx on shop.payment (created_at);
create index refund_created_at_idx on shop.refund (created_at);

insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('reports.abandoned_after_minutes', '60', 'integer', 1, 43200, 'REPORTS_ABANDONED_AFTER_MINUTES',
     'An open cart with items untouched for this long counts as abandoned in report.abandoned_carts.');
