-- Identity and access: accounts, sessions (refresh tokens), password resets, rate
-- limits, the caller's profile, GDPR export/erasure, admin user management, audit.
--
-- Passwords never reach SQL in clear: maef-api hashes them (argon2id) and passes the
-- PHC string. Tokens reach SQL only as SHA-256 hex digests. Errors use the MA class
-- (see api/src/error.rs): MA401 for a bad credential, MA403 for a missing permission,
-- MA422 for invalid input, MA429 (detail = {"retry_after": seconds}) for rate limits.

-- ---------------------------------------------------------------- helpers

-- Raises MA401 unless a user is signed in; returns their id.
create function api._require_user()
returns uuid
language plpgsql stable as $$
declare
    v_user_id uuid := shop.current_user_id();
begin
    if v_user_id is null then
        raise exception using errcode = 'MA401', constraint = 'authentication_required',
            message = 'sign in first';
    end if;
    return v_user_id;
end
$$;

-- Raises MA403 unless the request's scope holds p_scope.
create function api._require_scope(p_scope text)
returns void
language plpgsql stable as $$
begin
    perform api._require_user();
    if not shop.has_scope(p_scope) then
        raise exception using errcode = 'MA403', constraint = 'permission_required',
            message = format('this needs the %s permission', p_scope);
    end if;
end
$$;

-- A store policy from shop.setting (migration V12): an integer, or an interval of the
-- setting's seconds. A missing key is a bug of ours (migrations seed every key).
create function api._setting_int(p_key text)
returns bigint
language plpgsql stable as $$
declare
    v_value bigint;
begin
    select (s.value::text)::bigint into v_value from shop.setting s
    where s.key = p_key and s.value_type = 'integer';
    if v_value is null then
        raise exception 'setting % is missing or not an integer', p_key;
    end if;
    return v_value;
end
$$;

create function api._setting_secs(p_key text)
returns interval
language sql stable as $$
    select make_interval(secs => api._setting_int(p_key))
$$;

-- Counts one hit in a fixed window and raises MA429 past the limit. The counter row is
-- committed by the attempts under the limit; the refused attempt rolls back its own
-- increment, so a blocked client stays blocked until the window ends, no longer.
create function api._rate_limit(p_bucket text, p_limit integer, p_window interval)
returns void
language plpgsql as $$
declare
    v_start timestamptz := to_timestamp(floor(extract(epoch from now()) / extract(epoch from p_window))
                                        * extract(epoch from p_window));
    v_hits integer;
begin
    insert into shop.rate_limit_counter as c (bucket, window_start, hits)
    values (p_bucket, v_start, 1)
    on conflict (bucket, window_start) do update set hits = c.hits + 1
    returning hits into v_hits;
    if v_hits > p_limit then
        raise exception using errcode = 'MA429', constraint = 'rate_limited',
            message = 'too many attempts; wait before trying again',
            detail = jsonb_build_object('retry_after',
                         greatest(1, ceil(extract(epoch from v_start + p_window - now()))::integer))::text;
    end if;
end
$$;

-- The claims of a user's access token: role (database role) and scope (permissions).
create function api._user_claims(p_user_id uuid)
returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'sub', u.user_id,
        'email', u.email,
        'role', case
                    when 'admin' = any (r.names) then 'maef_admin'
                    when 'manager' = any (r.names) then 'maef_staff'
                    else 'maef_customer'
                end,
        'expires_in', api._setting_int('auth.access_token_ttl_secs'),
        'refresh_expires_in', api._setting_int('auth.refresh_token_ttl_secs'),
        'scope', coalesce((select string_agg(distinct p.name, ' ' order by p.name)
                           from shop.user_role ur
                           join shop.role_permission rp using (role_id)
                           join shop.permission p using (permission_id)
                           where ur.user_id = u.user_id), ''))
    from shop.app_user u
    cross join lateral (select coalesce(array_agg(ro.name), '{}') as names
                        from shop.user_role ur join shop.role ro using (role_id)
                        where ur.user_id = u.user_id) r
    where u.user_id = p_user_id
$$;

-- The profile a user sees of themselves.
create function api._profile(p_user_id uuid)
returns jsonb
language sql stable as $$
    select jsonb_build_object(
        'id', u.user_id, 'email', u.email, 'username', u.username, 'is_active', u.is_active,
        'locale', u.locale, 'created_at', u.created_at, 'last_login_at', u.last_login_at,
        'roles', coalesce((select jsonb_agg(r.name order by r.name)
                           from shop.user_role ur join shop.role r using (role_id)
                           where ur.user_id = u.user_id), '[]'::jsonb))
    from shop.app_user u where u.user_id = p_user_id
$$;

-- Writes one audit row in the caller's transaction.
create function api._audit(p_action text, p_entity text, p_entity_id text, p_data jsonb default '{}')
returns void
language sql as $$
    insert into shop.audit_log (actor_id, action, entity, entity_id, data)
    values (shop.current_user_id(), p_action, p_entity, p_entity_id, coalesce(p_data, '{}'))
$$;

create function api._normalize_email(p_email text)
returns text
language plpgsql immutable as $$
declare
    v text := lower(btrim(coalesce(p_email, '')));
begin
    if v !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' or length(v) > 254 then
        raise exception using errcode = 'MA422', constraint = 'invalid_email',
            message = 'this is not a valid email address';
    end if;
    return v;
end
$$;

-- Issues a refresh token row (the caller generated the token and passes its hash).
create function api._issue_refresh_token(p_user_id uuid, p_family uuid, p_token_hash text)
returns void
language sql as $$
    insert into shop.refresh_token (token_hash, family_id, user_id, expires_at)
    values (p_token_hash, p_family, p_user_id, now() + api._setting_secs('auth.refresh_token_ttl_secs'))
$$;

-- ---------------------------------------------------------------- authentication

-- Called in every request's identity statement: a signed token of a user who was
-- deactivated or erased since it was issued stops working at once (one primary-key
-- lookup). Anonymous requests pass null.
create function api.authenticate(p_user_id uuid)
returns boolean
language plpgsql stable security definer
set search_path = '' as $$
begin
    if p_user_id is not null and not exists (
        select from shop.app_user where user_id = p_user_id and is_active and erased_at is null) then
        raise exception using errcode = 'MA401', constraint = 'account_inactive',
            message = 'this account is not active';
    end if;
    return true;
end
$$;
comment on function api.authenticate(uuid) is
    'Raises MA401 account_inactive when the token''s user is deactivated or erased; called in each request''s identity statement.';

-- Creates a customer account, with its customer.created event and welcome e-mail in
-- the same transaction.
create function api.register_user(p_email text, p_password_hash text, p_username text default null,
                                  p_idem jsonb default null, p_locale text default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid;
    v_result jsonb := api._idempotency_begin(p_idem);
    v_user shop.app_user;
begin
    if v_result is not null then
        return v_result;
    end if;
    if p_locale is not null and p_locale not in ('fr', 'en') then
        raise exception using errcode = 'MA422', constraint = 'app_user_locale_valid',
            message = 'locale must be fr or en';
    end if;
    insert into shop.app_user (email, username, password_hash, locale)
    values (api._normalize_email(p_email), nullif(btrim(p_username), ''), p_password_hash, p_locale)
    returning * into v_user;
    v_user_id := v_user.user_id;
    insert into shop.user_role (user_id, role_id)
    select v_user_id, role_id from shop.role where name = 'customer';
    perform api._emit_event('customer.created', 'customer', v_user_id::text, jsonb_build_object(
        'id', v_user_id, 'email', v_user.email, 'username', v_user.username, 'locale', v_user.locale,
        'created_at', v_user.created_at));
    perform api._queue_email('welcome', v_user.email,
                             jsonb_build_object('email', v_user.email, 'username', v_user.username), v_user_id);
    v_result := api._profile(v_user_id);
    perform api._idempotency_finish(p_idem, 201, v_result);
    return v_result;
end
$$;
comment on function api.register_user(text, text, text, jsonb, text) is
    'Creates a customer account (email normalised; password already hashed by the API; locale fr/en or null for the store default), emits customer.created and queues the welcome e-mail; idempotent with p_idem. Errors: MA422 invalid_email, app_user_locale_valid, 23505 app_user_email_key, MA409/MA422 idempotency.';

-- Step 1 of a login: counts the attempt against the per-email and per-client limits,
-- then returns the stored password hash (null for an unknown or inactive account: the
-- API then verifies against a dummy hash, so both cases cost the same).
create function api.login_lookup(p_email text, p_client text)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_email text := lower(btrim(coalesce(p_email, '')));
    v_user shop.app_user;
begin
    perform api._rate_limit('login:client:' || coalesce(p_client, '?'),
                            api._setting_int('auth.rate_limit_per_client')::integer,
                            api._setting_secs('auth.rate_limit_window_secs'));
    perform api._rate_limit('login:email:' || v_email, api._setting_int('auth.rate_limit_per_account')::integer,
                            api._setting_secs('auth.rate_limit_window_secs'));
    select * into v_user from shop.app_user
    where lower(email) = v_email and is_active and erased_at is null;
    return jsonb_build_object('user_id', v_user.user_id, 'password_hash', v_user.password_hash);
end
$$;
comment on function api.login_lookup(text, text) is
    'Login step 1: rate-limits (MA429; limits in shop.setting auth.rate_limit_*) and returns {user_id, password_hash}, nulls for an unknown or inactive email.';

-- Step 2 of a login, after the API verified the password: opens a session (a new
-- refresh-token family) and returns the access token's claims.
create function api.login_complete(p_user_id uuid, p_refresh_hash text, p_new_password_hash text default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
begin
    update shop.app_user
    set last_login_at = now(), password_hash = coalesce(p_new_password_hash, password_hash)
    where user_id = p_user_id and is_active and erased_at is null;
    if not found then
        raise exception using errcode = 'MA401', constraint = 'invalid_credentials',
            message = 'wrong email or password';
    end if;
    perform api._issue_refresh_token(p_user_id, gen_random_uuid(), p_refresh_hash);
    return api._user_claims(p_user_id);
end
$$;
comment on function api.login_complete(uuid, text, text) is
    'Login step 2 (password verified by the API): issues a refresh token (new family), optionally stores a rehashed password, returns access-token claims.';

-- Rotates a refresh token. Reuse of an already-rotated token revokes its whole family
-- and is audited; the result is then {"error": "refresh_token_reused"} rather than an
-- exception, so that the revocation commits.
create function api.refresh_session(p_token_hash text, p_new_token_hash text, p_client text)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_token shop.refresh_token;
begin
    perform api._rate_limit('refresh:client:' || coalesce(p_client, '?'),
                            api._setting_int('auth.rate_limit_per_client')::integer,
                            api._setting_secs('auth.rate_limit_window_secs'));
    select * into v_token from shop.refresh_token where token_hash = p_token_hash for update;
    if not found or v_token.revoked_at is not null or v_token.expires_at <= now() then
        raise exception using errcode = 'MA401', constraint = 'invalid_refresh_token',
            message = 'this refresh token is not valid';
    end if;
    if v_token.used_at is not null then
        update shop.refresh_token set revoked_at = now()
        where family_id = v_token.family_id and revoked_at is null;
        insert into shop.audit_log (actor_id, action, entity, entity_id, data)
        values (v_token.user_id, 'refresh_token_reused', 'refresh_token_family', v_token.family_id::text,
                jsonb_build_object('client', p_client, 'token_id', v_token.refresh_token_id));
        return jsonb_build_object('error', 'refresh_token_reused');
    end if;
    if not exists (select from shop.app_user where user_id = v_token.user_id and is_active and erased_at is null) then
        raise exception using errcode = 'MA401', constraint = 'account_inactive',
            message = 'this account is not active';
    end if;
    update shop.refresh_token set used_at = now() where refresh_token_id = v_token.refresh_token_id;
    perform api._issue_refresh_token(v_token.user_id, v_token.family_id, p_new_token_hash);
    return api._user_claims(v_token.user_id);
end
$$;
comment on function api.refresh_session(text, text, text) is
    'Rotates a refresh token: returns access-token claims, or {"error":"refresh_token_reused"} after revoking the family of a replayed token. Errors: MA401 invalid_refresh_token, MA429.';

-- Ends a session: revokes the refresh token's whole family. Unknown tokens are ignored.
create function api.logout(p_token_hash text)
returns jsonb
language sql security definer
set search_path = '' as $$
    update shop.refresh_token set revoked_at = now()
    where revoked_at is null
      and family_id = (select family_id from shop.refresh_token where token_hash = p_token_hash);
    select '{}'::jsonb;
$$;
comment on function api.logout(text) is 'Revokes the session (refresh-token family) of a refresh token; unknown tokens are ignored.';

-- Starts a password reset: for an active account, stores the token's hash and enqueues
-- the e-mail. The answer is the same whether or not the address exists.
create function api.request_password_reset(p_email text, p_token_hash text, p_link text, p_client text,
                                           p_idem jsonb default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_email text := lower(btrim(coalesce(p_email, '')));
    v_user_id uuid;
    v_result jsonb := api._idempotency_begin(p_idem);
    v_ttl interval := api._setting_secs('auth.password_reset_ttl_secs');
    v_window interval := api._setting_secs('auth.rate_limit_window_secs');
begin
    if v_result is not null then
        return v_result;
    end if;
    perform api._rate_limit('reset:client:' || coalesce(p_client, '?'),
                            api._setting_int('auth.rate_limit_per_client')::integer, v_window);
    perform api._rate_limit('reset:email:' || v_email, api._setting_int('auth.rate_limit_per_account')::integer, v_window);
    select user_id into v_user_id from shop.app_user
    where lower(email) = v_email and is_active and erased_at is null;
    if v_user_id is not null then
        insert into shop.password_reset_token (token_hash, user_id, expires_at)
        values (p_token_hash, v_user_id, now() + v_ttl);
        perform api._queue_email('password_reset', v_email, jsonb_build_object(
            'link', p_link, 'expires_in_minutes', ceil(extract(epoch from v_ttl) / 60)::integer), v_user_id);
    end if;
    v_result := jsonb_build_object('status', 'accepted');
    perform api._idempotency_finish(p_idem, 202, v_result);
    return v_result;
end
$$;
comment on function api.request_password_reset(text, text, text, text, jsonb) is
    'Password reset request: stores the token hash and queues the password_reset e-mail when the account exists; same answer either way. Errors: MA429.';

-- Completes a password reset: single-use, expiring; signs the user out everywhere.
create function api.confirm_password_reset(p_token_hash text, p_new_password_hash text)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid;
begin
    update shop.password_reset_token set used_at = now()
    where token_hash = p_token_hash and used_at is null and expires_at > now()
    returning user_id into v_user_id;
    if v_user_id is null then
        raise exception using errcode = 'MA422', constraint = 'invalid_reset_token',
            message = 'this reset link is invalid, expired or already used',
            hint = 'Ask for a new password reset e-mail.';
    end if;
    update shop.app_user set password_hash = p_new_password_hash where user_id = v_user_id;
    update shop.refresh_token set revoked_at = now() where user_id = v_user_id and revoked_at is null;
    insert into shop.audit_log (actor_id, action, entity, entity_id)
    values (v_user_id, 'password_reset', 'user', v_user_id::text);
    return jsonb_build_object('status', 'password_changed');
end
$$;
comment on function api.confirm_password_reset(text, text) is
    'Sets a new password with a valid reset token (single use) and revokes every session. Errors: MA422 invalid_reset_token.';

-- ---------------------------------------------------------------- the signed-in user

create function api.me()
returns jsonb
language sql stable security definer
set search_path = '' as $$
    select api._profile(api._require_user())
$$;
comment on function api.me() is 'The signed-in user''s profile. Errors: MA401.';

-- Changes the signed-in user's own fields: {"username": ..., "locale": "fr" | "en" |
-- null} (email changes need a verification flow and are refused for now).
create function api.update_me(p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
    v_unknown text;
begin
    select string_agg(k, ', ') into v_unknown from jsonb_object_keys(p_patch) k where k not in ('username', 'locale');
    if v_unknown is not null then
        raise exception using errcode = 'MA422', constraint = 'unknown_fields',
            message = format('these fields cannot be changed here: %s', v_unknown);
    end if;
    if p_patch ? 'username' then
        update shop.app_user set username = nullif(btrim(p_patch ->> 'username'), '') where user_id = v_user_id;
    end if;
    if p_patch ? 'locale' then
        if jsonb_typeof(p_patch -> 'locale') not in ('string', 'null') or (p_patch ->> 'locale') not in ('fr', 'en') then
            raise exception using errcode = 'MA422', constraint = 'app_user_locale_valid',
                message = 'locale must be fr, en or null (the store default)';
        end if;
        update shop.app_user set locale = p_patch ->> 'locale' where user_id = v_user_id;
    end if;
    return api._profile(v_user_id);
end
$$;
comment on function api.update_me(jsonb) is 'Updates the signed-in user''s username and e-mail locale (fr, en, null). Errors: MA401, MA422 unknown_fields, app_user_locale_valid, 23505 app_user_username_key.';

create function api.my_password_hash()
returns jsonb
language sql stable security definer
set search_path = '' as $$
    select jsonb_build_object('password_hash', password_hash) from shop.app_user where user_id = api._require_user()
$$;
comment on function api.my_password_hash() is 'The signed-in user''s password hash, for the API to verify the current password before a change.';

create function api.set_my_password(p_new_password_hash text, p_keep_family uuid default null)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
begin
    update shop.app_user set password_hash = p_new_password_hash where user_id = v_user_id;
    -- Other sessions end; the caller's own session may be kept.
    update shop.refresh_token set revoked_at = now()
    where user_id = v_user_id and revoked_at is null and family_id is distinct from p_keep_family;
    perform api._audit('password_changed', 'user', v_user_id::text);
    return jsonb_build_object('status', 'password_changed');
end
$$;
comment on function api.set_my_password(text, uuid) is 'Stores a new password hash for the signed-in user and revokes their sessions.';

-- Everything held about the signed-in user (GDPR access request).
create function api.export_me()
returns jsonb
language sql stable security definer
set search_path = '' as $$
    select jsonb_build_object(
        'exported_at', now(),
        'profile', api._profile(u.user_id),
        'addresses', coalesce((select jsonb_agg(to_jsonb(a) order by a.address_id) from shop.address a where a.user_id = u.user_id), '[]'),
        'carts', coalesce((select jsonb_agg(to_jsonb(c) || jsonb_build_object('items',
                    coalesce((select jsonb_agg(to_jsonb(i)) from shop.cart_item i where i.cart_id = c.cart_id), '[]')))
                 from shop.cart c where c.user_id = u.user_id), '[]'),
        'orders', coalesce((select jsonb_agg(to_jsonb(o) || jsonb_build_object(
                    'items', coalesce((select jsonb_agg(to_jsonb(i)) from shop.order_item i where i.order_id = o.order_id), '[]'),
                    'payments', coalesce((select jsonb_agg(to_jsonb(p) - 'raw' || jsonb_build_object(
                                     'refunds', coalesce((select jsonb_agg(to_jsonb(f) order by f.refund_id)
                                                          from shop.refund f where f.payment_id = p.payment_id), '[]')))
                                 from shop.payment p where p.order_id = o.order_id), '[]'))
                    order by o.created_at)
                 from shop.customer_order o where o.user_id = u.user_id), '[]'),
        'reviews', coalesce((select jsonb_agg(to_jsonb(r) || jsonb_build_object(
                        'media', coalesce((select jsonb_agg(m.asset_id order by m.position) from shop.review_media m
                                           where m.review_id = r.review_id), '[]'),
                        'revisions', coalesce((select jsonb_agg(to_jsonb(v) order by v.review_revision_id)
                                               from shop.review_revision v where v.review_id = r.review_id), '[]'))
                        order by r.review_id)
                     from shop.review r where r.user_id = u.user_id), '[]'),
        'helpful_votes', coalesce((select jsonb_agg(jsonb_build_object('review_id', v.review_id, 'at', v.created_at)
                                                    order by v.created_at)
                                   from shop.review_vote v where v.user_id = u.user_id), '[]'),
        'consents', coalesce((select jsonb_agg(jsonb_build_object('purpose', c.purpose, 'granted', c.granted,
                                                                  'version', c.version, 'recorded_at', c.recorded_at)
                                               order by c.user_consent_id)
                              from shop.user_consent c where c.user_id = u.user_id), '[]'),
        'sessions', coalesce((select jsonb_agg(jsonb_build_object('issued_at', t.issued_at, 'expires_at', t.expires_at,
                                                                  'revoked_at', t.revoked_at))
                              from shop.refresh_token t where t.user_id = u.user_id), '[]'),
        'activity', coalesce((select jsonb_agg(jsonb_build_object('at', l.at, 'action', l.action, 'entity', l.entity))
                              from shop.audit_log l where l.actor_id = u.user_id), '[]'),
        'emails', coalesce((select jsonb_agg(jsonb_build_object('kind', m.kind, 'to', m.to_address, 'status', m.status,
                                                                'created_at', m.created_at, 'sent_at', m.sent_at)
                                             order by m.email_message_id)
                            from shop.email_message m where m.user_id = u.user_id), '[]'))
    from shop.app_user u where u.user_id = api._require_user()
$$;
comment on function api.export_me() is 'All data held about the signed-in user, as one JSON document (GDPR access): profile, addresses, carts, orders with items and payments (no provider payload) and refunds, reviews with photos and earlier versions, helpful votes, consents, sessions, activity, e-mails.';

-- Erases the signed-in user's personal data (GDPR): api._erase_user (sql/privacy.sql)
-- anonymises and deactivates the account, deletes addresses, carts, consents and
-- sessions, keeps orders for accounting without personal data and reviews anonymous.
create function api.erase_me()
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := api._require_user();
begin
    return jsonb_build_object('status', 'erased') || api._erase_user(v_user_id, '{"by": "self"}');
end
$$;
comment on function api.erase_me() is
    'Erases the signed-in user (GDPR, docs/privacy.md): account anonymised and deactivated, addresses, carts, consents and sessions deleted, orders kept for accounting without personal data, reviews kept anonymous. Returns {status, orders, reviews}.';

-- ---------------------------------------------------------------- administration

-- Users, newest first, keyset-paginated; optional filters on email (substring) and role.
create function api.admin_list_users(p_limit integer default 50, p_after text default null,
                                     p_email text default null, p_role text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_after_at timestamptz;
    v_after_id uuid;
    v_page jsonb;
begin
    perform api._require_scope('users:admin');
    if coalesce(p_limit, 50) not between 1 and 200 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit',
            message = 'limit must be between 1 and 200';
    end if;
    if p_after is not null then
        begin
            v_after_at := split_part(p_after, '|', 1)::timestamptz;
            v_after_id := split_part(p_after, '|', 2)::uuid;
        exception when others then
            raise exception using errcode = 'MA422', constraint = 'invalid_cursor',
                message = 'after is not a cursor returned by this API';
        end;
    end if;
    select jsonb_build_object(
        'items', coalesce(jsonb_agg(api._profile(s.user_id) order by s.created_at desc, s.user_id desc)
                          filter (where s.n <= coalesce(p_limit, 50)), '[]'::jsonb),
        'next_cursor', case when count(*) > coalesce(p_limit, 50) then
            (array_agg(s.created_at::text || '|' || s.user_id order by s.created_at desc, s.user_id desc)
             filter (where s.n <= coalesce(p_limit, 50)))[coalesce(p_limit, 50)] end)
    into v_page
    from (select u.user_id, u.created_at, row_number() over (order by u.created_at desc, u.user_id desc) as n
          from shop.app_user u
          where (v_after_at is null or (u.created_at, u.user_id) < (v_after_at, v_after_id))
            and (p_email is null or u.email like '%' || lower(p_email) || '%')
            and (p_role is null or exists (select from shop.user_role ur join shop.role r using (role_id)
                                            where ur.user_id = u.user_id and r.name = p_role))
          order by u.created_at desc, u.user_id desc
          limit coalesce(p_limit, 50) + 1) s;
    return v_page;
end
$$;
comment on function api.admin_list_users(integer, text, text, text) is
    'Users newest first: {items, next_cursor}; filters email (substring) and role. Needs users:admin (MA403).';

-- Changes a user's roles and/or is_active: {"roles": ["manager"], "is_active": false}.
create function api.admin_update_user(p_user_id uuid, p_patch jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_unknown text;
    v_before jsonb;
begin
    perform api._require_scope('users:admin');
    select string_agg(k, ', ') into v_unknown from jsonb_object_keys(p_patch) k where k not in ('roles', 'is_active');
    if v_unknown is not null then
        raise exception using errcode = 'MA422', constraint = 'unknown_fields',
            message = format('these fields cannot be changed: %s', v_unknown);
    end if;
    v_before := api._profile(p_user_id);
    if v_before is null then
        raise exception using errcode = 'MA404', constraint = 'user_not_found', message = 'no such user';
    end if;
    if p_patch ? 'roles' then
        if jsonb_typeof(p_patch -> 'roles') <> 'array' or exists (
            select from jsonb_array_elements_text(p_patch -> 'roles') r
            where r not in (select name from shop.role)) then
            raise exception using errcode = 'MA422', constraint = 'invalid_roles',
                message = 'roles must be an array of: admin, manager, customer';
        end if;
        delete from shop.user_role where user_id = p_user_id;
        insert into shop.user_role (user_id, role_id)
        select p_user_id, r.role_id from shop.role r
        where r.name in (select jsonb_array_elements_text(p_patch -> 'roles'));
    end if;
    if p_patch ? 'is_active' then
        if jsonb_typeof(p_patch -> 'is_active') <> 'boolean' then
            raise exception using errcode = 'MA422', constraint = 'invalid_is_active', message = 'is_active must be a boolean';
        end if;
        update shop.app_user set is_active = (p_patch ->> 'is_active')::boolean where user_id = p_user_id;
        if not (p_patch ->> 'is_active')::boolean then
            update shop.refresh_token set revoked_at = now() where user_id = p_user_id and revoked_at is null;
        end if;
    end if;
    perform api._audit('user_updated', 'user', p_user_id::text,
                       jsonb_build_object('before', v_before, 'patch', p_patch));
    return api._profile(p_user_id);
end
$$;
comment on function api.admin_update_user(uuid, jsonb) is
    'Sets a user''s roles and/or is_active (deactivation revokes sessions); audited. Needs users:admin.';

-- The audit log, newest first, keyset-paginated by id; optional entity filter.
create function api.admin_list_audit(p_limit integer default 50, p_after bigint default null,
                                     p_entity text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_page jsonb;
begin
    perform api._require_scope('audit:read');
    if coalesce(p_limit, 50) not between 1 and 200 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit',
            message = 'limit must be between 1 and 200';
    end if;
    select jsonb_build_object(
        'items', coalesce(jsonb_agg(to_jsonb(s) - 'n' order by s.audit_log_id desc)
                          filter (where s.n <= coalesce(p_limit, 50)), '[]'::jsonb),
        'next_cursor', case when count(*) > coalesce(p_limit, 50) then
            (min(s.audit_log_id) filter (where s.n <= coalesce(p_limit, 50)))::text end)
    into v_page
    from (select l.*, row_number() over (order by l.audit_log_id desc) as n
          from shop.audit_log l
          where (p_after is null or l.audit_log_id < p_after)
            and (p_entity is null or l.entity = p_entity)
          order by l.audit_log_id desc
          limit coalesce(p_limit, 50) + 1) s;
    return v_page;
end
$$;
comment on function api.admin_list_audit(integer, bigint, text) is 'Audit rows newest first: {items, next_cursor}. Needs audit:read.';

-- Creates or promotes an administrator (maef-api create-admin; run by the owner role).
create function api.create_admin(p_email text, p_password_hash text)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_email text := api._normalize_email(p_email);
    v_user_id uuid;
begin
    insert into shop.app_user (email, password_hash) values (v_email, p_password_hash)
    on conflict (lower(email)) do update set password_hash = excluded.password_hash, is_active = true
    returning user_id into v_user_id;
    insert into shop.user_role (user_id, role_id)
    select v_user_id, role_id from shop.role where name = 'admin'
    on conflict do nothing;
    insert into shop.audit_log (action, entity, entity_id) values ('admin_created', 'user', v_user_id::text);
    return api._profile(v_user_id);
end
$$;
comment on function api.create_admin(text, text) is 'Creates an admin or promotes an existing user (and sets the password). Not granted to HTTP roles.';

-- Deletes rate-limit windows that ended more than a day ago (scheduled with the other
-- pruning jobs; callable from psql).
create function api.prune_rate_limit_counters()
returns integer
language sql security definer
set search_path = '' as $$
    with gone as (delete from shop.rate_limit_counter where window_start < now() - interval '1 day' returning 1)
    select count(*)::integer from gone
$$;
comment on function api.prune_rate_limit_counters() is 'Deletes rate-limit counters older than a day; returns the count.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._require_user() is 'Private: the signed-in user''s id, or MA401 authentication_required.';
comment on function api._require_scope(text) is 'Private: MA403 permission_required unless the request''s scope holds the permission.';
comment on function api._rate_limit(text, integer, interval) is 'Private: counts a hit in a fixed window; MA429 rate_limited (detail {retry_after}) past the limit.';
comment on function api._user_claims(uuid) is 'Private: access-token claims of a user: sub, email, database role, scope (permissions), and the access and refresh lifetimes from shop.setting.';
comment on function api._setting_int(text) is 'Private: an integer store policy from shop.setting.';
comment on function api._setting_secs(text) is 'Private: a store policy from shop.setting, as an interval of its seconds.';
comment on function api._profile(uuid) is 'Private: the profile a user sees of themselves (no password hash).';
comment on function api._audit(text, text, text, jsonb) is 'Private: writes an audit row for the current user in the caller''s transaction.';
comment on function api._normalize_email(text) is 'Private: lower-cased trimmed e-mail, or MA422 invalid_email.';
comment on function api._issue_refresh_token(uuid, uuid, text) is 'Private: stores a refresh token''s hash in a session family.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose):
grant execute on function
    api.authenticate(uuid),
    api.register_user(text,text,text,jsonb,text),
    api.login_lookup(text,text),
    api.login_complete(uuid,text,text),
    api.refresh_session(text,text,text),
    api.logout(text),
    api.request_password_reset(text,text,text,text,jsonb),
    api.confirm_password_reset(text,text)
    to maef_anon, maef_customer, maef_staff, maef_admin;
-- Signed-in users (each function checks the caller itself):
grant execute on function
    api.me(),
    api.update_me(jsonb),
    api.my_password_hash(),
    api.set_my_password(text,uuid),
    api.export_me(),
    api.erase_me()
    to maef_customer, maef_staff, maef_admin;
-- Admins only (each function checks its permission):
grant execute on function
    api.admin_list_users(integer,text,text,text),
    api.admin_update_user(uuid,jsonb),
    api.admin_list_audit(integer,bigint,text)
    to maef_admin;
-- Not granted (owner only: the worker, DBAs, other SECURITY DEFINER functions):
--   api.create_admin, api.prune_rate_limit_counters.
