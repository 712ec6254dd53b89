-- V31: the data lifecycle (GDPR) — retention periods as store policies, a log of what
-- each retention run deleted (report.retention), customers' consents (given and
-- withdrawn, kept as a history: the proof of consent), the mark an order carries once
-- its personal data was removed, and the daily retention job.

-- ---------------------------------------------------------------- policies
insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('privacy.accounting_retention_years', '10', 'integer', 1, 30, 'ACCOUNTING_RETENTION_YEARS',
     'Years an order''s accounting record (amounts, tax, invoice lines) is kept; a guest order''s personal data is removed after it.'),
    ('privacy.audit_retention_days', '365', 'integer', 1, 3650, 'AUDIT_RETENTION_DAYS',
     'Days audit rows are kept.'),
    ('privacy.abandoned_cart_days', '30', 'integer', 1, 3650, 'ABANDONED_CART_RETENTION_DAYS',
     'Days after its last change an open or abandoned cart is deleted.'),
    ('privacy.search_log_days', '90', 'integer', 1, 3650, 'SEARCH_LOG_RETENTION_DAYS',
     'Days search-log rows (query text and result count) are kept.');

-- ---------------------------------------------------------------- retention log
create table shop.retention_run (
    retention_run_id bigint generated always as identity primary key,
    policy           text not null check (policy ~ '^[a-z][a-z0-9_]*$'),
    deleted          bigint not null check (deleted >= 0),
    ran_at           timestamptz not null default now()
);
comment on table shop.retention_run is 'What each retention step deleted or anonymised (policy, rows, when); report.retention sums it.';
create index retention_run_policy_idx on shop.retention_run (policy, ran_at);
revoke all on shop.retention_run from public;

-- ---------------------------------------------------------------- consents
-- Each change of a consent is a row (given or withdrawn, which text version, from
-- where): the history is the proof of consent; the latest row per purpose is the state.
create table shop.user_consent (
    user_consent_id bigint generated always as identity primary key,
    user_id         uuid not null references shop.app_user on delete cascade,
    purpose         text not null check (purpose in ('marketing_email', 'terms', 'privacy_policy', 'analytics')),
    granted         boolean not null,
    version         text not null default '' check (length(version) <= 64),
    recorded_at     timestamptz not null default now()
);
comment on table shop.user_consent is 'Consents given or withdrawn (purpose, text version), one row per change; the latest per purpose is in force.';
create index user_consent_user_idx on shop.user_consent (user_id, purpose, user_consent_id desc);
alter table shop.user_consent enable row level security;
create policy user_consent_owner_read on shop.user_consent for select using (user_id = shop.current_user_id());
grant select on shop.user_consent to maef_customer, maef_staff, maef_admin;

-- ---------------------------------------------------------------- orders
alter table shop.customer_order add column personal_data_erased_at timestamptz;
comment on column shop.customer_order.personal_data_erased_at is
    'When the order''s personal data (e-mail, names, phones, street addresses, note) was removed: the customer''s erasure, or the end of the accounting period for a guest order. Amounts, tax, lines and the countries stay.';
create index customer_order_guest_retention_idx on shop.customer_order (placed_at)
    where user_id is null and personal_data_erased_at is null;

-- ---------------------------------------------------------------- the job
insert into shop.job_kind (kind, timeout, description) values
    ('apply_retention', '30 minutes',
     'Records the funnel of past days, then deletes abandoned carts, old audit rows and search logs and anonymises guest orders past the accounting period (privacy.* settings); counts each step in shop.retention_run.');
insert into shop.job_schedule (name, kind, cron, payload) values
    ('apply_retention', 'apply_retention', '37 2 * * *', '{}');
