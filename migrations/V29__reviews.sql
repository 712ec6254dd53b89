-- V29: reviews — one review per customer and product with its edit history, the
-- verified-purchase flag computed from the customer's paid or delivered orders (by a
-- trigger, whoever writes the row), moderation (reason, who, when, flags), the shop's
-- reply, helpful votes, the "has media" flag, and per-product rating aggregates kept
-- incrementally by triggers (count, sum, histogram 1–5 of approved reviews). The search
-- ranking gains a `rating` weight.
--
-- Writes go through the SQL API (sql/reviews.sql): request roles keep SELECT under
-- row-level security but lose INSERT/UPDATE/DELETE, so a psql session cannot set its own
-- verified_purchase, status or helpful_count.

-- ---------------------------------------------------------------- reviews
alter table shop.review
    add column verified_purchase boolean not null default false,
    add column verified_order_id uuid references shop.customer_order on delete set null,
    add column has_media boolean not null default false,
    add column helpful_count integer not null default 0,
    add column flags text[] not null default '{}',
    add column moderation_reason text,
    add column moderated_at timestamptz,
    add column moderated_by uuid references shop.app_user on delete set null,
    add column reply_body text,
    add column replied_at timestamptz,
    add column replied_by uuid references shop.app_user on delete set null,
    add column submitted_at timestamptz not null default now(),
    add column edited_at timestamptz,
    add constraint review_helpful_count_not_negative check (helpful_count >= 0),
    add constraint review_title_length check (length(title) <= 200),
    add constraint review_body_length check (length(body) <= 10000),
    add constraint review_reply_length check (length(reply_body) between 1 and 5000),
    add constraint review_moderation_reason_length check (length(moderation_reason) <= 1000),
    add constraint review_flags_known check (flags <@ '{link,profanity}'::text[]);
comment on column shop.review.user_id is 'The author; null once the author erased their account (the review stays, anonymous).';
comment on column shop.review.verified_purchase is
    'Computed by the review_verify trigger at each write: the author has a paid (or partially refunded) or delivered order containing the product.';
comment on column shop.review.flags is 'Why the filters held the review for moderation: link, profanity (settings reviews.filter_*).';
comment on column shop.review.helpful_count is 'Helpful votes (shop.review_vote rows), kept by the review_vote_count trigger.';
comment on column shop.review.has_media is 'Whether photos are attached (shop.review_media), kept by the review_media_flag trigger.';

-- Public listing: approved reviews of a product in each sort's order (keyset).
drop index shop.review_product_id_idx;
create index review_product_recent_idx on shop.review (product_id, submitted_at desc, review_id desc) where status = 'approved';
create index review_product_helpful_idx on shop.review (product_id, helpful_count desc, review_id desc) where status = 'approved';
create index review_product_rating_idx on shop.review (product_id, rating, review_id) where status = 'approved';
-- The moderation queue, oldest first.
create index review_status_idx on shop.review (status, submitted_at, review_id);
create index review_user_idx on shop.review (user_id);

-- verified_purchase is the data's own rule: a paid (or partially refunded) or delivered
-- order of the author containing the product. Computed at every write of the review,
-- so neither a client nor a psql session can set it.
create function shop.review_verify() returns trigger
language plpgsql as $$
begin
    -- An author who erased their account is unlinked (user_id null); the review keeps
    -- the flag it earned.
    if new.user_id is null then
        return new;
    end if;
    select o.order_id into new.verified_order_id
    from shop.customer_order o
    join shop.order_item i on i.order_id = o.order_id
    where o.user_id = new.user_id and i.product_id = new.product_id
      and (o.payment_status in ('paid', 'partially_refunded') or o.status = 'delivered')
    order by o.placed_at desc nulls last
    limit 1;
    new.verified_purchase := new.verified_order_id is not null;
    return new;
end
$$;
create trigger review_verify before insert or update of user_id, product_id, rating, title, body on shop.review
    for each row execute function shop.review_verify();

-- ---------------------------------------------------------------- edit history
-- A second submission edits the review; the version it replaces is kept here.
create table shop.review_revision (
    review_revision_id bigint generated always as identity primary key,
    review_id          bigint not null references shop.review on delete cascade,
    rating             smallint not null check (rating between 1 and 5),
    title              text not null,
    body               text not null,
    media              uuid[] not null default '{}',
    status             text not null,
    submitted_at       timestamptz not null,
    replaced_at        timestamptz not null default now()
);
comment on table shop.review_revision is 'Earlier versions of a review (each edit keeps the version it replaces).';
create index review_revision_review_idx on shop.review_revision (review_id, review_revision_id);

-- ---------------------------------------------------------------- helpful votes
create table shop.review_vote (
    review_id  bigint not null references shop.review on delete cascade,
    user_id    uuid not null references shop.app_user on delete cascade,
    created_at timestamptz not null default now(),
    primary key (review_id, user_id)
);
comment on table shop.review_vote is '"Helpful" votes: one per customer and review, never on their own review (checked by the SQL API).';
create index review_vote_user_idx on shop.review_vote (user_id);

create function shop.review_vote_count() returns trigger
language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        update shop.review set helpful_count = helpful_count + 1 where review_id = new.review_id;
    else
        update shop.review set helpful_count = helpful_count - 1 where review_id = old.review_id;
    end if;
    return null;
end
$$;
create trigger review_vote_count after insert or delete on shop.review_vote
    for each row execute function shop.review_vote_count();

-- has_media follows the review's photos (table of migration V6).
create function shop.review_media_flag() returns trigger
language plpgsql as $$
declare
    v_review_id bigint := case when tg_op = 'DELETE' then old.review_id else new.review_id end;
begin
    update shop.review r
    set has_media = exists (select from shop.review_media m where m.review_id = v_review_id)
    where r.review_id = v_review_id
      and r.has_media is distinct from exists (select from shop.review_media m where m.review_id = v_review_id);
    return null;
end
$$;
create trigger review_media_flag after insert or delete on shop.review_media
    for each row execute function shop.review_media_flag();

-- ---------------------------------------------------------------- rating aggregates
-- Per product, over approved reviews: count, sum and histogram. Its own table (not
-- columns of shop.product): an approval then locks this small row, not the product row
-- that checkouts and catalogue edits use. The constraints make a drifted aggregate
-- impossible to store.
create table shop.product_rating (
    product_id   bigint primary key references shop.product on delete cascade,
    review_count integer not null default 0,
    rating_sum   integer not null default 0,
    rating_1     integer not null default 0 check (rating_1 >= 0),
    rating_2     integer not null default 0 check (rating_2 >= 0),
    rating_3     integer not null default 0 check (rating_3 >= 0),
    rating_4     integer not null default 0 check (rating_4 >= 0),
    rating_5     integer not null default 0 check (rating_5 >= 0),
    updated_at   timestamptz not null default now(),
    constraint product_rating_count_adds_up check (review_count = rating_1 + rating_2 + rating_3 + rating_4 + rating_5),
    constraint product_rating_sum_adds_up check (
        rating_sum = rating_1 + 2 * rating_2 + 3 * rating_3 + 4 * rating_4 + 5 * rating_5)
);
comment on table shop.product_rating is
    'Approved reviews per product: count, sum of ratings, histogram 1-5; kept by the review_rating_aggregate trigger (never recomputed per request).';

-- Adds one review's contribution (p_sign +1 or -1) to its product's aggregate. Removing
-- updates the row in place: when a deleted product cascades to its reviews, its
-- aggregate row may already be gone, and must not come back.
create function shop.product_rating_add(p_product_id bigint, p_rating smallint, p_sign integer) returns void
language plpgsql as $$
begin
    if p_sign < 0 then
        update shop.product_rating a set
            review_count = a.review_count - 1, rating_sum = a.rating_sum - p_rating,
            rating_1 = a.rating_1 - (p_rating = 1)::integer, rating_2 = a.rating_2 - (p_rating = 2)::integer,
            rating_3 = a.rating_3 - (p_rating = 3)::integer, rating_4 = a.rating_4 - (p_rating = 4)::integer,
            rating_5 = a.rating_5 - (p_rating = 5)::integer, updated_at = now()
        where a.product_id = p_product_id;
        return;
    end if;
    insert into shop.product_rating as a (product_id, review_count, rating_sum, rating_1, rating_2, rating_3, rating_4, rating_5)
    values (p_product_id, 1, p_rating, (p_rating = 1)::integer, (p_rating = 2)::integer, (p_rating = 3)::integer,
            (p_rating = 4)::integer, (p_rating = 5)::integer)
    on conflict (product_id) do update set
        review_count = a.review_count + 1, rating_sum = a.rating_sum + excluded.rating_sum,
        rating_1 = a.rating_1 + excluded.rating_1, rating_2 = a.rating_2 + excluded.rating_2,
        rating_3 = a.rating_3 + excluded.rating_3, rating_4 = a.rating_4 + excluded.rating_4,
        rating_5 = a.rating_5 + excluded.rating_5, updated_at = now();
end
$$;

create function shop.review_rating_aggregate() returns trigger
language plpgsql as $$
begin
    if tg_op in ('UPDATE', 'DELETE') and old.status = 'approved' then
        perform shop.product_rating_add(old.product_id, old.rating, -1);
    end if;
    if tg_op in ('INSERT', 'UPDATE') and new.status = 'approved' then
        -- A product deleted in the same statement cascades its reviews: nothing to add.
        if exists (select from shop.product p where p.product_id = new.product_id) then
            perform shop.product_rating_add(new.product_id, new.rating, 1);
        end if;
    end if;
    return null;
end
$$;
create trigger review_rating_aggregate after insert or delete or update of status, rating, product_id on shop.review
    for each row execute function shop.review_rating_aggregate();

-- Reviews that existed before this migration.
insert into shop.product_rating (product_id, review_count, rating_sum, rating_1, rating_2, rating_3, rating_4, rating_5)
select product_id, count(*), sum(rating),
       count(*) filter (where rating = 1), count(*) filter (where rating = 2), count(*) filter (where rating = 3),
       count(*) filter (where rating = 4), count(*) filter (where rating = 5)
from shop.review where status = 'approved' group by product_id;
update shop.review r set helpful_count = 0, has_media = exists (select from shop.review_media m where m.review_id = r.review_id);

-- ---------------------------------------------------------------- search ranking
-- A rating signal: the product's average pulled towards 3 stars by 5 phantom reviews
-- (so one 5-star review does not outrank fifty 4.8s), scaled to 0..1 (docs/search.md).
alter table shop.search_weight drop constraint search_weight_name_check;
alter table shop.search_weight add constraint search_weight_name_check
    check (name in ('text', 'trigram', 'exact', 'prefix', 'popularity', 'in_stock', 'rating'));
insert into shop.search_weight (name, weight) values ('rating', 0.3);

-- ---------------------------------------------------------------- who may write
-- Reviewing is for customers (staff accounts are not shoppers: a manager cannot praise
-- the shop's own products); admins hold every permission.
insert into shop.permission (name, description) values
    ('reviews:write', 'Write product reviews and vote other reviews helpful');
insert into shop.role_permission (role_id, permission_id)
select r.role_id, p.permission_id from shop.role r, shop.permission p
where r.name in ('customer', 'admin') and p.name = 'reviews:write';

-- Reviews, votes and revisions are written by the SQL API only (SECURITY DEFINER);
-- request roles read what row-level security lets them.
revoke insert, update, delete on shop.review from maef_customer, maef_staff, maef_admin;
drop policy review_owner_write on shop.review;
drop policy review_owner_update on shop.review;
drop policy review_owner_delete on shop.review;

alter table shop.review_revision enable row level security;
create policy review_revision_read on shop.review_revision for select
    using (shop.has_scope('reviews:moderate')
           or exists (select from shop.review r where r.review_id = review_revision.review_id
                      and r.user_id = shop.current_user_id()));
grant select on shop.review_revision to maef_customer, maef_staff, maef_admin;

alter table shop.review_vote enable row level security;
create policy review_vote_own on shop.review_vote for select
    using (user_id = shop.current_user_id() or shop.has_scope('reviews:moderate'));
grant select on shop.review_vote to maef_customer, maef_staff, maef_admin;

grant select on shop.product_rating to maef_anon, maef_customer, maef_staff, maef_admin;

-- ---------------------------------------------------------------- policies
insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('reviews.auto_approve_verified', 'false', 'boolean', null, null, 'REVIEWS_AUTO_APPROVE_VERIFIED',
     'Publish a verified purchase''s review at once (unless a filter flagged it); other reviews wait for moderation.'),
    ('reviews.body_min_chars', '10', 'integer', 0, 10000, 'REVIEWS_BODY_MIN_CHARS',
     'Shortest review body accepted, in characters after HTML is stripped.'),
    ('reviews.body_max_chars', '5000', 'integer', 1, 10000, 'REVIEWS_BODY_MAX_CHARS',
     'Longest review body accepted, in characters after HTML is stripped.'),
    ('reviews.title_max_chars', '150', 'integer', 1, 200, 'REVIEWS_TITLE_MAX_CHARS',
     'Longest review title accepted, in characters after HTML is stripped.'),
    ('reviews.max_media', '5', 'integer', 0, 20, 'REVIEWS_MAX_MEDIA',
     'Photos a review may attach.'),
    ('reviews.filter_links', 'false', 'boolean', null, null, 'REVIEWS_FILTER_LINKS',
     'Hold reviews containing a link (http://, www., a domain) for moderation, flagged "link".'),
    ('reviews.filter_profanity', 'false', 'boolean', null, null, 'REVIEWS_FILTER_PROFANITY',
     'Hold reviews containing a word of shop.review_banned_word for moderation, flagged "profanity".'),
    ('reviews.product_url', '"http://localhost:8000/products/"', 'text', null, null, 'REVIEWS_PRODUCT_URL',
     'Prefix of a product page''s address on the storefront (the slug is appended), linked from the review_reply e-mail.');

-- Words the profanity filter looks for (whole words, accents and case ignored). A DBA
-- fills it for the shop's languages; it starts empty.
create table shop.review_banned_word (
    word text primary key check (word = lower(word) and length(word) between 1 and 100 and word !~ '\s')
);
comment on table shop.review_banned_word is 'Profanity filter words (lower-case, one word each), used when reviews.filter_profanity is on.';
revoke all on shop.review_banned_word from public;
