-- V23: Instagram stories → products (issue 17): connected accounts with their tokens
-- sealed at rest, single-use OAuth states, what a story needs to be served and drafted
-- from, the permissions, store policies, job kinds and schedules.
--
-- The tables shop.story, shop.story_product_link and shop.oauth_token come from V1.

-- ---------------------------------------------------------------- connected accounts
-- One row per connected Instagram professional account (account_id = the IG user id).
-- Tokens are sealed by the binaries (XChaCha20-Poly1305, key OAUTH_TOKEN_KEY, the
-- account id as associated data): the database never sees a token in clear, so a dump,
-- a replica or a psql session leaks nothing usable. V1's clear-text columns go; no
-- code could write them before this migration, and a row a DBA inserted by hand
-- cannot be sealed in SQL (the key is not in the database): it must be reconnected.
do $$
begin
    if exists (select from shop.oauth_token) then
        raise exception 'shop.oauth_token has rows with clear-text tokens; delete them and reconnect the accounts after this migration';
    end if;
end
$$;
alter table shop.oauth_token
    drop column access_token,
    drop column refresh_token,
    add column token_sealed   bytea not null,
    add column token_key_id   text not null check (token_key_id ~ '^[0-9a-f]{16}$'),
    add column token_kind     text not null check (token_kind in ('page', 'user')),
    add column flavour        text not null default 'facebook_login' check (flavour in ('facebook_login')),
    add column username       text,
    add column page_id        text,
    add column page_name      text,
    add column status         text not null default 'active' check (status in ('active', 'needs_reauth')),
    add column status_reason  text,
    add column status_at      timestamptz not null default now(),
    add column connected_by   uuid references shop.app_user on delete set null,
    add column renewed_at     timestamptz,
    add column expiry_warned_at timestamptz,
    add column last_pull_at   timestamptz,
    add column last_pull_stories integer,
    add column last_pull_error text,
    add column throttled_until timestamptz,
    add column throttle_count integer not null default 0 check (throttle_count >= 0);
alter table shop.oauth_token add constraint oauth_token_account_id_format check (account_id ~ '^[0-9A-Za-z_-]{1,64}$');
comment on table shop.oauth_token is
    'Connected accounts (Instagram professional accounts) and their sealed access tokens (never in clear: OAUTH_TOKEN_KEY seals them in the binaries).';
comment on column shop.oauth_token.token_sealed is 'nonce || XChaCha20-Poly1305 ciphertext of the token, associated data = account_id.';
comment on column shop.oauth_token.token_key_id is 'Fingerprint of the OAUTH_TOKEN_KEY that sealed the token (names a wrong key).';
comment on column shop.oauth_token.token_kind is 'page: a Page token derived from a long-lived user token (no expiry); user: a user token (expires_at).';
comment on column shop.oauth_token.status is 'active, or needs_reauth after Meta refused the token (code 190): pulls skip it until an admin reconnects.';
comment on column shop.oauth_token.throttled_until is 'Pulls of this account wait until then (usage over 80 % or a rate-limit error).';
-- The daily renewal looks for tokens that expire soon.
create index oauth_token_expires_idx on shop.oauth_token (expires_at) where expires_at is not null;

-- The OAuth dialog's `state`: random, single use, bound to the admin who asked for the
-- URL and short-lived. Only its sha256 is stored.
create table shop.oauth_state (
    state_hash  text primary key check (state_hash ~ '^[0-9a-f]{64}$'),
    provider    text not null check (provider in ('instagram')),
    user_id     uuid not null references shop.app_user on delete cascade,
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    used_at     timestamptz,
    finished_at timestamptz,
    constraint oauth_state_finished_after_use check (finished_at is null or used_at is not null)
);
comment on table shop.oauth_state is 'OAuth states (sha256 of the random value sent to the dialog): single use, bound to the admin, expiring.';
comment on column shop.oauth_state.used_at is 'When the callback presented it (a second presentation is refused).';
comment on column shop.oauth_state.finished_at is 'When the callback recorded the accounts it found.';
create index oauth_state_expires_idx on shop.oauth_state (expires_at);
revoke all on shop.oauth_token, shop.oauth_state from public;

-- ---------------------------------------------------------------- stories
-- One link table is the truth about which products a story shows; V1's single
-- linked_product_id duplicated it.
alter table shop.story drop column linked_product_id;
alter table shop.story
    add column account_id         text,
    add column media_product_type text,
    add column media_source       text check (media_source in ('media_url', 'thumbnail_url', 'demo')),
    add column poster_asset_id    uuid references shop.media_asset on delete set null,
    add column media_error        text,
    add column caption_title      text,
    add column caption_description text not null default '',
    add column caption_hashtags   text[] not null default '{}',
    add column caption_price_amount bigint check (caption_price_amount >= 0),
    add column caption_price_currency char(3) references shop.currency,
    add column caption_price_text text,
    add column draft_product_id   bigint references shop.product on delete set null,
    add column hidden_at          timestamptz,
    add column hidden_by          uuid references shop.app_user on delete set null,
    add column updated_at         timestamptz not null default now(),
    add constraint story_caption_price_whole check ((caption_price_amount is null) = (caption_price_currency is null));
comment on column shop.story.media_source is 'Where the stored bytes came from: media_url, or thumbnail_url for a video Instagram gave without media_url (licensed music).';
comment on column shop.story.poster_asset_id is 'A video''s thumbnail (its poster frame); the image itself for an image story.';
comment on column shop.story.media_error is 'Why the media was not stored (over the size limit, not an allowed type, undecodable): the story is kept, unserved.';
comment on column shop.story.caption_price_amount is 'Price read from the caption (minor units of caption_price_currency), by maef-core''s caption parser.';
comment on column shop.story.draft_product_id is 'The inactive product drafted from this story, if any (one per story).';
comment on column shop.story.hidden_at is 'Hidden by an admin: never served, never pulled back in.';
create trigger story_updated_at before update on shop.story
    for each row execute function shop.set_updated_at();
-- The carousel: newest first, keyset on (posted_at, story_id), visible stories only.
create index story_visible_posted_idx on shop.story (posted_at desc, story_id desc)
    where hidden_at is null and asset_id is not null;
-- Retention walks old stories; links are probed by story and by product.
create index story_posted_at_idx on shop.story (posted_at);
create index story_product_link_product_idx on shop.story_product_link (product_id);
create index story_poster_asset_id_idx on shop.story (poster_asset_id) where poster_asset_id is not null;
alter table shop.story_product_link add column linked_by uuid references shop.app_user on delete set null;

-- ---------------------------------------------------------------- permissions
insert into shop.permission (name, description) values
    ('stories:write', 'Link stories to products, draft products from stories, hide stories, pull stories on demand'),
    ('integrations:admin', 'Connect and disconnect social accounts (Instagram) and their tokens');
insert into shop.role_permission (role_id, permission_id)
select r.role_id, p.permission_id
from shop.role r join shop.permission p on
    (p.name = 'stories:write' and r.name in ('admin', 'manager'))
    or (p.name = 'integrations:admin' and r.name = 'admin');

-- ---------------------------------------------------------------- store policies
insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('stories.retention_days', '90', 'integer', 1, 3650, 'STORY_RETENTION_DAYS',
     'Stories older than this many days that no product links are deleted with their media (GDPR retention).'),
    ('stories.create_drafts', 'false', 'boolean', null, null, 'IG_CREATE_DRAFTS',
     'Draft an inactive product from every new story that has a caption (title, description, hashtags, price).'),
    ('stories.oauth_state_ttl_secs', '600', 'integer', 60, 3600, 'IG_OAUTH_STATE_TTL_SECS',
     'Lifetime of the state of an Instagram authorization URL, in seconds.'),
    ('stories.renew_within_days', '10', 'integer', 1, 59, 'IG_RENEW_WITHIN_DAYS',
     'The daily renewal renews tokens expiring within this many days.');

-- ---------------------------------------------------------------- jobs
-- A pull of one account downloads whole videos: longer than V2's 5 minutes (the lease
-- is renewed by heartbeats meanwhile).
update shop.job_kind set timeout = '30 minutes',
    description = 'Pulls the stories of one connected Instagram account (payload {"account_id"}), or, with an empty payload, enqueues one pull per active account.'
where kind = 'pull_instagram_stories';
insert into shop.job_kind (kind, timeout, description) values
    ('renew_instagram_tokens', '5 minutes', 'Renews the Instagram tokens that expire within stories.renew_within_days, where Meta allows it; warns (audit) about the others.'),
    ('prune_stories', '10 minutes', 'Deletes unlinked stories older than stories.retention_days with their media.');
insert into shop.job_schedule (name, kind, every, cron, payload) values
    ('renew_instagram_tokens', 'renew_instagram_tokens', null, '23 4 * * *', '{}'),
    ('prune_stories', 'prune_stories', null, '53 3 * * *', '{}');
