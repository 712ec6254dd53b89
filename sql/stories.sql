-- Instagram stories → products (issue 17): the carousel the storefront reads, the
-- admin's links, drafts and hiding, the connected accounts, and the entry points
-- maef-worker's pull uses. Migration V23 holds the data.
--
-- Who calls what:
--   storefront (anyone):        api.list_stories, api.story
--   stories:write (managers):   api.admin_list_stories, api.link_story_product,
--                               api.unlink_story_product, api.draft_product_from_story,
--                               api.hide_story, api.ingest_instagram_stories
--   integrations:admin (admins): api.instagram_oauth_begin, api.instagram_save_account,
--                               api.instagram_accounts, api.instagram_disconnect
--   the OAuth callback (anyone holding the state): api.instagram_oauth_callback_begin,
--                               api.instagram_oauth_callback_finish
--   maef-worker (owner only, not granted): api.enqueue_instagram_pulls,
--                               api.instagram_account_for_pull, api.known_stories,
--                               api.ingest_media_begin/_write, api.ingest_media,
--                               api.save_instagram_story, api.instagram_pull_*,
--                               api.instagram_tokens_to_renew, api.instagram_token_*,
--                               api.prune_stories, api.story_currencies
--
-- Tokens are sealed by the binaries (OAUTH_TOKEN_KEY); no function here sees one in
-- clear or returns a sealed one to a request role.

-- ---------------------------------------------------------------- JSON shapes

-- A stored asset as the carousel shows it: where its bytes are and, for images, the
-- derivative URLs (served as soon as the worker made them; the original meanwhile).
create function api._story_media_json(p_asset_id uuid)
returns jsonb
language plpgsql stable as $$  -- PL/pgSQL: its plan is kept (docs/contributing.md)
begin
    return (select jsonb_build_object(
        'asset_id', a.asset_id, 'url', '/api/v1/media/' || a.asset_id, 'mime_type', a.mime_type,
        'width', a.width, 'height', a.height, 'duration_sec', a.duration_sec, 'size_bytes', a.size_bytes,
        'variants', case when a.mime_type like 'image/%' then jsonb_build_object(
            'thumb', '/api/v1/media/' || a.asset_id || '?variant=thumb',
            'medium', '/api/v1/media/' || a.asset_id || '?variant=medium',
            'webp', '/api/v1/media/' || a.asset_id || '?variant=webp') end)
    from shop.media_asset a where a.asset_id = p_asset_id);
end
$$;
comment on function api._story_media_json(uuid) is
    'Private: {asset_id, url, mime_type, width, height, duration_sec, size_bytes, variants{thumb, medium, webp} | null for videos}.';

-- A story as the storefront sees it: media, caption, times and the active products it shows.
create function api._story_json(p shop.story)
returns jsonb
language plpgsql stable as $$  -- PL/pgSQL: its plan is kept (docs/contributing.md)
begin
    return (select jsonb_build_object(
        'id', p.story_id, 'platform', p.platform, 'media_type', p.media_type,
        'media_source', p.media_source,
        'media', api._story_media_json(p.asset_id),
        'poster', api._story_media_json(p.poster_asset_id),
        'caption', p.caption, 'posted_at', p.posted_at,
        'expires_on_instagram_at', p.posted_at + interval '24 hours',
        'permalink', p.permalink,
        'products', coalesce((
            select jsonb_agg(api._product_summary(pr) order by l.created_at, pr.product_id)
            from shop.story_product_link l join shop.product pr on pr.product_id = l.product_id
            where l.story_id = p.story_id and pr.is_active), '[]')));
end
$$;
comment on function api._story_json(shop.story) is
    'Private: the public form of a story (media with derivative URLs, poster, caption, posted_at, expires_on_instagram_at, permalink, active linked products as summaries).';

-- The admin form: everything, including hidden state, media errors, what the caption
-- parser read, and every link (inactive drafts included).
create function api._story_admin_json(p shop.story)
returns jsonb
language plpgsql stable as $$  -- PL/pgSQL: its plan is kept (docs/contributing.md)
begin
    return (select api._story_json(p) || jsonb_build_object(
        'account_id', p.account_id, 'external_id', p.external_id,
        'media_product_type', p.media_product_type, 'media_error', p.media_error,
        'hidden_at', p.hidden_at, 'created_at', p.created_at, 'updated_at', p.updated_at,
        'draft_product_id', p.draft_product_id,
        'caption_facts', jsonb_build_object(
            'title', p.caption_title, 'description', p.caption_description, 'hashtags', to_jsonb(p.caption_hashtags),
            'price', case when p.caption_price_amount is not null then jsonb_build_object(
                'currency', p.caption_price_currency, 'amount', p.caption_price_amount, 'text', p.caption_price_text) end),
        'links', coalesce((
            select jsonb_agg(jsonb_build_object('product_id', pr.product_id, 'slug', pr.slug, 'title', pr.title,
                                                'is_active', pr.is_active, 'linked_at', l.created_at)
                             order by l.created_at, pr.product_id)
            from shop.story_product_link l join shop.product pr on pr.product_id = l.product_id
            where l.story_id = p.story_id), '[]')));
end
$$;
comment on function api._story_admin_json(shop.story) is
    'Private: the admin form of a story (public form + account, external id, media error, hidden_at, caption facts, every link).';

-- ---------------------------------------------------------------- reads

create function api._story_not_found(p_story_id bigint)
returns void
language plpgsql immutable as $$
begin
    raise exception using errcode = 'MA404', constraint = 'story_not_found',
        message = format('no story %s', p_story_id);
end
$$;
comment on function api._story_not_found(bigint) is 'Private: raises MA404 story_not_found.';

-- Keyset cursor of a story list: "<posted_at in epoch microseconds>|<story_id>", exact
-- (an interval of whole microseconds, no float).
create function api._story_cursor(p_after text, out after_at timestamptz, out after_id bigint)
language plpgsql stable as $$
begin
    if p_after is null then
        return;
    end if;
    if p_after !~ '^-?[0-9]{1,18}\|[0-9]{1,18}$' then
        raise exception using errcode = 'MA422', constraint = 'invalid_cursor',
            message = 'after is not a cursor returned by this API',
            hint = 'Pass the next_cursor of the previous page, or omit after.';
    end if;
    after_id := split_part(p_after, '|', 2)::bigint;
    begin
        after_at := timestamptz 'epoch' + (split_part(p_after, '|', 1) || ' microseconds')::interval;
    exception when datetime_field_overflow then
        -- Beyond PostgreSQL's timestamps: before or after every story.
        after_at := case when p_after like '-%' then '-infinity'::timestamptz else 'infinity'::timestamptz end;
    end;
end
$$;
comment on function api._story_cursor(text) is 'Private: parses a story-list cursor (MA422 invalid_cursor).';

create function api._check_story_limit(p_limit integer)
returns integer
language plpgsql immutable as $$
begin
    if coalesce(p_limit, 20) not between 1 and 50 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit',
            message = format('limit must be between 1 and 50, not %s', p_limit), hint = 'Omit limit for pages of 20.';
    end if;
    return coalesce(p_limit, 20);
end
$$;
comment on function api._check_story_limit(integer) is 'Private: the page size (default 20, MA422 invalid_limit outside 1..50).';

-- The storefront carousel: visible stories (with stored media, not hidden), newest
-- first, keyset pages. p_linked: true = showing at least one active product, false =
-- showing none, null = all.
create function api.list_stories(p_linked boolean default null, p_limit integer default 20, p_after text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_limit integer := api._check_story_limit(p_limit);
    v_cursor record;
    v_page jsonb;
begin
    select * into v_cursor from api._story_cursor(p_after);
    with page as (
        select c.s, row_number() over (order by (c.s).posted_at desc, (c.s).story_id desc) as n
        from (
            select s from shop.story s
            where s.hidden_at is null and s.asset_id is not null
              and (v_cursor.after_id is null or (s.posted_at, s.story_id) < (v_cursor.after_at, v_cursor.after_id))
              and (p_linked is null or p_linked = exists (
                      select from shop.story_product_link l join shop.product pr on pr.product_id = l.product_id
                      where l.story_id = s.story_id and pr.is_active))
            order by s.posted_at desc, s.story_id desc
            limit v_limit + 1) c
    )
    select jsonb_build_object(
        'items', coalesce(jsonb_agg(api._story_json(page.s) order by page.n) filter (where page.n <= v_limit), '[]'),
        'next_cursor', (select ((extract(epoch from (p.s).posted_at) * 1000000)::bigint)::text || '|' || (p.s).story_id
                        from page p where p.n = v_limit and exists (select from page x where x.n > v_limit)))
    into v_page from page;
    return v_page;
end
$$;
comment on function api.list_stories(boolean, integer, text) is
    'The stories carousel: visible stories newest first, {items, next_cursor}; linked=true|false filters on active linked products. MA422 invalid_limit (1..50), invalid_cursor.';

create function api.story(p_story_id bigint)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_story shop.story;
begin
    select * into v_story from shop.story
    where story_id = p_story_id and hidden_at is null and asset_id is not null;
    if not found then
        perform api._story_not_found(p_story_id);
    end if;
    return api._story_json(v_story);
end
$$;
comment on function api.story(bigint) is 'One visible story in its public form. MA404 story_not_found (also for hidden stories and stories without media).';

-- The admin list: every story, filters {linked, hidden, has_media, account_id, q}.
create function api.admin_list_stories(p_filters jsonb default '{}', p_limit integer default 20, p_after text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    f jsonb := coalesce(p_filters, '{}');
    v_limit integer := api._check_story_limit(p_limit);
    v_cursor record;
    v_unknown text;
    v_page jsonb;
begin
    perform api._require_scope('stories:write');
    select string_agg(k, ', ' order by k) into v_unknown from jsonb_object_keys(f) k
    where k not in ('linked', 'hidden', 'has_media', 'account_id', 'q');
    if v_unknown is not null then
        raise exception using errcode = 'MA422', constraint = 'unknown_filter',
            message = format('unknown filter(s): %s', v_unknown), hint = 'Allowed: linked, hidden, has_media, account_id, q.';
    end if;
    perform api._require_one_of('linked', f ->> 'linked', array['true', 'false']);
    perform api._require_one_of('hidden', f ->> 'hidden', array['true', 'false']);
    perform api._require_one_of('has_media', f ->> 'has_media', array['true', 'false']);
    select * into v_cursor from api._story_cursor(p_after);
    with page as (
        select c.s, row_number() over (order by (c.s).posted_at desc, (c.s).story_id desc) as n
        from (
            select s from shop.story s
            where (v_cursor.after_id is null or (s.posted_at, s.story_id) < (v_cursor.after_at, v_cursor.after_id))
              and (f ->> 'linked' is null or (f ->> 'linked')::boolean = exists (
                      select from shop.story_product_link l where l.story_id = s.story_id))
              and (f ->> 'hidden' is null or (f ->> 'hidden')::boolean = (s.hidden_at is not null))
              and (f ->> 'has_media' is null or (f ->> 'has_media')::boolean = (s.asset_id is not null))
              and (f ->> 'account_id' is null or s.account_id = f ->> 'account_id')
              and (f ->> 'q' is null or s.caption ilike '%' || replace(replace(replace(f ->> 'q', '\', '\\'), '%', '\%'), '_', '\_') || '%')
            order by s.posted_at desc, s.story_id desc
            limit v_limit + 1) c
    )
    select jsonb_build_object(
        'items', coalesce(jsonb_agg(api._story_admin_json(page.s) order by page.n) filter (where page.n <= v_limit), '[]'),
        'next_cursor', (select ((extract(epoch from (p.s).posted_at) * 1000000)::bigint)::text || '|' || (p.s).story_id
                        from page p where p.n = v_limit and exists (select from page x where x.n > v_limit)))
    into v_page from page;
    return v_page;
end
$$;
comment on function api.admin_list_stories(jsonb, integer, text) is
    'Every story in its admin form, newest first, filters {linked, hidden, has_media: true|false, account_id, q (caption contains)}. Needs stories:write. MA422 unknown_filter, invalid_*, invalid_limit, invalid_cursor.';

-- ---------------------------------------------------------------- admin writes

create function api._story_for_update(p_story_id bigint)
returns shop.story
language plpgsql as $$
declare
    v_story shop.story;
begin
    select * into v_story from shop.story where story_id = p_story_id for update;
    if not found then
        perform api._story_not_found(p_story_id);
    end if;
    return v_story;
end
$$;
comment on function api._story_for_update(bigint) is 'Private: locks a story row (MA404 story_not_found).';

-- Links a product to a story (shown in the carousel while the product is active).
-- Linking twice is harmless: {created: false}.
create function api.link_story_product(p_story_id bigint, p_product_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_story shop.story;
    v_rows integer;
begin
    perform api._require_scope('stories:write');
    v_story := api._story_for_update(p_story_id);
    if not exists (select from shop.product where product_id = p_product_id) then
        raise exception using errcode = 'MA404', constraint = 'product_not_found',
            message = format('no product %s', p_product_id);
    end if;
    insert into shop.story_product_link (story_id, product_id, linked_by)
    values (p_story_id, p_product_id, shop.current_user_id())
    on conflict do nothing;
    get diagnostics v_rows = row_count;
    if v_rows > 0 then
        perform api._audit('story.product_linked', 'story', p_story_id::text, jsonb_build_object('product_id', p_product_id));
    end if;
    return jsonb_build_object('created', v_rows > 0, 'story', api._story_admin_json(v_story));
end
$$;
comment on function api.link_story_product(bigint, bigint) is
    'Links a product to a story (audited; linking twice is created=false). Needs stories:write. MA404 story_not_found, product_not_found.';

create function api.unlink_story_product(p_story_id bigint, p_product_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_story shop.story;
begin
    perform api._require_scope('stories:write');
    v_story := api._story_for_update(p_story_id);
    delete from shop.story_product_link where story_id = p_story_id and product_id = p_product_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'story_link_not_found',
            message = format('story %s does not show product %s', p_story_id, p_product_id);
    end if;
    perform api._audit('story.product_unlinked', 'story', p_story_id::text, jsonb_build_object('product_id', p_product_id));
    return api._story_admin_json(v_story);
end
$$;
comment on function api.unlink_story_product(bigint, bigint) is
    'Removes a story''s link to a product (audited). Needs stories:write. MA404 story_not_found, story_link_not_found.';

-- Hides a story: never served again, kept for the admin, and a later pull does not
-- bring it back (the pull updates nothing of a hidden story).
create function api.hide_story(p_story_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_story shop.story;
begin
    perform api._require_scope('stories:write');
    v_story := api._story_for_update(p_story_id);
    if v_story.hidden_at is null then
        update shop.story set hidden_at = now(), hidden_by = shop.current_user_id()
        where story_id = p_story_id returning * into v_story;
        perform api._audit('story.hidden', 'story', p_story_id::text);
    end if;
    return api._story_admin_json(v_story);
end
$$;
comment on function api.hide_story(bigint) is 'Hides a story from the carousel (audited; hiding twice is harmless). Needs stories:write. MA404 story_not_found.';

-- Drafts an inactive product from a story: title and description from the caption,
-- hashtags as tags, the caption's price, the story's image (a video's poster) as the
-- primary image, one variant with no stock; the story is linked to it. One draft per
-- story: asking again returns it (created = false).
create function api._story_draft_product(p_story shop.story)
returns bigint
language plpgsql as $$
declare
    v_id bigint;
    v_title text;
    v_sku text;
    v_image uuid;
    v_tags jsonb;
begin
    if p_story.draft_product_id is not null then
        return p_story.draft_product_id;
    end if;
    v_title := left(coalesce(nullif(btrim(p_story.caption_title), ''),
                             'Instagram story of ' || to_char(p_story.posted_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI')), 300);
    v_sku := left('STORY-' || p_story.story_id, 64);
    insert into shop.product (sku_root, title, slug, description, is_active)
    values (v_sku, v_title, api._slugify(v_title, 'product'), coalesce(p_story.caption_description, ''), false)
    returning product_id into v_id;
    perform api._add_variant(v_id, jsonb_build_object('name', 'Default', 'sku', v_sku || '-1'), '$.variant');
    if p_story.caption_price_amount is not null then
        perform api._add_price(v_id, null, jsonb_build_object('currency', p_story.caption_price_currency,
                                                              'amount', p_story.caption_price_amount), '$.price');
    end if;
    -- Hashtags whose slug would be empty (#日本, #___) cannot be tags.
    select coalesce(jsonb_agg(h), '[]') into v_tags from unnest(p_story.caption_hashtags) h
    where regexp_replace(shop.f_unaccent(lower(h)), '[^a-z0-9]+', '', 'g') <> '';
    perform api._set_product_tags(v_id, v_tags, '$.tags');
    select a.asset_id into v_image from shop.media_asset a
    where a.asset_id in (p_story.asset_id, p_story.poster_asset_id) and a.mime_type like 'image/%'
    order by a.asset_id = p_story.asset_id desc limit 1;
    if v_image is not null then
        insert into shop.product_media (product_id, asset_id, is_primary, position, alt)
        values (v_id, v_image, true, 0, left(v_title, 200));
    end if;
    insert into shop.story_product_link (story_id, product_id, linked_by)
    values (p_story.story_id, v_id, shop.current_user_id()) on conflict do nothing;
    update shop.story set draft_product_id = v_id where story_id = p_story.story_id;
    -- A product like any other: its creation is an event (sql/events.sql, webhooks).
    perform api._emit_event('product.created', 'product', v_id::text, api._product_event_payload(v_id));
    perform api._audit('story.product_drafted', 'story', p_story.story_id::text,
                       jsonb_build_object('product_id', v_id, 'price_currency', p_story.caption_price_currency,
                                          'price_amount', p_story.caption_price_amount));
    return v_id;
end
$$;
comment on function api._story_draft_product(shop.story) is
    'Private: the story''s draft product (made once: inactive, caption title/description, hashtag tags, caption price, story image as primary), linked to the story.';

create function api.draft_product_from_story(p_story_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_story shop.story;
    v_id bigint;
begin
    perform api._require_scope('stories:write');
    perform api._require_scope('catalog:write');
    v_story := api._story_for_update(p_story_id);
    v_id := api._story_draft_product(v_story);
    return jsonb_build_object('created', v_story.draft_product_id is null, 'product', api._product_admin_json(v_id),
                              'story', api._story_admin_json((select s from shop.story s where s.story_id = p_story_id)));
end
$$;
comment on function api.draft_product_from_story(bigint) is
    'Drafts an inactive product from a story (or returns its draft: created=false), linked to it. Needs stories:write and catalog:write. MA404 story_not_found.';

-- Pulls on demand: one pull_instagram_stories job per active account (or for one
-- account), through the queue's unique key: an account already being pulled, or
-- waiting for its pull, is not pulled twice.
create function api.ingest_instagram_stories(p_account_id text default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_jobs jsonb;
begin
    perform api._require_scope('stories:write');
    if p_account_id !~ '^[0-9A-Za-z_-]{1,64}$' then
        raise exception using errcode = 'MA422', constraint = 'invalid_account_id',
            message = 'account_id must be an Instagram user id (digits, at most 64 characters)';
    end if;
    if p_account_id is not null and not exists (
        select from shop.oauth_token where provider = 'instagram' and account_id = p_account_id) then
        raise exception using errcode = 'MA404', constraint = 'instagram_account_not_found',
            message = format('no connected Instagram account %s', p_account_id);
    end if;
    v_jobs := api.enqueue_instagram_pulls(p_account_id);
    if jsonb_array_length(v_jobs) = 0 then
        raise exception using errcode = 'MA409', constraint = 'no_active_instagram_account',
            message = 'no Instagram account is connected and active',
            hint = 'Connect one (GET /api/v1/admin/integrations/instagram/authorize), or reconnect one that needs it.';
    end if;
    perform api._audit('stories.ingest_requested', 'instagram', p_account_id, jsonb_build_object('jobs', v_jobs));
    return jsonb_build_object('jobs', v_jobs);
end
$$;
comment on function api.ingest_instagram_stories(text) is
    'Enqueues a pull of every active Instagram account (or of one), one job per account at a time (unique key). Needs stories:write. MA404 instagram_account_not_found, MA409 no_active_instagram_account.';

-- ---------------------------------------------------------------- accounts (admins)

create function api._instagram_account_json(p shop.oauth_token)
returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'account_id', p.account_id, 'username', p.username, 'page_id', p.page_id, 'page_name', p.page_name,
        'flavour', p.flavour, 'token_kind', p.token_kind, 'expires_at', p.expires_at, 'scopes', to_jsonb(p.scopes),
        'status', p.status, 'status_reason', p.status_reason, 'status_at', p.status_at,
        'connected_at', p.created_at, 'renewed_at', p.renewed_at,
        'last_pull_at', p.last_pull_at, 'last_pull_stories', p.last_pull_stories, 'last_pull_error', p.last_pull_error,
        'throttled_until', p.throttled_until,
        'stories', (select count(*) from shop.story s where s.platform = 'instagram' and s.account_id = p.account_id))
$$;
comment on function api._instagram_account_json(shop.oauth_token) is
    'Private: a connected account without its token (status, expiry, last pull, throttling, story count).';

-- Saves (or replaces) a connected account and its sealed token; a reconnected account
-- is active again. p_account: {account_id, username?, page_id?, page_name?, token_kind,
-- key_id, expires_at? or expires_in? (seconds; neither: no expiry), scopes?}.
create function api._instagram_upsert_account(p_account jsonb, p_sealed bytea, p_actor uuid)
returns shop.oauth_token
language plpgsql as $$
declare
    v_row shop.oauth_token;
begin
    if coalesce(p_account ->> 'account_id', '') !~ '^[0-9A-Za-z_-]{1,64}$' then
        raise exception using errcode = 'MA422', constraint = 'invalid_account_id',
            message = 'account_id must be an Instagram user id (digits, at most 64 characters)';
    end if;
    insert into shop.oauth_token as t (provider, account_id, token_sealed, token_key_id, token_kind, username, page_id,
                                       page_name, expires_at, scopes, connected_by)
    values ('instagram', p_account ->> 'account_id', p_sealed, p_account ->> 'key_id', p_account ->> 'token_kind',
            p_account ->> 'username', p_account ->> 'page_id', p_account ->> 'page_name',
            coalesce((p_account ->> 'expires_at')::timestamptz,
                     now() + make_interval(secs => (p_account ->> 'expires_in')::double precision)),
            coalesce((select array_agg(x) from jsonb_array_elements_text(p_account -> 'scopes') x), '{}'), p_actor)
    on conflict (provider, account_id) do update
        set token_sealed = excluded.token_sealed, token_key_id = excluded.token_key_id, token_kind = excluded.token_kind,
            username = coalesce(excluded.username, t.username), page_id = coalesce(excluded.page_id, t.page_id),
            page_name = coalesce(excluded.page_name, t.page_name), expires_at = excluded.expires_at,
            scopes = excluded.scopes, connected_by = excluded.connected_by,
            status = 'active', status_reason = null, status_at = now(), expiry_warned_at = null,
            throttled_until = null, throttle_count = 0, last_pull_error = null
    returning * into v_row;
    insert into shop.audit_log (actor_id, action, entity, entity_id, data)
    values (p_actor, 'instagram.account_connected', 'instagram_account', v_row.account_id,
            jsonb_build_object('username', v_row.username, 'token_kind', v_row.token_kind, 'expires_at', v_row.expires_at,
                               'page_id', v_row.page_id));
    return v_row;
end
$$;
comment on function api._instagram_upsert_account(jsonb, bytea, uuid) is
    'Private: saves a connected account with its sealed token (reconnecting makes it active again), audited with p_actor.';

-- An admin's own token for an account (checked against Meta by the API first).
create function api.instagram_save_account(p_account jsonb, p_sealed bytea)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    perform api._require_scope('integrations:admin');
    return api._instagram_account_json(api._instagram_upsert_account(p_account, p_sealed, shop.current_user_id()));
end
$$;
comment on function api.instagram_save_account(jsonb, bytea) is
    'Saves a connected Instagram account with its token sealed by the API. Needs integrations:admin. MA422 invalid_account_id.';

create function api.instagram_accounts()
returns jsonb
language sql stable security definer
set search_path = '' as $$
    select api._require_scope('integrations:admin');
    select jsonb_build_object('items', coalesce(jsonb_agg(api._instagram_account_json(t) order by t.created_at, t.account_id), '[]'))
    from shop.oauth_token t where t.provider = 'instagram';
$$;
comment on function api.instagram_accounts() is 'The connected Instagram accounts, without tokens. Needs integrations:admin.';

-- Disconnects an account: its token is deleted; its stories stay.
create function api.instagram_disconnect(p_account_id text)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_row shop.oauth_token;
begin
    perform api._require_scope('integrations:admin');
    delete from shop.oauth_token where provider = 'instagram' and account_id = p_account_id returning * into v_row;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'instagram_account_not_found',
            message = format('no connected Instagram account %s', p_account_id);
    end if;
    perform api._audit('instagram.account_disconnected', 'instagram_account', p_account_id,
                       jsonb_build_object('username', v_row.username));
    return jsonb_build_object('account_id', p_account_id, 'disconnected', true);
end
$$;
comment on function api.instagram_disconnect(text) is
    'Deletes a connected account and its token (its stories stay). Needs integrations:admin. MA404 instagram_account_not_found.';

-- ---------------------------------------------------------------- OAuth (Facebook Login)

-- Records the state of a new authorization URL, bound to the calling admin. The API
-- made the random value and passes its sha256.
create function api.instagram_oauth_begin(p_state_hash text)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_expires timestamptz := now() + api._setting_secs('stories.oauth_state_ttl_secs');
begin
    perform api._require_scope('integrations:admin');
    delete from shop.oauth_state where expires_at < now() - interval '1 day';
    insert into shop.oauth_state (state_hash, provider, user_id, expires_at)
    values (p_state_hash, 'instagram', shop.current_user_id(), v_expires);
    return jsonb_build_object('expires_at', v_expires);
end
$$;
comment on function api.instagram_oauth_begin(text) is
    'Stores the sha256 of a new OAuth state for the calling admin (expires after stories.oauth_state_ttl_secs). Needs integrations:admin.';

create function api._oauth_state_refused(p_reason text)
returns void
language plpgsql immutable as $$
begin
    raise exception using errcode = 'MA400', constraint = 'oauth_state_invalid',
        message = format('the authorization state is %s', p_reason),
        hint = 'Start again from GET /api/v1/admin/integrations/instagram/authorize.';
end
$$;
comment on function api._oauth_state_refused(text) is 'Private: raises MA400 oauth_state_invalid.';

-- The callback's first step, before anything is asked of Meta: the state must exist,
-- be unexpired and unused, and its admin must still hold integrations:admin. It is
-- used up here, so a replayed callback URL is refused even if the rest fails.
create function api.instagram_oauth_callback_begin(p_state_hash text)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_state shop.oauth_state;
begin
    select * into v_state from shop.oauth_state where state_hash = p_state_hash for update;
    if not found then
        perform api._oauth_state_refused('unknown');
    elsif v_state.used_at is not null then
        perform api._oauth_state_refused('already used');
    elsif v_state.expires_at < now() then
        perform api._oauth_state_refused('expired');
    end if;
    update shop.oauth_state set used_at = now() where state_hash = p_state_hash;
    if not exists (
        select from shop.app_user u
        join shop.user_role ur on ur.user_id = u.user_id
        join shop.role_permission rp on rp.role_id = ur.role_id
        join shop.permission p on p.permission_id = rp.permission_id
        where u.user_id = v_state.user_id and u.is_active and p.name = 'integrations:admin') then
        perform api._oauth_state_refused('bound to an account that may no longer connect accounts');
    end if;
    return jsonb_build_object('accepted', true);
end
$$;
comment on function api.instagram_oauth_callback_begin(text) is
    'OAuth callback, step 1: uses up a valid state (exists, unexpired, unused, its admin still holds integrations:admin). MA400 oauth_state_invalid.';

-- The callback's last step: records the accounts found with the tokens the API sealed,
-- in the name of the state's admin. p_accounts: [{account fields…, sealed: base64}].
create function api.instagram_oauth_callback_finish(p_state_hash text, p_accounts jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_state shop.oauth_state;
    v_account jsonb;
    v_saved jsonb := '[]';
begin
    select * into v_state from shop.oauth_state where state_hash = p_state_hash for update;
    if not found or v_state.used_at is null or v_state.finished_at is not null
       or v_state.used_at < now() - interval '10 minutes' then
        perform api._oauth_state_refused('not in a callback');
    end if;
    update shop.oauth_state set finished_at = now() where state_hash = p_state_hash;
    for v_account in select value from jsonb_array_elements(coalesce(p_accounts, '[]')) loop
        v_saved := v_saved || api._instagram_account_json(api._instagram_upsert_account(
            v_account - 'sealed', decode(v_account ->> 'sealed', 'base64'), v_state.user_id));
    end loop;
    return jsonb_build_object('accounts', v_saved);
end
$$;
comment on function api.instagram_oauth_callback_finish(text, jsonb) is
    'OAuth callback, step 2: saves the accounts found (tokens sealed by the API) in the name of the state''s admin; once per state. MA400 oauth_state_invalid.';

-- ---------------------------------------------------------------- the worker's pull

-- The currencies the caption parser may read prices in, with their exponents.
create function api.story_currencies()
returns table (code text, exponent integer)
language sql stable security definer
set search_path = '' as $$
    select c.code::text, c.exponent::integer from shop.currency c order by c.code
$$;
comment on function api.story_currencies() is 'Worker: currency codes and exponents for the caption price parser.';

-- One pull_instagram_stories job per active account (or for p_account_id), each with
-- the unique key instagram:<account>, starting when the account's throttling ends.
create function api.enqueue_instagram_pulls(p_account_id text default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_account shop.oauth_token;
    v_job bigint;
    v_jobs jsonb := '[]';
begin
    for v_account in
        select * from shop.oauth_token
        where provider = 'instagram' and status = 'active' and (p_account_id is null or account_id = p_account_id)
        order by account_id
    loop
        v_job := api.enqueue_job('pull_instagram_stories', jsonb_build_object('account_id', v_account.account_id),
                                 p_run_at => greatest(now(), v_account.throttled_until),
                                 p_max_attempts => 10, p_unique_key => 'instagram:' || v_account.account_id);
        v_jobs := v_jobs || jsonb_build_object('account_id', v_account.account_id, 'job_id', v_job,
            'run_at', (select j.run_at from shop.job_queue j where j.job_id = v_job));
    end loop;
    return v_jobs;
end
$$;
comment on function api.enqueue_instagram_pulls(text) is
    'Worker and api.ingest_instagram_stories: one pull job per active account (unique key instagram:<account>, run_at after throttling); returns [{account_id, job_id, run_at}].';

-- What a pull needs to know about an account (its sealed token is opened by the worker).
create function api.instagram_account_for_pull(p_account_id text)
returns table (status text, token_sealed bytea, token_key_id text, throttled_until timestamptz)
language sql stable security definer
set search_path = '' as $$
    select t.status, t.token_sealed, t.token_key_id, t.throttled_until
    from shop.oauth_token t where t.provider = 'instagram' and t.account_id = p_account_id
$$;
comment on function api.instagram_account_for_pull(text) is 'Worker: an account''s status, sealed token and throttling end.';

-- The stories of a page a pull need not download again: stored with media, hidden,
-- or refused for good (over the limit, not an allowed type).
create function api.known_stories(p_external_ids text[])
returns setof text
language sql stable security definer
set search_path = '' as $$
    select s.external_id from shop.story s
    where s.platform = 'instagram' and s.external_id = any (p_external_ids)
      and (s.asset_id is not null or s.hidden_at is not null or s.media_error is not null)
$$;
comment on function api.known_stories(text[]) is 'Worker: the external ids among p_external_ids whose story needs no download.';

create function api.ingest_media_begin()
returns oid
language sql security definer
set search_path = '' as $$
    select api._media_lo_begin()
$$;
comment on function api.ingest_media_begin() is 'Worker: starts this transaction''s large object for a media file being downloaded (as api.media_upload_begin).';

create function api.ingest_media_write(p_chunk bytea)
returns bigint
language sql security definer
set search_path = '' as $$
    select api._media_lo_write(p_chunk)
$$;
comment on function api.ingest_media_write(bytea) is 'Worker: appends a downloaded chunk to this transaction''s large object (as api.media_upload_write).';

create function api.ingest_media(p_meta jsonb, p_data bytea)
returns jsonb
language sql security definer
set search_path = '' as $$
    select api._media_store(p_meta, p_data, null, null)
$$;
comment on function api.ingest_media(jsonb, bytea) is
    'Worker: stores downloaded bytes (or this transaction''s large object) as a shop asset, with sha256 dedupe and derivatives enqueued, as uploads do (api._media_store).';

-- Saves one pulled story: insert, or update what may change of a story seen before
-- (never a hidden one's). p_item: the IG Media object; p_media: {asset_id,
-- poster_asset_id, media_source, media_error}; p_caption: {title, description,
-- hashtags, price: {currency, amount, text}}. New stories with a caption get a draft
-- product when stories.create_drafts is on. Returns {story_id, created, draft_product_id}.
create function api.save_instagram_story(p_account_id text, p_item jsonb, p_media jsonb, p_caption jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_story shop.story;
    v_id bigint;
    v_created boolean;
    v_price jsonb := p_caption -> 'price';
    v_media_type text := coalesce(p_item ->> 'media_type', 'IMAGE');
begin
    if v_media_type not in ('IMAGE', 'VIDEO', 'CAROUSEL_ALBUM') then
        raise exception using errcode = 'MA422', constraint = 'invalid_media_type',
            message = format('unknown Instagram media_type %L', v_media_type);
    end if;
    insert into shop.story as s (platform, external_id, account_id, media_type, media_product_type, caption, posted_at,
                                 permalink, asset_id, poster_asset_id, media_source, media_error, caption_title,
                                 caption_description, caption_hashtags, caption_price_amount, caption_price_currency,
                                 caption_price_text)
    values ('instagram', p_item ->> 'id', p_account_id, v_media_type, p_item ->> 'media_product_type',
            coalesce(p_item ->> 'caption', ''), (p_item ->> 'timestamp')::timestamptz, p_item ->> 'permalink',
            (p_media ->> 'asset_id')::uuid, (p_media ->> 'poster_asset_id')::uuid, p_media ->> 'media_source',
            p_media ->> 'media_error', p_caption ->> 'title', coalesce(p_caption ->> 'description', ''),
            coalesce((select array_agg(h) from jsonb_array_elements_text(p_caption -> 'hashtags') h), '{}'),
            (v_price ->> 'amount')::bigint, v_price ->> 'currency', v_price ->> 'text')
    on conflict (platform, external_id) do update
        set caption = excluded.caption, permalink = coalesce(excluded.permalink, s.permalink),
            asset_id = coalesce(s.asset_id, excluded.asset_id),
            poster_asset_id = coalesce(s.poster_asset_id, excluded.poster_asset_id),
            media_source = case when s.asset_id is null then excluded.media_source else s.media_source end,
            media_error = case when s.asset_id is null and excluded.asset_id is null then excluded.media_error end,
            caption_title = excluded.caption_title, caption_description = excluded.caption_description,
            caption_hashtags = excluded.caption_hashtags, caption_price_amount = excluded.caption_price_amount,
            caption_price_currency = excluded.caption_price_currency, caption_price_text = excluded.caption_price_text
        where s.hidden_at is null
    returning s.story_id, (s.xmax = 0) into v_id, v_created;
    if v_id is not null then
        select * into v_story from shop.story where story_id = v_id;
    end if;
    if v_id is null then
        -- A hidden story: left as the admin left it.
        select * into v_story from shop.story where platform = 'instagram' and external_id = p_item ->> 'id';
        v_created := false;
    elsif v_created and v_story.caption <> ''
          and coalesce((select (st.value)::text::boolean from shop.setting st where st.key = 'stories.create_drafts'), false) then
        perform api._story_draft_product(v_story);
        select * into v_story from shop.story where story_id = v_story.story_id;
    end if;
    return jsonb_build_object('story_id', v_story.story_id, 'created', coalesce(v_created, false),
                              'draft_product_id', v_story.draft_product_id);
end
$$;
comment on function api.save_instagram_story(text, jsonb, jsonb, jsonb) is
    'Worker: upserts a pulled story on (platform, external_id) with its media and caption facts (hidden stories untouched); drafts a product for a new captioned story when stories.create_drafts. Returns {story_id, created, draft_product_id}.';

-- A pull that went through every page.
create function api.instagram_pull_finished(p_account_id text, p_stories integer)
returns void
language sql security definer
set search_path = '' as $$
    update shop.oauth_token
    set last_pull_at = now(), last_pull_stories = p_stories, last_pull_error = null, throttle_count = 0,
        throttled_until = null
    where provider = 'instagram' and account_id = p_account_id
$$;
comment on function api.instagram_pull_finished(text, integer) is 'Worker: records a complete pull (clears errors and throttling).';

create function api.instagram_pull_failed(p_account_id text, p_error text)
returns void
language sql security definer
set search_path = '' as $$
    update shop.oauth_token set last_pull_error = left(p_error, 2000)
    where provider = 'instagram' and account_id = p_account_id
$$;
comment on function api.instagram_pull_failed(text, text) is 'Worker: records why a pull failed (shown to admins).';

-- Rate limited (usage over 80 % or codes 4/17/32/613): the account waits Meta's
-- estimate, or 5 minutes doubled per consecutive throttle up to 6 hours. Returns the
-- delay before the next pull.
create function api.instagram_pull_throttled(p_account_id text, p_reason text, p_regain_minutes integer default 0)
returns interval
language plpgsql security definer
set search_path = '' as $$
declare
    v_count integer;
    v_delay interval;
begin
    update shop.oauth_token set throttle_count = throttle_count + 1
    where provider = 'instagram' and account_id = p_account_id
    returning throttle_count into v_count;
    v_delay := greatest(make_interval(mins => coalesce(p_regain_minutes, 0)),
                        least(interval '5 minutes' * power(2, least(coalesce(v_count, 1) - 1, 10)), interval '6 hours'));
    update shop.oauth_token
    set throttled_until = now() + v_delay, last_pull_error = left('rate limited: ' || p_reason, 2000)
    where provider = 'instagram' and account_id = p_account_id;
    return v_delay;
end
$$;
comment on function api.instagram_pull_throttled(text, text, integer) is
    'Worker: an account''s pull stops for Meta''s estimate or 5 min × 2^(consecutive throttles - 1), at most 6 h; returns the delay.';

-- Meta refused the token (190): pulls skip the account until an admin reconnects it.
create function api.instagram_needs_reauth(p_account_id text, p_reason text)
returns void
language plpgsql security definer
set search_path = '' as $$
begin
    update shop.oauth_token
    set status = 'needs_reauth', status_reason = left(p_reason, 2000), status_at = now(),
        last_pull_error = left(p_reason, 2000)
    where provider = 'instagram' and account_id = p_account_id and status <> 'needs_reauth';
    if found then
        perform api._audit('instagram.needs_reauth', 'instagram_account', p_account_id,
                           jsonb_build_object('reason', left(p_reason, 2000)));
    end if;
end
$$;
comment on function api.instagram_needs_reauth(text, text) is
    'Worker: marks an account needs_reauth (once, audited) after Meta refused its token.';

-- ---------------------------------------------------------------- token renewal

-- Active user tokens expiring within stories.renew_within_days (Page tokens from a
-- long-lived user token do not expire).
create function api.instagram_tokens_to_renew()
returns table (account_id text, token_sealed bytea, token_key_id text, expires_at timestamptz, expiry_warned_at timestamptz)
language sql stable security definer
set search_path = '' as $$
    select t.account_id, t.token_sealed, t.token_key_id, t.expires_at, t.expiry_warned_at
    from shop.oauth_token t
    where t.provider = 'instagram' and t.status = 'active' and t.expires_at is not null
      and t.expires_at < now() + make_interval(days => api._setting_int('stories.renew_within_days')::integer)
    order by t.expires_at
$$;
comment on function api.instagram_tokens_to_renew() is 'Worker: active tokens expiring within stories.renew_within_days.';

create function api.instagram_token_renewed(p_account_id text, p_sealed bytea, p_key_id text, p_expires_at timestamptz)
returns void
language plpgsql security definer
set search_path = '' as $$
begin
    update shop.oauth_token
    set token_sealed = p_sealed, token_key_id = p_key_id, expires_at = p_expires_at, renewed_at = now(),
        expiry_warned_at = null
    where provider = 'instagram' and account_id = p_account_id;
    perform api._audit('instagram.token_renewed', 'instagram_account', p_account_id,
                       jsonb_build_object('expires_at', p_expires_at));
end
$$;
comment on function api.instagram_token_renewed(text, bytea, text, timestamptz) is 'Worker: stores a renewed token (audited).';

-- A token that could not be renewed: audited once a day until it expires, then the
-- account needs reconnecting.
create function api.instagram_token_not_renewed(p_account_id text, p_reason text)
returns void
language plpgsql security definer
set search_path = '' as $$
declare
    v_expires timestamptz;
begin
    select expires_at into v_expires from shop.oauth_token where provider = 'instagram' and account_id = p_account_id;
    if v_expires <= now() then
        perform api.instagram_needs_reauth(p_account_id, 'the token expired on ' || v_expires || '; ' || p_reason);
        return;
    end if;
    update shop.oauth_token set expiry_warned_at = now()
    where provider = 'instagram' and account_id = p_account_id
      and (expiry_warned_at is null or expiry_warned_at < now() - interval '20 hours');
    if found then
        perform api._audit('instagram.token_expiring', 'instagram_account', p_account_id,
                           jsonb_build_object('expires_at', v_expires, 'reason', left(p_reason, 2000)));
    end if;
end
$$;
comment on function api.instagram_token_not_renewed(text, text) is
    'Worker: a token that could not be renewed — audited (instagram.token_expiring) at most daily, needs_reauth once expired.';

-- ---------------------------------------------------------------- retention

-- Deletes up to p_limit stories older than stories.retention_days that no product
-- links, with their media unless something else still uses it (a product image, a
-- review photo, another story). Returns the number of stories deleted.
create function api.prune_stories(p_limit integer default 500)
returns integer
language plpgsql security definer
set search_path = '' as $$
declare
    v_assets uuid[];
    v_deleted integer;
begin
    with doomed as (
        select s.story_id from shop.story s
        where s.posted_at < now() - make_interval(days => api._setting_int('stories.retention_days')::integer)
          and not exists (select from shop.story_product_link l where l.story_id = s.story_id)
        order by s.posted_at
        limit p_limit
        for update skip locked
    ), gone as (
        delete from shop.story s using doomed d where s.story_id = d.story_id
        returning s.story_id, s.asset_id, s.poster_asset_id
    )
    select count(*)::integer,
           (select array_agg(distinct a) from gone g2 cross join lateral unnest(array[g2.asset_id, g2.poster_asset_id]) a
            where a is not null)
    into v_deleted, v_assets
    from gone;
    delete from shop.media_asset a
    where a.asset_id = any (coalesce(v_assets, '{}'))
      and not exists (select from shop.story s where s.asset_id = a.asset_id or s.poster_asset_id = a.asset_id)
      and not exists (select from shop.product_media pm where pm.asset_id = a.asset_id)
      and not exists (select from shop.review_media rm where rm.asset_id = a.asset_id);
    perform api._count_retention('stories', coalesce(v_deleted, 0));  -- report.retention (sql/privacy.sql)
    if v_deleted > 0 then
        perform api._audit('stories.pruned', 'story', null, jsonb_build_object('stories', v_deleted,
            'retention_days', api._setting_int('stories.retention_days')));
    end if;
    return coalesce(v_deleted, 0);
end
$$;
comment on function api.prune_stories(integer) is
    'Worker: deletes up to p_limit unlinked stories older than stories.retention_days with their media (unless used elsewhere); returns the count.';

-- ---------------------------------------------------------------- who may call these
-- Everyone, anonymous callers included (public on purpose): the carousel, and the
-- OAuth callback, which a browser reaches without a token (the state is the secret).
grant execute on function
    api.list_stories(boolean, integer, text),
    api.story(bigint),
    api.instagram_oauth_callback_begin(text),
    api.instagram_oauth_callback_finish(text, jsonb)
    to maef_anon, maef_customer, maef_staff, maef_admin;
-- stories:write (managers and admins):
grant execute on function
    api.admin_list_stories(jsonb, integer, text),
    api.link_story_product(bigint, bigint),
    api.unlink_story_product(bigint, bigint),
    api.hide_story(bigint),
    api.draft_product_from_story(bigint),
    api.ingest_instagram_stories(text)
    to maef_staff, maef_admin;
-- integrations:admin (admins):
grant execute on function
    api.instagram_oauth_begin(text),
    api.instagram_save_account(jsonb, bytea),
    api.instagram_accounts(),
    api.instagram_disconnect(text)
    to maef_admin;
-- Not granted (owner only: maef-worker, DBAs): api.story_currencies,
-- api.enqueue_instagram_pulls, api.instagram_account_for_pull, api.known_stories,
-- api.ingest_media_begin, api.ingest_media_write, api.ingest_media,
-- api.save_instagram_story, api.instagram_pull_finished, api.instagram_pull_failed,
-- api.instagram_pull_throttled, api.instagram_needs_reauth,
-- api.instagram_tokens_to_renew, api.instagram_token_renewed,
-- api.instagram_token_not_renewed, api.prune_stories.
