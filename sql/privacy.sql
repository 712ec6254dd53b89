-- The data lifecycle (GDPR): erasure of a customer (by themselves, DELETE
-- /api/v1/users/me, or by an administrator on request), consents, and the retention
-- job. docs/privacy.md states what is kept and why.
--
-- Erasure removes a person's data and keeps the shop's accounting: each order keeps its
-- amounts, tax, lines, currency, dates and the countries of its addresses (the tax
-- jurisdiction) for privacy.accounting_retention_years, without e-mail, names, phones,
-- street addresses or note. Reviews keep their rating and text, unlinked from the
-- author (docs/reviews.md). Free text that may quote the person (event payloads, audit
-- data, order notes, payment provider payloads, delivery errors) is scrubbed of the
-- person's own strings: e-mail, username, names, phones, street lines, company.
--
-- Errors: MA401, MA403 permission_required, MA404 user_not_found, MA409
-- cannot_erase_admin / already_erased, MA422 invalid_field / invalid_purpose.

-- ---------------------------------------------------------------- helpers

-- Counts what a retention step deleted (report.retention); nothing for zero.
create function api._count_retention(p_policy text, p_count bigint)
returns void
language sql as $$
    insert into shop.retention_run (policy, deleted) select p_policy, p_count where coalesce(p_count, 0) > 0
$$;

-- p_text with every occurrence of the needles (case-insensitive) replaced by [erased].
create function api._scrub_text(p_text text, p_needles text[])
returns text
language plpgsql immutable as $$
declare
    v text := p_text;
    v_needle text;
begin
    if v is null then
        return null;
    end if;
    foreach v_needle in array coalesce(p_needles, '{}') loop
        v := regexp_replace(v, regexp_replace(v_needle, '([^[:alnum:][:space:]])', '\\\1', 'g'), '[erased]', 'gi');
    end loop;
    return v;
end
$$;

-- A JSON value with every string scrubbed of the needles; an object under a key named
-- like an address keeps only its country.
create function api._scrub_jsonb(p_value jsonb, p_needles text[])
returns jsonb
language plpgsql immutable as $$
begin
    return case jsonb_typeof(p_value)
        when 'string' then to_jsonb(api._scrub_text(p_value #>> '{}', p_needles))
        when 'array' then (select coalesce(jsonb_agg(api._scrub_jsonb(e, p_needles) order by n), '[]')
                           from jsonb_array_elements(p_value) with ordinality x(e, n))
        when 'object' then (select coalesce(jsonb_object_agg(k, case
                                when k in ('shipping_address', 'billing_address', 'address') and jsonb_typeof(v) = 'object'
                                    then jsonb_build_object('country', v -> 'country')
                                else api._scrub_jsonb(v, p_needles) end), '{}')
                            from jsonb_each(p_value) x(k, v))
        else p_value
    end;
end
$$;

-- An address (as orders keep it) reduced to its country.
create function api._country_only(p_address jsonb)
returns jsonb
language sql immutable as $$
    select case when jsonb_typeof(p_address) = 'object' and p_address ? 'country'
                then jsonb_build_object('country', p_address -> 'country') end
$$;

-- The strings that identify a person in free text: the e-mail and username of their
-- account, and the names, companies, phones and street lines of their address book and
-- of the given orders. Three characters at least (shorter ones would erase words).
create function api._personal_strings(p_user_id uuid, p_order_ids uuid[])
returns text[]
language sql stable as $$
    select coalesce(array_agg(distinct s order by s), '{}')
    from (
        select u.email as s from shop.app_user u where u.user_id = p_user_id
        union all select u.username from shop.app_user u where u.user_id = p_user_id
        union all select unnest(array[a.full_name, a.company, a.phone, a.line1, a.line2])
                  from shop.address a where a.user_id = p_user_id
        union all select o.email from shop.customer_order o where o.order_id = any (p_order_ids)
        union all select x ->> k
                  from shop.customer_order o
                  cross join lateral (values (o.shipping_address), (o.billing_address)) ad(x)
                  cross join unnest(array['full_name', 'company', 'phone', 'line1', 'line2']) k
                  where o.order_id = any (p_order_ids) and jsonb_typeof(x) = 'object'
        -- Each word of a full name too: providers' payloads split a name into first and
        -- last (Paystack's customer.first_name/last_name, Stripe's billing_details).
        union all select regexp_split_to_table(a.full_name, '\s+') from shop.address a where a.user_id = p_user_id
        union all select regexp_split_to_table(x ->> 'full_name', '\s+')
                  from shop.customer_order o
                  cross join lateral (values (o.shipping_address), (o.billing_address)) ad(x)
                  where o.order_id = any (p_order_ids) and jsonb_typeof(x) = 'object'
        union all select x ->> k
                  from shop.shipment sh
                  cross join lateral (values (sh.address)) ad(x)
                  cross join unnest(array['full_name', 'company', 'phone', 'line1', 'line2']) k
                  where sh.order_id = any (p_order_ids) and jsonb_typeof(x) = 'object'
    ) t
    where length(btrim(s)) >= 3
$$;

-- Removes the personal data of orders (see the top of this file), their timeline
-- notes and stock-ledger reasons, shipments, payments' provider payloads, events and e-mails; the accounting
-- record stays. p_email: the placeholder address they get. Returns how many.
create function api._anonymise_orders(p_order_ids uuid[], p_needles text[], p_email text)
returns integer
language plpgsql as $$
declare
    v_count integer;
    v_emails text[];
    v_ids text[];
begin
    select coalesce(array_agg(distinct lower(o.email)), '{}'), coalesce(array_agg(o.order_id::text), '{}')
    into v_emails, v_ids
    from shop.customer_order o where o.order_id = any (p_order_ids);
    update shop.customer_order o
    set email = coalesce(p_email, 'erased-' || o.order_id || '@invalid'),
        shipping_address = api._country_only(o.shipping_address),
        billing_address = api._country_only(o.billing_address),
        customer_note = '', access_token_hash = null, personal_data_erased_at = now()
    where o.order_id = any (p_order_ids);
    get diagnostics v_count = row_count;
    update shop.shipment s set address = api._country_only(s.address) where s.order_id = any (p_order_ids);
    -- Invoices' buyer, returns' notes, cancellations' reasons (sql/fulfilment.sql).
    perform api._anonymise_fulfilment(p_order_ids, p_needles, p_email);
    update shop.order_event e set note = api._scrub_text(e.note, p_needles)
    where e.order_id = any (p_order_ids) and e.note <> '';
    -- The stock ledger's reasons repeat the timeline's (a payment note, a cancellation).
    update shop.stock_movement m set reason = api._scrub_text(m.reason, p_needles)
    where m.order_id = any (p_order_ids) and m.reason <> '';
    update shop.payment p
    set raw = api._scrub_jsonb(p.raw, p_needles), response = api._scrub_jsonb(p.response, p_needles),
        client_data = api._scrub_jsonb(p.client_data, p_needles)
    where p.order_id = any (p_order_ids);
    update shop.refund r set response = api._scrub_jsonb(r.response, p_needles) where r.order_id = any (p_order_ids);
    -- Providers' webhooks repeat the payer's e-mail and name (Paystack's customer object).
    update shop.payment_event e set payload = api._scrub_jsonb(e.payload, p_needles)
    where e.payment_id in (select p.payment_id from shop.payment p where p.order_id = any (p_order_ids));
    update shop.event e set payload = api._scrub_jsonb(e.payload, p_needles)
    where e.aggregate_type = 'order' and e.aggregate_id = any (v_ids);
    -- A guest's e-mails have no user id: found by the order's address.
    update shop.email_message m
    set to_address = coalesce(p_email, 'erased@invalid'), data = '{}', subject = null, body_text = null, body_html = null,
        status = case when m.status in ('queued', 'sending') then 'failed' else m.status end,
        last_error = case when m.status in ('queued', 'sending') then 'the recipient''s data was erased' else m.last_error end
    where lower(m.to_address) = any (v_emails);
    return v_count;
end
$$;

-- Erases a person (see the top of this file); p_actor_note goes to the audit row.
-- Returns what was done.
create function api._erase_user(p_user_id uuid, p_audit jsonb default '{}')
returns jsonb
language plpgsql as $$
declare
    v_placeholder text := 'erased-' || p_user_id || '@invalid';
    v_orders uuid[];
    v_needles text[];
    v_review_ids bigint[];
    v_result jsonb;
    v_n integer;
begin
    -- Serialises with the user's own requests (a checkout in flight writes orders).
    perform from shop.app_user u where u.user_id = p_user_id for update;
    select coalesce(array_agg(o.order_id), '{}') into v_orders from shop.customer_order o where o.user_id = p_user_id;
    v_needles := api._personal_strings(p_user_id, v_orders);

    v_n := api._anonymise_orders(v_orders, v_needles, v_placeholder);
    v_result := jsonb_build_object('orders', v_n);

    -- Reviews stay, anonymous: rating and text kept (scrubbed of the author's own
    -- strings), photos and earlier versions deleted, votes withdrawn (docs/reviews.md).
    select coalesce(array_agg(r.review_id), '{}') into v_review_ids from shop.review r where r.user_id = p_user_id;
    delete from shop.review_revision v where v.review_id = any (v_review_ids);
    delete from shop.review_media m where m.review_id = any (v_review_ids);
    update shop.review r set user_id = null, title = api._scrub_text(r.title, v_needles), body = api._scrub_text(r.body, v_needles)
    where r.review_id = any (v_review_ids);
    update shop.event e set payload = api._scrub_jsonb(e.payload, v_needles)
    where e.aggregate_type = 'review' and e.aggregate_id = any (select unnest(v_review_ids)::text);
    delete from shop.review_vote v where v.user_id = p_user_id;
    v_result := v_result || jsonb_build_object('reviews', cardinality(v_review_ids));

    -- Media they uploaded that nothing else uses (review photos, now unlinked).
    delete from shop.media_asset a
    where a.owner_id = p_user_id
      and not exists (select from shop.product_media pm where pm.asset_id = a.asset_id)
      and not exists (select from shop.review_media rm where rm.asset_id = a.asset_id)
      and not exists (select from shop.story s where s.asset_id = a.asset_id or s.poster_asset_id = a.asset_id);

    delete from shop.address a where a.user_id = p_user_id;
    delete from shop.cart c where c.user_id = p_user_id;
    delete from shop.user_consent c where c.user_id = p_user_id;
    delete from shop.refresh_token t where t.user_id = p_user_id;
    delete from shop.password_reset_token t where t.user_id = p_user_id;
    delete from shop.customer_group_member m where m.user_id = p_user_id;
    delete from shop.idempotency_key k where k.scope = p_user_id::text;
    delete from shop.rate_limit_counter c where c.bucket ilike any (select '%' || n || '%' from unnest(v_needles) n);
    update shop.email_message m
    set to_address = v_placeholder, data = '{}', subject = null, body_text = null, body_html = null,
        status = case when m.status in ('queued', 'sending') then 'failed' else m.status end,
        last_error = case when m.status in ('queued', 'sending') then 'the recipient erased their account' else m.last_error end
    where m.user_id = p_user_id;
    update shop.event e set payload = api._scrub_jsonb(e.payload, v_needles)
    where e.aggregate_type = 'customer' and e.aggregate_id = p_user_id::text;
    -- Free text elsewhere that may quote them.
    if cardinality(v_needles) > 0 then
        update shop.audit_log l set data = api._scrub_jsonb(l.data, v_needles)
        where l.data::text ilike any (select '%' || n || '%' from unnest(v_needles) n);
        update shop.job_queue j set last_error = api._scrub_text(j.last_error, v_needles), payload = api._scrub_jsonb(j.payload, v_needles)
        where j.last_error ilike any (select '%' || n || '%' from unnest(v_needles) n)
           or j.payload::text ilike any (select '%' || n || '%' from unnest(v_needles) n);
        update shop.job_attempt a set error = api._scrub_text(a.error, v_needles)
        where a.error ilike any (select '%' || n || '%' from unnest(v_needles) n);
        update shop.webhook_attempt a set response_excerpt = api._scrub_text(a.response_excerpt, v_needles),
                                          error = api._scrub_text(a.error, v_needles)
        where a.response_excerpt ilike any (select '%' || n || '%' from unnest(v_needles) n)
           or a.error ilike any (select '%' || n || '%' from unnest(v_needles) n);
    end if;

    update shop.app_user u
    set email = v_placeholder, username = null, password_hash = null, locale = null, is_active = false, erased_at = now()
    where u.user_id = p_user_id;
    delete from shop.user_role r where r.user_id = p_user_id;
    perform api._count_retention('erased_users', 1);
    perform api._audit('erased', 'user', p_user_id::text, coalesce(p_audit, '{}') || v_result);
    return v_result;
end
$$;

-- ---------------------------------------------------------------- erasure

-- Erases a user on request (a customer who wrote in, say): {"reason"}. Audited with the
-- reason. Administrators are not erased this way (their roles go first).
create function api.admin_erase_user(p_user_id uuid, p_request jsonb default '{}')
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    r jsonb := coalesce(p_request, '{}');
    v_reason text;
    v shop.app_user;
begin
    perform api._require_scope('users:admin');
    perform api._reject_unknown(r, '$', array['reason']);
    v_reason := btrim(api._text_field(r, 'reason', '$', true));
    if v_reason = '' or length(v_reason) > 1000 then
        perform api._bad_field('$.reason', 'say why (1 to 1000 characters), e.g. the request''s reference');
    end if;
    select * into v from shop.app_user u where u.user_id = p_user_id;
    if v.user_id is null then
        raise exception using errcode = 'MA404', constraint = 'user_not_found', message = 'no such user';
    end if;
    if v.erased_at is not null then
        raise exception using errcode = 'MA409', constraint = 'already_erased', message = 'this user was already erased',
            detail = json_build_object('erased_at', v.erased_at)::text;
    end if;
    if exists (select from shop.user_role ur join shop.role ro using (role_id) where ur.user_id = p_user_id and ro.name = 'admin') then
        raise exception using errcode = 'MA409', constraint = 'cannot_erase_admin',
            message = 'an administrator cannot be erased', hint = 'Remove their admin role first (PATCH /api/v1/admin/users/{id}).';
    end if;
    return jsonb_build_object('id', p_user_id, 'status', 'erased')
        || api._erase_user(p_user_id, jsonb_build_object('by', 'admin', 'reason', v_reason));
end
$$;
comment on function api.admin_erase_user(uuid, jsonb) is
    'Erases a user on request ({"reason"}), as erase_me does; audited with the reason. Needs users:admin. Errors: MA404 user_not_found, MA409 already_erased, cannot_erase_admin, MA422 invalid_field.';

-- ---------------------------------------------------------------- consents

-- The signed-in user's consents: the state of each purpose (never given: granted false,
-- recorded_at null) and the history of changes.
create function api.my_consents()
returns jsonb
language sql stable security definer
set search_path = '' as $$
    select jsonb_build_object(
        'consents', (select jsonb_agg(jsonb_build_object('purpose', p.purpose, 'granted', coalesce(c.granted, false),
                                                         'version', c.version, 'recorded_at', c.recorded_at)
                                      order by p.purpose)
                     from unnest(array['analytics', 'marketing_email', 'privacy_policy', 'terms']) p(purpose)
                     left join lateral (select x.granted, x.version, x.recorded_at from shop.user_consent x
                                        where x.user_id = u.user_id and x.purpose = p.purpose
                                        order by x.user_consent_id desc limit 1) c on true),
        'history', coalesce((select jsonb_agg(jsonb_build_object('purpose', x.purpose, 'granted', x.granted,
                                                                 'version', x.version, 'recorded_at', x.recorded_at)
                                              order by x.user_consent_id)
                             from shop.user_consent x where x.user_id = u.user_id), '[]'))
    from (select api._require_user() as user_id) u
$$;
comment on function api.my_consents() is
    'The signed-in user''s consents: {consents: [{purpose, granted, version, recorded_at}] for analytics, marketing_email, privacy_policy, terms; history}.';

-- Gives or withdraws a consent: {"granted": bool, "version"?: the text's version}.
create function api.set_my_consent(p_purpose text, p_consent jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
    c jsonb := coalesce(p_consent, 'null');
    v_granted boolean;
    v_version text;
begin
    perform api._require_one_of('purpose', p_purpose, array['analytics', 'marketing_email', 'privacy_policy', 'terms']);
    perform api._reject_unknown(c, '$', array['granted', 'version']);
    v_granted := api._bool_field(c, 'granted', '$');
    if v_granted is null then
        perform api._bad_field('$.granted', 'is required');
    end if;
    v_version := coalesce(btrim(api._text_field(c, 'version', '$')), '');
    if length(v_version) > 64 then
        perform api._bad_field('$.version', 'at most 64 characters');
    end if;
    insert into shop.user_consent (user_id, purpose, granted, version) values (v_user_id, p_purpose, v_granted, v_version);
    return api.my_consents();
end
$$;
comment on function api.set_my_consent(text, jsonb) is
    'Records a consent given or withdrawn ({"granted", "version"?}) for analytics, marketing_email, privacy_policy or terms; returns api.my_consents(). Errors: MA422 invalid_purpose, invalid_field.';

-- ---------------------------------------------------------------- retention

-- One pass of the retention policies, each step at most p_limit rows (the worker calls
-- it again while "more" is true):
--   1. the funnel of finished days is recorded (report.funnel keeps it after step 2);
--   2. open and abandoned carts untouched for privacy.abandoned_cart_days are deleted,
--      and converted ones as old (their order keeps the copy);
--   3. audit rows older than privacy.audit_retention_days;
--   4. search-log rows older than privacy.search_log_days;
--   5. guest orders older than privacy.accounting_retention_years lose their personal
--      data (their accounting record stays; customers' orders go with the account).
-- Each step is counted in shop.retention_run (report.retention).
create function api.apply_retention(p_limit integer default 5000)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_funnel integer := report._record_funnel_days();
    v_carts integer;
    v_converted integer;
    v_audit integer;
    v_search integer;
    v_guest integer := 0;
    v_order record;
begin
    delete from shop.cart c where c.cart_id in (
        select x.cart_id from shop.cart x
        where x.status in ('open', 'abandoned')
          and x.updated_at < now() - make_interval(days => api._setting_int('privacy.abandoned_cart_days')::integer)
        limit p_limit);
    get diagnostics v_carts = row_count;
    perform api._count_retention('abandoned_carts', v_carts);
    delete from shop.cart c where c.cart_id in (
        select x.cart_id from shop.cart x
        where x.status = 'converted'
          and x.updated_at < now() - make_interval(days => api._setting_int('privacy.abandoned_cart_days')::integer)
        limit p_limit);
    get diagnostics v_converted = row_count;
    perform api._count_retention('converted_carts', v_converted);
    delete from shop.audit_log l where l.audit_log_id in (
        select x.audit_log_id from shop.audit_log x
        where x.at < now() - make_interval(days => api._setting_int('privacy.audit_retention_days')::integer)
        order by x.audit_log_id limit p_limit);
    get diagnostics v_audit = row_count;
    perform api._count_retention('audit_log', v_audit);
    delete from shop.search_log l where l.search_log_id in (
        select x.search_log_id from shop.search_log x
        where x.searched_at < now() - make_interval(days => api._setting_int('privacy.search_log_days')::integer)
        order by x.search_log_id limit p_limit);
    get diagnostics v_search = row_count;
    perform api._count_retention('search_log', v_search);
    for v_order in
        select o.order_id from shop.customer_order o
        where o.user_id is null and o.personal_data_erased_at is null
          and o.placed_at < now() - make_interval(years => api._setting_int('privacy.accounting_retention_years')::integer)
        order by o.placed_at limit p_limit
        for update skip locked
    loop
        v_guest := v_guest + api._anonymise_orders(array[v_order.order_id],
                                                   api._personal_strings(null, array[v_order.order_id]), null);
    end loop;
    perform api._count_retention('guest_order_pii', v_guest);
    return jsonb_build_object('funnel_days', v_funnel, 'abandoned_carts', v_carts, 'converted_carts', v_converted,
                              'audit_log', v_audit, 'search_log', v_search, 'guest_order_pii', v_guest,
                              'more', greatest(v_carts, v_converted, v_audit, v_search, v_guest) >= p_limit);
end
$$;
comment on function api.apply_retention(integer) is
    'Worker (daily apply_retention job; callable from psql): records finished funnel days, deletes abandoned (and old converted) carts, old audit rows and search logs, anonymises guest orders past the accounting period — at most p_limit rows per step; counts each in shop.retention_run. Returns the counts and more (call again).';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._count_retention(text, bigint) is 'Private: records what a retention step deleted (shop.retention_run → report.retention).';
comment on function api._scrub_text(text, text[]) is 'Private: a text with each needle (case-insensitive) replaced by [erased].';
comment on function api._scrub_jsonb(jsonb, text[]) is 'Private: a JSON value with every string scrubbed and address objects reduced to their country.';
comment on function api._country_only(jsonb) is 'Private: an address reduced to {country} (null without a country).';
comment on function api._personal_strings(uuid, uuid[]) is 'Private: the strings identifying a person (e-mail, username, names, companies, phones, street lines) from their account, address book and orders.';
comment on function api._anonymise_orders(uuid[], text[], text) is 'Private: removes the personal data of orders (addresses to country, e-mail to a placeholder, note, guest token) and scrubs their notes, payments, events and e-mails.';
comment on function api._erase_user(uuid, jsonb) is 'Private: erases a person (GDPR), keeping accounting records and anonymous reviews; audited.';

-- ---------------------------------------------------------------- who may call these
-- Signed-in users (each function checks the caller itself):
-- (api.erase_me, in sql/identity.sql, calls api._erase_user.)
grant execute on function
    api.my_consents(),
    api.set_my_consent(text,jsonb)
    to maef_customer, maef_staff, maef_admin;
-- Admins only (users:admin):
grant execute on function
    api.admin_erase_user(uuid,jsonb)
    to maef_admin;
-- Not granted (owner only: the worker, DBAs): api.apply_retention.
