-- Reviews: customers review products (one review per customer and product; a second
-- submission edits it and keeps the replaced version), moderators approve or reject
-- them and the shop replies, customers vote reviews helpful, and anyone reads the
-- approved ones of a product. The data's own rules are in migrations/V29__reviews.sql:
-- verified_purchase (a trigger, from the author's paid or delivered orders), the rating
-- aggregates and helpful counts (triggers), and no direct writes by request roles.
--
-- Text is stored as plain text: HTML is stripped here (tags removed, script and style
-- elements with their content, the common entities decoded); clients escape it when
-- they display it.
--
-- Errors: MA401 authentication_required, MA403 permission_required / own_review_vote,
-- MA404 product_not_found / review_not_found / review_vote_not_found, MA409
-- review_vote_exists, MA422 invalid_field (detail = JSON path) / review_body_too_short /
-- review_body_too_long / review_title_too_long / review_media_invalid /
-- reason_required / invalid_filter / invalid_cursor / invalid_limit.

-- ---------------------------------------------------------------- helpers

-- A boolean store policy from shop.setting.
create function api._setting_bool(p_key text)
returns boolean
language plpgsql stable as $$
declare
    v_value boolean;
begin
    select (s.value)::text::boolean into v_value from shop.setting s where s.key = p_key and s.value_type = 'boolean';
    if v_value is null then
        raise exception 'setting % is missing or not a boolean', p_key;
    end if;
    return v_value;
end
$$;

-- Plain text from what a client sent: script and style elements dropped with their
-- content, other tags removed, &lt; &gt; &quot; &#39; &nbsp; &amp; decoded (once),
-- control characters other than newlines removed, runs of spaces and blank lines
-- collapsed, trimmed.
create function api._plain_text(p_text text)
returns text
language sql immutable parallel safe as $$
    select btrim(regexp_replace(regexp_replace(regexp_replace(
        replace(replace(replace(replace(replace(replace(
            regexp_replace(regexp_replace(regexp_replace(coalesce(p_text, ''),
                '<(script|style).*?</(script|style)[^>]*>', '', 'gi'),
                '<!--.*?-->', '', 'g'),
                '<[^>]*>', '', 'g'),
            '&lt;', '<'), '&gt;', '>'), '&quot;', '"'), '&#39;', ''''), '&nbsp;', ' '), '&amp;', '&'),
        '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]', '', 'g'),
        '[ \t\r]+', ' ', 'g'),
        '\s*\n\s*\n[\s\n]*', E'\n\n', 'g'), E' \n')
$$;

-- What the filters object to in a review's text: 'link' (when reviews.filter_links is
-- on) and 'profanity' (a word of shop.review_banned_word, when reviews.filter_profanity
-- is on).
create function api._review_flags(p_text text)
returns text[]
language plpgsql stable as $$
declare
    v_flags text[] := '{}';
    v_norm text := shop.f_unaccent(lower(p_text));
begin
    if api._setting_bool('reviews.filter_links')
       and v_norm ~ '(https?://|www\.|\m[a-z0-9-]+\.(com|net|org|info|biz|io|co|fr|sn|bj|ci|tg|ng|gh|be|de|uk|us|ca|ru|cn|xyz|top|shop|online|site)\M)' then
        v_flags := v_flags || 'link'::text;
    end if;
    if api._setting_bool('reviews.filter_profanity') and exists (
        select from shop.review_banned_word w
        where v_norm ~ ('(^|[^[:alnum:]])' || regexp_replace(w.word, '([^[:alnum:]])', '\\\1', 'g') || '($|[^[:alnum:]])')) then
        v_flags := v_flags || 'profanity'::text;
    end if;
    return v_flags;
end
$$;

-- A review as JSON. p_view: 'public' (what shoppers see), 'own' (adds its status and
-- the moderator's reason), 'staff' (adds the author, flags, moderation and history).
create function api._review_json(r shop.review, p_view text)
returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'id', r.review_id,
        'product', (select jsonb_build_object('id', p.product_id, 'slug', p.slug, 'title', p.title)
                    from shop.product p where p.product_id = r.product_id),
        'rating', r.rating, 'title', r.title, 'body', r.body,
        'verified_purchase', r.verified_purchase,
        'helpful_count', r.helpful_count,
        'author', (select u.username from shop.app_user u where u.user_id = r.user_id and u.erased_at is null),
        'media', coalesce((select jsonb_agg(jsonb_build_object('asset_id', m.asset_id, 'url', '/api/v1/media/' || m.asset_id,
                                                               'mime_type', a.mime_type) order by m.position, m.asset_id)
                           from shop.review_media m join shop.media_asset a using (asset_id)
                           where m.review_id = r.review_id), '[]'),
        'reply', case when r.reply_body is not null then jsonb_build_object('body', r.reply_body, 'at', r.replied_at) end,
        'submitted_at', r.submitted_at, 'edited_at', r.edited_at)
    || case when p_view in ('own', 'staff') then jsonb_build_object(
           'status', r.status, 'moderation_reason', r.moderation_reason) else '{}'::jsonb end
    || case when p_view = 'staff' then jsonb_build_object(
           'user_id', r.user_id,
           'email', (select u.email from shop.app_user u where u.user_id = r.user_id and u.erased_at is null),
           'flags', to_jsonb(r.flags),
           'moderated_at', r.moderated_at,
           'moderated_by', (select u.email from shop.app_user u where u.user_id = r.moderated_by),
           'revisions', coalesce((select jsonb_agg(jsonb_build_object(
                                      'rating', v.rating, 'title', v.title, 'body', v.body, 'status', v.status,
                                      'submitted_at', v.submitted_at, 'replaced_at', v.replaced_at)
                                      order by v.review_revision_id)
                                  from shop.review_revision v where v.review_id = r.review_id), '[]'))
       else '{}'::jsonb end
$$;

-- A product's rating summary: average (2 decimals, null without reviews), count, and
-- with p_histogram the count per star.
create function api._rating_json(p_product_id bigint, p_histogram boolean)
returns jsonb
-- PL/pgSQL: a non-inlined SQL function is planned at every call (docs/contributing.md),
-- and a product page calls this once per product it shows.
language plpgsql stable as $$
begin
    return (select jsonb_build_object(
        'average', case when coalesce(a.review_count, 0) > 0 then round(a.rating_sum::numeric / a.review_count, 2) end,
        'count', coalesce(a.review_count, 0))
    || case when p_histogram then jsonb_build_object('histogram', jsonb_build_object(
           '1', coalesce(a.rating_1, 0), '2', coalesce(a.rating_2, 0), '3', coalesce(a.rating_3, 0),
           '4', coalesce(a.rating_4, 0), '5', coalesce(a.rating_5, 0))) else '{}'::jsonb end
    from (select 1) one
    left join shop.product_rating a on a.product_id = p_product_id);
end
$$;

create function api._review_not_found()
returns void
language plpgsql immutable as $$
begin
    raise exception using errcode = 'MA404', constraint = 'review_not_found', message = 'no such review';
end
$$;

-- A validated text field of a review: plain text, within p_max characters (and p_min
-- when given).
create function api._review_text(p_obj jsonb, p_key text, p_min integer, p_max integer)
returns text
language plpgsql stable as $$
declare
    v text := api._plain_text(api._text_field(p_obj, p_key, '$', p_min is not null));
begin
    if p_min is not null and length(v) < p_min then
        raise exception using errcode = 'MA422', constraint = 'review_' || p_key || '_too_short',
            message = format('the %s has %s characters after HTML is removed; at least %s are needed', p_key, length(v), p_min),
            detail = '$.' || p_key;
    end if;
    if length(v) > p_max then
        raise exception using errcode = 'MA422', constraint = 'review_' || p_key || '_too_long',
            message = format('the %s has %s characters; at most %s are allowed', p_key, length(v), p_max),
            detail = '$.' || p_key;
    end if;
    return v;
end
$$;

-- The photos of a submission: an array of distinct asset ids the author uploaded
-- (images or videos), at most reviews.max_media.
create function api._review_media(p_media jsonb, p_user_id uuid)
returns uuid[]
language plpgsql stable as $$
declare
    v_ids uuid[];
    v_max integer := api._setting_int('reviews.max_media');
begin
    if p_media is null or jsonb_typeof(p_media) = 'null' then
        return '{}';
    end if;
    if jsonb_typeof(p_media) <> 'array'
       or exists (select from jsonb_array_elements(p_media) e
                  where jsonb_typeof(e) <> 'string'
                     or e #>> '{}' !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$') then
        perform api._bad_field('$.media', 'must be an array of asset ids (UUIDs)');
    end if;
    select array_agg(distinct (e #>> '{}')::uuid) into v_ids from jsonb_array_elements(p_media) e;
    v_ids := coalesce(v_ids, '{}');
    if cardinality(v_ids) > v_max then
        raise exception using errcode = 'MA422', constraint = 'review_media_invalid', detail = '$.media',
            message = format('a review may attach at most %s photos, not %s', v_max, cardinality(v_ids));
    end if;
    if exists (select from unnest(v_ids) x(id)
               where not exists (select from shop.media_asset a
                                 where a.asset_id = x.id and a.owner_id = p_user_id
                                   and (a.mime_type like 'image/%' or a.mime_type like 'video/%'))) then
        raise exception using errcode = 'MA422', constraint = 'review_media_invalid', detail = '$.media',
            message = 'each media entry must be an image or video you uploaded (POST /api/v1/media/upload)';
    end if;
    return v_ids;
end
$$;

-- ---------------------------------------------------------------- customers

-- Submits the signed-in customer's review of a product, or edits it (one review per
-- customer and product; the replaced version goes to shop.review_revision).
-- p_review: {"rating": 1..5, "title"?, "body", "media"?: [asset_id]}. The review is
-- published at once when it is a verified purchase, reviews.auto_approve_verified is
-- on and no filter flagged it; otherwise it waits for moderation (an edit too).
-- Returns the review as its author sees it, plus "created".
create function api.submit_review(p_slug text, p_review jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
    v_review jsonb := coalesce(p_review, 'null');
    v_product_id bigint;
    v_rating bigint;
    v_title text;
    v_body text;
    v_media uuid[];
    v_flags text[];
    v shop.review;
    v_created boolean;
begin
    perform api._require_scope('reviews:write');
    select p.product_id into v_product_id from shop.product p where p.slug = p_slug and p.is_active;
    if v_product_id is null then
        raise exception using errcode = 'MA404', constraint = 'product_not_found',
            message = format('no product has the slug %L', p_slug);
    end if;
    perform api._reject_unknown(v_review, '$', array['rating', 'title', 'body', 'media']);
    v_rating := api._int_field(v_review, 'rating', '$', true);
    if v_rating not between 1 and 5 then
        raise exception using errcode = 'MA422', constraint = 'review_rating_check', detail = '$.rating',
            message = format('rating must be between 1 and 5, not %s', v_rating);
    end if;
    v_title := coalesce(api._review_text(v_review, 'title', null, api._setting_int('reviews.title_max_chars')::integer), '');
    v_body := api._review_text(v_review, 'body', api._setting_int('reviews.body_min_chars')::integer,
                               api._setting_int('reviews.body_max_chars')::integer);
    v_media := api._review_media(v_review -> 'media', v_user_id);
    v_flags := api._review_flags(v_title || E'\n' || v_body);

    -- One review per customer and product: a concurrent second submission waits for
    -- the first (the unique key), then edits it.
    select * into v from shop.review r where r.product_id = v_product_id and r.user_id = v_user_id for update;
    v_created := v.review_id is null;
    if v_created then
        insert into shop.review (product_id, user_id, rating, title, body, flags)
        values (v_product_id, v_user_id, v_rating, v_title, v_body, v_flags)
        on conflict (product_id, user_id) do nothing
        returning * into v;
        if v.review_id is null then
            select * into v from shop.review r where r.product_id = v_product_id and r.user_id = v_user_id for update;
            v_created := false;
        end if;
    end if;
    if not v_created then
        insert into shop.review_revision (review_id, rating, title, body, media, status, submitted_at)
        values (v.review_id, v.rating, v.title, v.body,
                coalesce((select array_agg(m.asset_id order by m.position) from shop.review_media m where m.review_id = v.review_id), '{}'),
                v.status, v.submitted_at);
        update shop.review r
        set rating = v_rating, title = v_title, body = v_body, flags = v_flags, submitted_at = now(), edited_at = now(),
            moderation_reason = null, moderated_at = null, moderated_by = null
        where r.review_id = v.review_id
        returning * into v;
        delete from shop.review_media m where m.review_id = v.review_id and not (m.asset_id = any (v_media));
    end if;
    insert into shop.review_media (review_id, asset_id, position)
    select v.review_id, x.id, x.n::integer from unnest(v_media) with ordinality x(id, n)
    on conflict (review_id, asset_id) do update set position = excluded.position;
    -- The verify trigger has set verified_purchase; now the status.
    update shop.review r
    set status = case when r.verified_purchase and cardinality(r.flags) = 0
                           and api._setting_bool('reviews.auto_approve_verified') then 'approved' else 'pending' end,
        moderated_at = null
    where r.review_id = v.review_id
    returning * into v;
    perform api._emit_event('review.submitted', 'review', v.review_id::text, jsonb_build_object(
        'review_id', v.review_id, 'product_id', v.product_id, 'user_id', v.user_id, 'rating', v.rating,
        'title', v.title, 'status', v.status, 'verified_purchase', v.verified_purchase, 'edited', not v_created,
        'submitted_at', v.submitted_at));
    return api._review_json(v, 'own') || jsonb_build_object('created', v_created);
end
$$;
comment on function api.submit_review(text, jsonb) is
    'Submits or edits (keeping the replaced version) the signed-in customer''s review of a product: {"rating" 1..5, "title"?, "body", "media"?: [asset_id]}; HTML stripped; verified_purchase computed from paid or delivered orders; auto-approved when verified, unflagged and reviews.auto_approve_verified; emits review.submitted. Returns the review (author view) + created. Needs reviews:write. Errors: MA404 product_not_found, MA422 invalid_field, review_rating_check, review_title_too_long, review_body_too_short, review_body_too_long, review_media_invalid.';

-- The signed-in customer's reviews, newest first (every status).
create function api.my_reviews()
returns jsonb
language sql stable security definer
set search_path = '' as $$
    select coalesce(jsonb_agg(api._review_json(r, 'own') order by r.submitted_at desc, r.review_id desc), '[]')
    from shop.review r where r.user_id = api._require_user()
$$;
comment on function api.my_reviews() is 'The signed-in user''s reviews, newest first, with their status and the moderator''s reason.';

-- Deletes a review: its author, or a moderator (audited).
create function api.delete_review(p_review_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
    v shop.review;
begin
    select * into v from shop.review r where r.review_id = p_review_id for update;
    if v.review_id is null or (v.user_id is distinct from v_user_id and not shop.has_scope('reviews:moderate')) then
        perform api._review_not_found();
    end if;
    delete from shop.review r where r.review_id = p_review_id;
    if v.user_id is distinct from v_user_id then
        perform api._audit('review_deleted', 'review', p_review_id::text,
                           jsonb_build_object('product_id', v.product_id, 'rating', v.rating, 'status', v.status));
    end if;
    return jsonb_build_object('id', p_review_id, 'deleted', true);
end
$$;
comment on function api.delete_review(bigint) is
    'Deletes a review (its author, or a holder of reviews:moderate, audited). Errors: MA401, MA404 review_not_found.';

-- Votes an approved review helpful: once per customer, never on their own review.
create function api.vote_review_helpful(p_review_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
    v shop.review;
begin
    perform api._require_scope('reviews:write');
    -- FOR KEY SHARE: a deletion racing with the vote waits for it (then takes the vote
    -- with it), or wins and the vote finds no review; voters do not block each other.
    select * into v from shop.review r where r.review_id = p_review_id and r.status = 'approved' for key share;
    if v.review_id is null then
        perform api._review_not_found();
    end if;
    if v.user_id = v_user_id then
        raise exception using errcode = 'MA403', constraint = 'own_review_vote',
            message = 'you cannot vote your own review helpful';
    end if;
    insert into shop.review_vote (review_id, user_id) values (p_review_id, v_user_id) on conflict do nothing;
    if not found then
        raise exception using errcode = 'MA409', constraint = 'review_vote_exists',
            message = 'you already voted this review helpful';
    end if;
    return jsonb_build_object('review_id', p_review_id, 'voted', true,
                              'helpful_count', (select r.helpful_count from shop.review r where r.review_id = p_review_id));
end
$$;
comment on function api.vote_review_helpful(bigint) is
    'Votes an approved review helpful (one vote per customer, never one''s own): {review_id, voted, helpful_count}. Needs reviews:write. Errors: MA404 review_not_found, MA403 own_review_vote, MA409 review_vote_exists.';

-- Takes back the signed-in customer's helpful vote.
create function api.unvote_review_helpful(p_review_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
begin
    perform api._require_scope('reviews:write');
    delete from shop.review_vote v where v.review_id = p_review_id and v.user_id = v_user_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'review_vote_not_found',
            message = 'you have not voted this review helpful';
    end if;
    return jsonb_build_object('review_id', p_review_id, 'voted', false,
                              'helpful_count', (select r.helpful_count from shop.review r where r.review_id = p_review_id));
end
$$;
comment on function api.unvote_review_helpful(bigint) is
    'Withdraws the caller''s helpful vote: {review_id, voted: false, helpful_count}. Needs reviews:write. Errors: MA404 review_vote_not_found.';

-- ---------------------------------------------------------------- anyone

-- A keyset cursor "key|id" of the review lists.
create function api._review_cursor(p_after text, out after_key numeric, out after_id bigint)
language plpgsql immutable as $$
begin
    if p_after is not null then
        if p_after !~ '^-?[0-9]{1,20}(\.[0-9]{1,12})?\|[0-9]{1,18}$' then
            raise exception using errcode = 'MA422', constraint = 'invalid_cursor',
                message = 'after is not a cursor returned by this API',
                hint = 'Pass the next_cursor of the previous page, or omit after.';
        end if;
        after_key := split_part(p_after, '|', 1)::numeric;
        after_id := split_part(p_after, '|', 2)::bigint;
    end if;
end
$$;

-- The approved reviews of a product, with its rating summary. p_filter (all optional):
-- sort (recent (default), helpful, rating_desc, rating_asc), rating (1..5), verified
-- (true/false), with_media (true/false), limit (1..100, default 20), after (cursor).
-- Every sort is one ascending numeric key, ties broken by newest review first, so one
-- keyset condition serves them all.
create function api.product_reviews(p_slug text, p_filter jsonb default '{}')
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    f jsonb := coalesce(p_filter, '{}');
    v_product_id bigint;
    v_sort text := coalesce(f ->> 'sort', 'recent');
    v_rating integer;
    v_verified boolean;
    v_media boolean;
    v_limit integer;
    c record;
    v_page jsonb;
begin
    select p.product_id into v_product_id from shop.product p where p.slug = p_slug and p.is_active;
    if v_product_id is null then
        raise exception using errcode = 'MA404', constraint = 'product_not_found',
            message = format('no product has the slug %L', p_slug);
    end if;
    perform api._reject_unknown(f, '$', array['sort', 'rating', 'verified', 'with_media', 'limit', 'after']);
    perform api._require_one_of('sort', v_sort, array['recent', 'helpful', 'rating_desc', 'rating_asc']);
    perform api._require_one_of('verified', f ->> 'verified', array['true', 'false']);
    perform api._require_one_of('with_media', f ->> 'with_media', array['true', 'false']);
    perform api._require_one_of('rating', f ->> 'rating', array['1', '2', '3', '4', '5']);
    v_rating := (f ->> 'rating')::integer;
    v_verified := (f ->> 'verified')::boolean;
    v_media := (f ->> 'with_media')::boolean;
    if f ->> 'limit' is not null and f ->> 'limit' !~ '^[0-9]{1,3}$' then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit', message = 'limit must be between 1 and 100';
    end if;
    v_limit := api._check_limit((f ->> 'limit')::integer);
    select * into c from api._review_cursor(f ->> 'after');

    with keyed as (
        select r, r.review_id,
               case v_sort
                   when 'recent' then -extract(epoch from r.submitted_at)
                   when 'helpful' then -r.helpful_count::numeric
                   when 'rating_desc' then -r.rating::numeric
                   else r.rating::numeric
               end as k
        from shop.review r
        where r.product_id = v_product_id and r.status = 'approved'
          and (v_rating is null or r.rating = v_rating)
          and (v_verified is null or r.verified_purchase = v_verified)
          and (v_media is null or r.has_media = v_media)
    ), page as (
        select x.*, row_number() over (order by x.k, x.review_id desc) as n
        from keyed x
        where c.after_id is null or x.k > c.after_key or (x.k = c.after_key and x.review_id < c.after_id)
        order by x.k, x.review_id desc
        limit v_limit + 1
    )
    select jsonb_build_object(
        'rating', api._rating_json(v_product_id, true),
        'items', coalesce((select jsonb_agg(api._review_json(pg.r, 'public') order by pg.n) from page pg where pg.n <= v_limit), '[]'),
        'next_cursor', (select pg.k::text || '|' || pg.review_id from page pg
                        where pg.n = v_limit and exists (select from page x where x.n > v_limit)))
    into v_page;
    return v_page;
end
$$;
comment on function api.product_reviews(text, jsonb) is
    'Approved reviews of a product: {rating {average, count, histogram}, items, next_cursor}. Filter: sort recent|helpful|rating_desc|rating_asc, rating 1..5, verified, with_media, limit 1..100, after. Errors: MA404 product_not_found, MA422 invalid_sort, invalid_rating, invalid_verified, invalid_with_media, invalid_limit, invalid_cursor, invalid_field.';

-- ---------------------------------------------------------------- moderators

-- The moderation queue (or any status): oldest first. p_filter: status (pending
-- (default), approved, rejected), product (slug), flagged (true: only reviews a filter
-- flagged), limit, after.
create function api.admin_list_reviews(p_filter jsonb default '{}')
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    f jsonb := coalesce(p_filter, '{}');
    v_status text := coalesce(f ->> 'status', 'pending');
    v_product_id bigint;
    v_flagged boolean;
    v_limit integer;
    c record;
    v_page jsonb;
begin
    perform api._require_scope('reviews:moderate');
    perform api._reject_unknown(f, '$', array['status', 'product', 'flagged', 'limit', 'after']);
    perform api._require_one_of('status', v_status, array['pending', 'approved', 'rejected']);
    perform api._require_one_of('flagged', f ->> 'flagged', array['true', 'false']);
    v_flagged := (f ->> 'flagged')::boolean;
    if f ? 'product' then
        select p.product_id into v_product_id from shop.product p where p.slug = f ->> 'product';
        if v_product_id is null then
            raise exception using errcode = 'MA422', constraint = 'invalid_filter', detail = '$.product',
                message = format('no product has the slug %L', f ->> 'product');
        end if;
    end if;
    if f ->> 'limit' is not null and f ->> 'limit' !~ '^[0-9]{1,3}$' then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit', message = 'limit must be between 1 and 100';
    end if;
    v_limit := api._check_limit((f ->> 'limit')::integer);
    select * into c from api._review_cursor(f ->> 'after');
    with page as (
        select r, r.review_id, extract(epoch from r.submitted_at) as k,
               row_number() over (order by r.submitted_at, r.review_id) as n
        from shop.review r
        where r.status = v_status
          and (v_product_id is null or r.product_id = v_product_id)
          and (v_flagged is null or (cardinality(r.flags) > 0) = v_flagged)
          and (c.after_id is null or (extract(epoch from r.submitted_at), r.review_id) > (c.after_key, c.after_id))
        order by r.submitted_at, r.review_id
        limit v_limit + 1
    )
    select jsonb_build_object(
        'items', coalesce((select jsonb_agg(api._review_json(pg.r, 'staff') order by pg.n) from page pg where pg.n <= v_limit), '[]'),
        'next_cursor', (select pg.k::text || '|' || pg.review_id from page pg
                        where pg.n = v_limit and exists (select from page x where x.n > v_limit)))
    into v_page;
    return v_page;
end
$$;
comment on function api.admin_list_reviews(jsonb) is
    'Reviews for moderators, oldest first: {items (staff view: author, flags, history), next_cursor}. Filter: status pending (default)|approved|rejected, product (slug), flagged, limit, after. Needs reviews:moderate.';

-- Approves or rejects a review: {"status": "approved"|"rejected", "reason"?} (a
-- rejection needs its reason, which the author sees). Audited.
create function api.admin_moderate_review(p_review_id bigint, p_decision jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    d jsonb := coalesce(p_decision, 'null');
    v_status text;
    v_reason text;
    v shop.review;
    v_before text;
begin
    perform api._require_scope('reviews:moderate');
    perform api._reject_unknown(d, '$', array['status', 'reason']);
    v_status := api._text_field(d, 'status', '$', true);
    perform api._require_one_of('status', v_status, array['approved', 'rejected']);
    v_reason := nullif(api._plain_text(api._text_field(d, 'reason', '$')), '');
    if v_status = 'rejected' and v_reason is null then
        raise exception using errcode = 'MA422', constraint = 'reason_required', detail = '$.reason',
            message = 'a rejection needs a reason (the author sees it)';
    end if;
    if length(v_reason) > 1000 then
        perform api._bad_field('$.reason', 'at most 1000 characters');
    end if;
    select r.status into v_before from shop.review r where r.review_id = p_review_id for update;
    if v_before is null then
        perform api._review_not_found();
    end if;
    update shop.review r
    set status = v_status, moderation_reason = v_reason, moderated_at = now(), moderated_by = shop.current_user_id()
    where r.review_id = p_review_id
    returning * into v;
    perform api._audit('review_' || v_status, 'review', p_review_id::text,
                       jsonb_build_object('from', v_before, 'to', v_status, 'reason', v_reason));
    return api._review_json(v, 'staff');
end
$$;
comment on function api.admin_moderate_review(bigint, jsonb) is
    'Approves or rejects a review ({"status", "reason"?}; a rejection needs a reason); audited; rating aggregates follow. Needs reviews:moderate. Errors: MA404 review_not_found, MA422 invalid_status, reason_required, invalid_field.';

-- Sets the shop's reply shown under a review ({"body"}; HTML stripped) and e-mails it
-- to the author (review_reply). Audited.
create function api.admin_reply_review(p_review_id bigint, p_reply jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    b jsonb := coalesce(p_reply, 'null');
    v_body text;
    v shop.review;
    v_author shop.app_user;
    v_product shop.product;
begin
    perform api._require_scope('reviews:moderate');
    perform api._reject_unknown(b, '$', array['body']);
    v_body := api._plain_text(api._text_field(b, 'body', '$', true));
    if v_body = '' then
        perform api._bad_field('$.body', 'is empty once HTML is removed');
    end if;
    if length(v_body) > 5000 then
        perform api._bad_field('$.body', 'at most 5000 characters');
    end if;
    update shop.review r set reply_body = v_body, replied_at = now(), replied_by = shop.current_user_id()
    where r.review_id = p_review_id
    returning * into v;
    if v.review_id is null then
        perform api._review_not_found();
    end if;
    select * into v_author from shop.app_user u where u.user_id = v.user_id and u.erased_at is null and u.is_active;
    select * into v_product from shop.product p where p.product_id = v.product_id;
    if v_author.user_id is not null then
        perform api._queue_email('review_reply', v_author.email, jsonb_build_object(
            'product_title', v_product.title, 'reply', v_body,
            'product_link', api._setting_text('reviews.product_url') || v_product.slug), v_author.user_id);
    end if;
    perform api._audit('review_replied', 'review', p_review_id::text, jsonb_build_object('reply', v_body));
    return api._review_json(v, 'staff');
end
$$;
comment on function api.admin_reply_review(bigint, jsonb) is
    'Sets the shop''s reply under a review ({"body"}, plain text, 1..5000 characters) and e-mails it to the author; audited. Needs reviews:moderate. Errors: MA404 review_not_found, MA422 invalid_field.';

-- Removes the shop's reply. Audited.
create function api.admin_delete_review_reply(p_review_id bigint)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v shop.review;
begin
    perform api._require_scope('reviews:moderate');
    update shop.review r set reply_body = null, replied_at = null, replied_by = null
    where r.review_id = p_review_id
    returning * into v;
    if v.review_id is null then
        perform api._review_not_found();
    end if;
    perform api._audit('review_reply_removed', 'review', p_review_id::text);
    return api._review_json(v, 'staff');
end
$$;
comment on function api.admin_delete_review_reply(bigint) is
    'Removes the shop''s reply under a review; audited. Needs reviews:moderate. Errors: MA404 review_not_found.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._setting_bool(text) is 'Private: a boolean store policy from shop.setting.';
comment on function api._plain_text(text) is 'Private: plain text from client input (HTML tags, scripts and comments removed, common entities decoded, spaces collapsed).';
comment on function api._review_flags(text) is 'Private: the filters'' objections to a text (link, profanity), per the reviews.filter_* settings.';
comment on function api._review_json(shop.review, text) is 'Private: a review as JSON for the public, its author (own) or moderators (staff).';
comment on function api._rating_json(bigint, boolean) is 'Private: a product''s rating summary {average, count[, histogram]} from shop.product_rating.';
comment on function api._review_not_found() is 'Private: raises MA404 review_not_found (no such review, or one the caller may not see).';
comment on function api._review_text(jsonb, text, integer, integer) is 'Private: a review''s title or body as plain text within its length limits (MA422 review_<field>_too_short/_too_long).';
comment on function api._review_media(jsonb, uuid) is 'Private: the distinct asset ids of a submission, each an image or video the author uploaded (MA422 review_media_invalid).';
comment on function api._review_cursor(text) is 'Private: a review-list cursor "key|id" (MA422 invalid_cursor).';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose):
grant execute on function
    api.product_reviews(text,jsonb)
    to maef_anon, maef_customer, maef_staff, maef_admin;
-- Signed-in users (each function checks the caller; writing needs reviews:write,
-- which customers and admins hold):
grant execute on function
    api.my_reviews(),
    api.delete_review(bigint)
    to maef_customer, maef_staff, maef_admin;
grant execute on function
    api.submit_review(text,jsonb),
    api.vote_review_helpful(bigint),
    api.unvote_review_helpful(bigint)
    to maef_customer, maef_admin;
-- Moderators (reviews:moderate: managers and admins):
grant execute on function
    api.admin_list_reviews(jsonb),
    api.admin_moderate_review(bigint,jsonb),
    api.admin_reply_review(bigint,jsonb),
    api.admin_delete_review_reply(bigint)
    to maef_staff, maef_admin;
