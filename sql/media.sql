-- Media: every byte in PostgreSQL. Files up to MEDIA_BYTEA_MAX are one bytea value
-- (STORAGE EXTERNAL: uncompressed TOAST, so `substring` of a range reads only the
-- TOAST chunks it covers); larger ones (videos) are large objects written chunk by
-- chunk in the upload's transaction.
--
-- Large objects are owned by this code's owner (the functions are SECURITY DEFINER):
-- request roles neither create nor read them directly, so a large object can only be
-- reached through an asset row.
--
-- Upload (API, one transaction, caller with media:write):
--   small file:  api.media_create(meta, bytes, quota)
--   large file:  api.media_upload_begin(); api.media_upload_write(chunk) …;
--                api.media_create(meta, null, quota)
-- Download (API, a short statement per chunk, no transaction held between chunks):
--   api.media_info(asset, variant), then api.media_chunk(asset, variant, offset, len).
-- Derivatives (worker): api.media_derivative_source(asset), api.save_media_derivative(…).

-- The derivative kinds served by ?variant=.
create function api._media_variants() returns text[]
language sql immutable parallel safe as $$ select array['thumb', 'medium', 'webp'] $$;

create function api._media_not_found(p_asset_id uuid) returns void
language plpgsql immutable as $$
begin
    raise exception using errcode = 'MA404', constraint = 'media_not_found',
        message = format('no media asset %s', p_asset_id);
end
$$;

create function api._check_variant(p_variant text) returns void
language plpgsql immutable as $$
begin
    if p_variant is not null and not p_variant = any (api._media_variants()) then
        raise exception using errcode = 'MA422', constraint = 'invalid_variant',
            message = format('unknown variant %L', p_variant),
            detail = jsonb_build_object('allowed', api._media_variants())::text,
            hint = 'variant is one of thumb, medium, webp, or absent for the original';
    end if;
end
$$;

-- ---------------------------------------------------------------- upload
-- The transaction's upload in progress: its large object and bytes written so far,
-- kept in transaction-local settings so a chunk can only go to the large object this
-- transaction created.
create function api.media_upload_begin()
returns oid
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('media:write');
    return api._media_lo_begin();
end
$$;

-- The large object of this transaction's upload (shared by uploads and the worker's
-- ingestion of stories, api.ingest_media_begin in sql/stories.sql).
create function api._media_lo_begin()
returns oid
language plpgsql as $$
declare
    v_oid oid;
begin
    if coalesce(current_setting('maef.upload_oid', true), '') <> '' then
        raise exception using errcode = 'MA409', constraint = 'upload_in_progress',
            message = 'this transaction already has an upload in progress';
    end if;
    v_oid := pg_catalog.lo_create(0);
    perform set_config('maef.upload_oid', v_oid::text, true);
    perform set_config('maef.upload_size', '0', true);
    return v_oid;
end
$$;

create function api.media_upload_write(p_chunk bytea)
returns bigint
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('media:write');
    return api._media_lo_write(p_chunk);
end
$$;

create function api._media_lo_write(p_chunk bytea)
returns bigint
language plpgsql as $$
declare
    v_oid oid := nullif(current_setting('maef.upload_oid', true), '')::oid;
    v_size bigint := coalesce(nullif(current_setting('maef.upload_size', true), ''), '0')::bigint;
begin
    if v_oid is null then
        raise exception using errcode = 'MA409', constraint = 'no_upload_in_progress',
            message = 'call api.media_upload_begin() first, in the same transaction';
    end if;
    perform pg_catalog.lo_put(v_oid, v_size, p_chunk);
    v_size := v_size + octet_length(p_chunk);
    perform set_config('maef.upload_size', v_size::text, true);
    return v_size;
end
$$;

-- What the API returns for an asset.
create function api._media_json(p_asset shop.media_asset, p_created boolean)
returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'asset_id', p_asset.asset_id, 'filename', p_asset.filename, 'mime_type', p_asset.mime_type,
        'size_bytes', p_asset.size_bytes, 'sha256', p_asset.sha256, 'width', p_asset.width,
        'height', p_asset.height, 'duration_sec', p_asset.duration_sec,
        'storage', case when p_asset.lo_oid is null then 'bytea' else 'large_object' end,
        'url', '/api/v1/media/' || p_asset.asset_id, 'created', p_created,
        'created_at', p_asset.created_at)
$$;

-- Stores an uploaded file. p_meta: {filename, mime_type, size_bytes, sha256, width,
-- height, duration_sec} as measured by the API while streaming. p_data: the bytes of
-- a small file, or null for the large object of this transaction's upload.
create function api.media_create(p_meta jsonb, p_data bytea, p_quota_bytes bigint default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('media:write');
    return api._media_store(p_meta, p_data, shop.current_user_id(), p_quota_bytes);
end
$$;

-- The body of api.media_create, for any owner (null: the shop's own media, such as
-- the stories maef-worker pulls) and without the caller's permission check, which the
-- public entry points make. Quota applies to a non-null owner without users:admin.
create function api._media_store(p_meta jsonb, p_data bytea, p_owner uuid, p_quota_bytes bigint)
returns jsonb
language plpgsql as $$
declare
    v_oid oid := nullif(current_setting('maef.upload_oid', true), '')::oid;
    v_written bigint := nullif(current_setting('maef.upload_size', true), '')::bigint;
    v_size bigint := (p_meta ->> 'size_bytes')::bigint;
    v_sha text := p_meta ->> 'sha256';
    v_owner uuid := p_owner;
    v_used bigint;
    v_asset shop.media_asset;
begin
    if (p_data is null) = (v_oid is null) then
        raise exception using errcode = 'MA409', constraint = 'upload_storage',
            message = 'give either the bytes or a large object written by api.media_upload_write, not both or neither';
    end if;
    if p_data is not null and octet_length(p_data) <> v_size
       or p_data is null and v_written <> v_size then
        raise exception using errcode = 'MA422', constraint = 'size_mismatch',
            message = format('size_bytes is %s but %s bytes were stored', v_size, coalesce(octet_length(p_data), v_written));
    end if;
    -- The API hashed these bytes while streaming; hashing them again (~25 ms per 10 MiB)
    -- is the price of never storing an asset under a wrong identity, whoever calls
    -- (psql included). Large objects are not re-read: only the API writes them here.
    if p_data is not null and encode(pg_catalog.sha256(p_data), 'hex') <> v_sha then
        raise exception using errcode = 'MA422', constraint = 'sha256_mismatch',
            message = 'sha256 does not match the bytes';
    end if;

    -- The same bytes already stored: that asset, and this upload's copy is dropped.
    select * into v_asset from shop.media_asset where sha256 = v_sha;
    if found then
        if v_oid is not null then
            perform pg_catalog.lo_unlink(v_oid);
        end if;
        return api._media_json(v_asset, false);
    end if;

    -- Quota per uploader, admins exempt. The lock serialises one user's concurrent
    -- uploads, so two of them cannot both fit under the quota and together exceed it.
    if p_quota_bytes is not null and v_owner is not null and not shop.has_scope('users:admin') then
        perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('media_quota:' || v_owner::text, 0));
        select coalesce(sum(size_bytes), 0) into v_used from shop.media_asset where owner_id = v_owner;
        if v_used + v_size > p_quota_bytes then
            raise exception using errcode = 'MA413', constraint = 'media_quota_exceeded',
                message = format('media quota exceeded: the quota is %s bytes, %s are used, this file needs %s more',
                                 p_quota_bytes, v_used, v_size),
                detail = jsonb_build_object('quota_bytes', p_quota_bytes, 'used_bytes', v_used,
                                            'size_bytes', v_size)::text,
                hint = 'delete unused media, or ask an administrator';
        end if;
    end if;

    insert into shop.media_asset (sha256, filename, mime_type, size_bytes, data, lo_oid, width, height,
                                  duration_sec, owner_id)
    values (v_sha, p_meta ->> 'filename', p_meta ->> 'mime_type', v_size, p_data, v_oid,
            (p_meta ->> 'width')::integer, (p_meta ->> 'height')::integer,
            (p_meta ->> 'duration_sec')::numeric, v_owner)
    on conflict (sha256) do nothing
    returning * into v_asset;
    if not found then
        -- A concurrent upload of the same bytes committed first (we waited on its key).
        select * into v_asset from shop.media_asset where sha256 = v_sha;
        if v_oid is not null then
            perform pg_catalog.lo_unlink(v_oid);
        end if;
        return api._media_json(v_asset, false);
    end if;
    perform set_config('maef.upload_oid', '', true);
    if v_asset.mime_type like 'image/%' then
        perform api.enqueue_job('make_derivatives', jsonb_build_object('asset_id', v_asset.asset_id),
                                p_max_attempts => 5, p_unique_key => 'make_derivatives:' || v_asset.asset_id);
    end if;
    return api._media_json(v_asset, true);
end
$$;

-- ---------------------------------------------------------------- download
-- What a GET needs before the bytes: validators, type, length, and whether a
-- requested derivative is ready. {"ready": false} for an image whose derivative the
-- worker has not made yet (the API redirects to the original meanwhile).
create function api.media_info(p_asset_id uuid, p_variant text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_asset record;
    v_derivative record;
begin
    perform api._check_variant(p_variant);
    select a.asset_id, a.sha256, a.mime_type, a.size_bytes, a.filename, a.lo_oid is not null as is_lo
    into v_asset from shop.media_asset a where a.asset_id = p_asset_id;
    if not found then
        perform api._media_not_found(p_asset_id);
    end if;
    if p_variant is null then
        return jsonb_build_object('asset_id', v_asset.asset_id, 'sha256', v_asset.sha256,
            'mime_type', v_asset.mime_type, 'size_bytes', v_asset.size_bytes, 'filename', v_asset.filename,
            'variant', null, 'ready', true);
    end if;
    if v_asset.mime_type not like 'image/%' then
        raise exception using errcode = 'MA404', constraint = 'variant_unavailable',
            message = format('%s assets have no %s variant', v_asset.mime_type, p_variant),
            hint = 'derivatives are made for images only; fetch the original';
    end if;
    select d.sha256, d.mime_type, d.size_bytes into v_derivative
    from shop.media_derivative d where d.asset_id = p_asset_id and d.kind = p_variant;
    if not found then
        return jsonb_build_object('asset_id', v_asset.asset_id, 'variant', p_variant, 'ready', false);
    end if;
    return jsonb_build_object('asset_id', v_asset.asset_id,
        -- Derivatives made before V6 have no sha256: their ETag is the original's and kind.
        'sha256', coalesce(v_derivative.sha256, v_asset.sha256 || '-' || p_variant),
        'mime_type', v_derivative.mime_type, 'size_bytes', v_derivative.size_bytes,
        'filename', v_asset.filename, 'variant', p_variant, 'ready', true);
end
$$;

-- Bytes [p_offset, p_offset + p_length) of an asset or of its derivative. Assets are
-- immutable (content-addressed), so chunks read in separate transactions belong to
-- the same file; null when the asset was deleted meanwhile. LANGUAGE sql, not
-- PL/pgSQL: this runs once per chunk of every download, and the PL/pgSQL version
-- (SELECT INTO a variable, then return it) was 2.6 times slower per 256 KiB chunk.
create function api.media_chunk(p_asset_id uuid, p_variant text, p_offset bigint, p_length integer)
returns bytea
language sql stable security definer
set search_path = '' as $$
    select case
        when p_variant is null then (
            select case when a.lo_oid is null then substring(a.data from (p_offset + 1)::integer for p_length)
                        else pg_catalog.lo_get(a.lo_oid, p_offset, p_length) end
            from shop.media_asset a where a.asset_id = p_asset_id)
        else (
            select substring(d.data from (p_offset + 1)::integer for p_length)
            from shop.media_derivative d where d.asset_id = p_asset_id and d.kind = p_variant)
    end
$$;

-- ---------------------------------------------------------------- derivatives
create function api.media_request_derivatives(p_asset_id uuid, p_replace boolean default false)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_mime text;
    v_job_id bigint;
begin
    perform api._require_scope('media:write');
    select mime_type into v_mime from shop.media_asset where asset_id = p_asset_id;
    if not found then
        perform api._media_not_found(p_asset_id);
    end if;
    if v_mime not like 'image/%' then
        raise exception using errcode = 'MA422', constraint = 'not_an_image',
            message = format('derivatives are made for images; this asset is %s', v_mime);
    end if;
    -- replace mode debounces: a pending job for the asset takes the new payload.
    v_job_id := api.enqueue_job('make_derivatives',
        jsonb_build_object('asset_id', p_asset_id, 'replace', coalesce(p_replace, false)),
        p_max_attempts => 5, p_unique_key => 'make_derivatives:' || p_asset_id,
        p_unique_mode => case when p_replace then 'replace' else 'skip' end);
    perform api._audit('media.derivatives_requested', 'media_asset', p_asset_id::text,
                       jsonb_build_object('replace', coalesce(p_replace, false), 'job_id', v_job_id));
    return jsonb_build_object('asset_id', p_asset_id, 'job_id', v_job_id,
        'existing', coalesce((select jsonb_agg(kind order by kind) from shop.media_derivative
                              where asset_id = p_asset_id), '[]'));
end
$$;

-- For the worker: an image's bytes and the derivative kinds it already has.
create function api.media_derivative_source(p_asset_id uuid)
returns table (mime_type text, data bytea, existing text[])
language sql stable security definer
set search_path = '' as $$
    select a.mime_type, coalesce(a.data, pg_catalog.lo_get(a.lo_oid)),
           coalesce((select array_agg(d.kind) from shop.media_derivative d where d.asset_id = a.asset_id), '{}')
    from shop.media_asset a where a.asset_id = p_asset_id
$$;

-- For the worker: stores one derivative. Without p_replace an existing (asset, kind)
-- is kept, so a job run twice writes once.
create function api.save_media_derivative(p_asset_id uuid, p_kind text, p_mime_type text, p_data bytea,
                                          p_width integer, p_height integer, p_replace boolean default false)
returns boolean
language plpgsql security definer
set search_path = '' as $$
declare
    v_rows integer;
begin
    perform api._check_variant(p_kind);
    if p_replace then
        insert into shop.media_derivative (asset_id, kind, mime_type, size_bytes, data, width, height, sha256)
        values (p_asset_id, p_kind, p_mime_type, octet_length(p_data), p_data, p_width, p_height,
                encode(pg_catalog.sha256(p_data), 'hex'))
        on conflict (asset_id, kind) do update
            set mime_type = excluded.mime_type, size_bytes = excluded.size_bytes, data = excluded.data,
                width = excluded.width, height = excluded.height, sha256 = excluded.sha256, created_at = now();
    else
        insert into shop.media_derivative (asset_id, kind, mime_type, size_bytes, data, width, height, sha256)
        values (p_asset_id, p_kind, p_mime_type, octet_length(p_data), p_data, p_width, p_height,
                encode(pg_catalog.sha256(p_data), 'hex'))
        on conflict (asset_id, kind) do nothing;
    end if;
    get diagnostics v_rows = row_count;
    return v_rows > 0;
end
$$;

-- ---------------------------------------------------------------- lifecycle
-- Deletes up to p_limit assets that no product, story or review links and that are
-- older than p_older_than; their large objects go with them (trigger), their
-- derivatives by cascade. Returns the number deleted.
create function api.prune_orphan_media(p_older_than interval, p_limit integer default 1000)
returns integer
language plpgsql security definer
set search_path = '' as $$
declare
    v_deleted integer;
begin
    with doomed as (
        select a.asset_id from shop.media_asset a
        where a.created_at < now() - p_older_than
          and not exists (select from shop.product_media pm where pm.asset_id = a.asset_id)
          and not exists (select from shop.story s where s.asset_id = a.asset_id)
          and not exists (select from shop.story s where s.poster_asset_id = a.asset_id)
          and not exists (select from shop.review_media rm where rm.asset_id = a.asset_id)
        order by a.created_at
        limit p_limit
        for update skip locked)
    delete from shop.media_asset a using doomed d where a.asset_id = d.asset_id;
    get diagnostics v_deleted = row_count;
    perform api._count_retention('orphan_media', v_deleted);  -- report.retention (sql/privacy.sql)
    return v_deleted;
end
$$;

comment on function api._media_variants() is 'Private: the derivative kinds served by ?variant= (thumb, medium, webp).';
comment on function api._media_not_found(uuid) is 'Private: raises MA404 media_not_found.';
comment on function api._check_variant(text) is 'Private: MA422 invalid_variant unless null or a known derivative kind.';
comment on function api._media_json(shop.media_asset, boolean) is 'Private: the JSON of an asset as uploads return it (created = new bytes).';
comment on function api._media_lo_begin() is 'Private: creates this transaction''s upload large object (maef.upload_oid).';
comment on function api._media_lo_write(bytea) is 'Private: appends a chunk to this transaction''s upload large object; returns the bytes written.';
comment on function api._media_store(jsonb, bytea, uuid, bigint) is
    'Private: stores bytes or this transaction''s large object as an asset of p_owner (sha256 dedupe, quota for non-admin owners, derivatives enqueued for images).';
comment on function api.media_upload_begin() is
    'Starts a large-object upload in this transaction (media:write); chunks follow with api.media_upload_write, then api.media_create(meta, null).';
comment on function api.media_upload_write(bytea) is
    'Appends a chunk to this transaction''s upload; returns the bytes written so far. Needs media:write.';
comment on function api.media_create(jsonb, bytea, bigint) is
    'Stores an upload (bytes, or this transaction''s large object): an existing sha256 returns that asset with created=false and drops the copy; MA413 media_quota_exceeded over the uploader''s quota (admins exempt); enqueues make_derivatives for images. Needs media:write.';
comment on function api.media_info(uuid, text) is
    'Validators and type of an asset or its derivative (variant thumb|medium|webp): sha256, mime_type, size_bytes; ready=false while a derivative is being made. MA404 media_not_found / variant_unavailable, MA422 invalid_variant.';
comment on function api.media_chunk(uuid, text, bigint, integer) is
    'Bytes [offset, offset+length) of an asset (bytea substring or lo_get) or of its derivative; null if the asset is gone.';
comment on function api.media_request_derivatives(uuid, boolean) is
    'Enqueues make_derivatives for an image (replace=true re-makes existing ones), audited. Needs media:write. MA404, MA422 not_an_image.';
comment on function api.media_derivative_source(uuid) is 'Worker: an asset''s MIME type, bytes and existing derivative kinds.';
comment on function api.save_media_derivative(uuid, text, text, bytea, integer, integer, boolean) is
    'Worker: stores one derivative (kept if it exists unless replace); true when written.';
comment on function api.prune_orphan_media(interval, integer) is
    'Deletes up to p_limit assets linked to no product, story or review and older than p_older_than (large objects unlinked); returns the count.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose):
grant execute on function
    api.media_info(uuid,text),
    api.media_chunk(uuid,text,bigint,integer)
    to maef_anon, maef_customer, maef_staff, maef_admin;
-- Managers and admins (each function checks its permission):
grant execute on function
    api.media_upload_begin(),
    api.media_upload_write(bytea),
    api.media_create(jsonb,bytea,bigint),
    api.media_request_derivatives(uuid,boolean)
    to maef_staff, maef_admin;
-- Not granted (owner only: the worker, DBAs, other SECURITY DEFINER functions):
--   api.media_derivative_source, api.save_media_derivative, api.prune_orphan_media.
