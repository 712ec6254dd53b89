-- V6: media — derivatives carry their own sha256 (their ETag), review photos link
-- assets, the derivative and orphan-pruning job kinds and the orphan schedule.
-- The asset tables themselves are in V1 (bytea STORAGE EXTERNAL or a large object).

-- The large object belongs to the role that created it (maef, through the SECURITY
-- DEFINER upload functions); unlinking it must not depend on who deletes the row.
alter function shop.unlink_media_large_object() security definer;
alter function shop.unlink_media_large_object() set search_path = pg_catalog;

alter table shop.media_derivative add column sha256 text check (sha256 ~ '^[0-9a-f]{64}$');
comment on column shop.media_derivative.sha256 is 'sha256 of data: the strong ETag of the derivative.';

-- Photos attached to a review (a link, like product_media): keeps the asset alive.
create table shop.review_media (
    review_id bigint not null references shop.review on delete cascade,
    asset_id  uuid not null references shop.media_asset on delete cascade,
    position  integer not null default 0,
    primary key (review_id, asset_id)
);
create index review_media_asset_id_idx on shop.review_media (asset_id);
-- The orphan search probes each link table by asset id.
create index story_asset_id_idx on shop.story (asset_id) where asset_id is not null;
-- Orphan candidates are found by age.
create index media_asset_created_at_idx on shop.media_asset (created_at);

insert into shop.job_kind (kind, timeout, description) values
    ('make_derivatives', '2 minutes', 'Makes the thumb (320 px JPEG), medium (1024 px JPEG) and webp derivatives of an image asset; each (asset, kind) once.'),
    ('prune_orphan_media', '10 minutes', 'Deletes media assets linked to no product, story or review and older than MEDIA_ORPHAN_DAYS, unlinking their large objects.');

insert into shop.job_schedule (name, kind, every, cron, payload) values
    ('prune_orphan_media', 'prune_orphan_media', null, '41 3 * * *', '{}');
