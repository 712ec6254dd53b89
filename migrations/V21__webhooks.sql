-- V21: outbound webhooks (issue 20). Endpoints subscribe to event types; each event is
-- delivered once per subscribed endpoint (one shop.webhook_delivery row, one
-- deliver_webhook job), signed per the Standard Webhooks specification, retried with
-- exponential backoff for webhooks.retry_window_secs; every attempt is logged.

insert into shop.permission (name, description) values
    ('webhooks:write', 'Manage outbound webhook endpoints, read their delivery logs and the events, redeliver');
insert into shop.role_permission (role_id, permission_id)
select r.role_id, p.permission_id
from shop.role r join shop.permission p on p.name = 'webhooks:write'
where r.name = 'admin';

create table shop.webhook_endpoint (
    webhook_endpoint_id bigint generated always as identity primary key,
    url                 text not null,
    description         text not null default '',
    -- Event types ('order.paid'), families ('order.*') or everything ('*').
    event_types         text[] not null default '{*}',
    enabled             boolean not null default true,
    disabled_at         timestamptz,
    disabled_reason     text,
    -- Start of the current run of failed attempts (null after a success): the
    -- endpoint is disabled once it reaches webhooks.disable_after_secs.
    failing_since       timestamptz,
    last_success_at     timestamptz,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint webhook_endpoint_url_valid check (
        url ~ '^https?://[^/?#@[:space:]]+(/[^[:space:]]*)?$' and length(url) <= 2048),
    constraint webhook_endpoint_description_length check (length(description) <= 500),
    constraint webhook_endpoint_event_types_valid check (
        cardinality(event_types) between 1 and 100
        and array_position(event_types, null) is null),
    constraint webhook_endpoint_disabled_consistent check (enabled = (disabled_at is null))
);
comment on table shop.webhook_endpoint is
    'Outbound webhook endpoints: URL, subscribed event types (a type, a family ''order.*'' or ''*''), enabled; disabled after webhooks.disable_after_secs of failures.';
create trigger webhook_endpoint_updated_at before update on shop.webhook_endpoint
    for each row execute function shop.set_updated_at();

-- Signing secrets: `whsec_` + base64 of 32 random bytes (Standard Webhooks). Several
-- are valid during a rotation's overlap, and every valid one signs each request.
-- Stored in clear because HMAC signing needs the key itself; readable only by the
-- owner role (maef-worker, DBAs); the API shows a secret once, when it is made.
create table shop.webhook_secret (
    webhook_secret_id   bigint generated always as identity primary key,
    webhook_endpoint_id bigint not null references shop.webhook_endpoint on delete cascade,
    secret              text not null check (secret ~ '^whsec_[A-Za-z0-9+/]{32,88}={0,2}$'),
    created_at          timestamptz not null default now(),
    -- null: the current secret; else the end of its rotation overlap.
    expires_at          timestamptz
);
comment on table shop.webhook_secret is
    'Signing secrets of webhook endpoints (whsec_…). expires_at: end of a rotated secret''s overlap; null for the current one.';
create index webhook_secret_endpoint_idx on shop.webhook_secret (webhook_endpoint_id);
create unique index webhook_secret_one_current on shop.webhook_secret (webhook_endpoint_id) where expires_at is null;

create table shop.webhook_delivery (
    webhook_delivery_id bigint generated always as identity primary key,
    event_id            bigint not null references shop.event on delete cascade,
    webhook_endpoint_id bigint not null references shop.webhook_endpoint on delete cascade,
    status              text not null default 'pending'
                        check (status in ('pending', 'succeeded', 'failed', 'cancelled')),
    attempts            integer not null default 0 check (attempts >= 0),
    -- Start of the retry window (the first attempt, or the last manual retry).
    window_started_at   timestamptz,
    next_attempt_at     timestamptz,
    last_attempt_at     timestamptz,
    last_status_code    smallint,
    last_error          text,
    delivered_at        timestamptz,
    job_id              bigint,
    created_at          timestamptz not null default now(),
    updated_at          timestamptz not null default now(),
    constraint webhook_delivery_event_endpoint_key unique (event_id, webhook_endpoint_id)
);
comment on table shop.webhook_delivery is
    'One event for one endpoint: pending until a 2xx (succeeded), the end of the retry window (failed), or the endpoint''s disabling (cancelled).';
create index webhook_delivery_endpoint_idx on shop.webhook_delivery (webhook_endpoint_id, webhook_delivery_id desc);
create trigger webhook_delivery_updated_at before update on shop.webhook_delivery
    for each row execute function shop.set_updated_at();

-- The delivery log: one row per HTTP attempt.
create table shop.webhook_attempt (
    webhook_delivery_id bigint not null references shop.webhook_delivery on delete cascade,
    attempt             integer not null check (attempt > 0),
    started_at          timestamptz not null,
    latency_ms          integer check (latency_ms >= 0),
    status_code         smallint,
    error               text,
    response_excerpt    text check (length(response_excerpt) <= 2048),
    job_id              bigint,
    primary key (webhook_delivery_id, attempt)
);
comment on table shop.webhook_attempt is
    'Webhook delivery log: per attempt, the response status (null when no response), latency, error and the first 2 KiB of the response body.';

insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('webhooks.timeout_secs', '10', 'integer', 1, 60, 'WEBHOOK_TIMEOUT_SECS',
     'How long a webhook request may take (connect, send, answer) before the attempt fails.'),
    ('webhooks.retry_base_secs', '5', 'integer', 1, 3600, 'WEBHOOK_RETRY_BASE_SECS',
     'Delay after a delivery''s first failed attempt; each next delay is three times the previous (capped), with ±20% jitter.'),
    ('webhooks.retry_max_delay_secs', '43200', 'integer', 1, 604800, 'WEBHOOK_RETRY_MAX_DELAY_SECS',
     'Longest delay between two attempts of a delivery (12 hours).'),
    ('webhooks.retry_window_secs', '259200', 'integer', 1, 2592000, 'WEBHOOK_RETRY_WINDOW_SECS',
     'How long a failing delivery is retried from its first attempt before it is marked failed (3 days).'),
    ('webhooks.disable_after_secs', '432000', 'integer', 1, 7776000, 'WEBHOOK_DISABLE_AFTER_SECS',
     'An endpoint whose attempts all failed for this long is disabled, audited, and its admins are e-mailed (5 days).');

insert into shop.job_kind (kind, timeout, description) values
    ('deliver_webhook', '1 minute', 'POSTs one event to one webhook endpoint (Standard Webhooks signature) and logs the attempt.');

revoke all on shop.webhook_endpoint, shop.webhook_secret, shop.webhook_delivery, shop.webhook_attempt from public;
