-- Carts: one open cart per signed-in user, or a guest cart found by the hash of a secret
-- session id the client holds (X-Cart-Session). Every change returns the new quote and
-- keeps the cart alive 30 more days; an expired cart is no longer found. The quote is
-- `json` text made by maef.quote_cart and passed through untouched (a `jsonb` result
-- would cost a parse of the whole quote, twice the engine's time).
--
-- Guest-to-user merge (when a signed-in caller opens a cart and presents a guest
-- session): if the user has no open cart, the guest cart becomes theirs; if it has one
-- in the same currency, each guest line is added to it (quantities summed, capped at 999
-- and at available stock), the user's coupon is kept (else the guest's is taken) and the
-- guest cart is closed as merged; if the currencies differ, the guest cart — the most
-- recent intent — becomes the user's open cart and the old one is abandoned.

create function api._session_hash(p_session text)
returns text
-- PL/pgSQL: convert_to is only stable, so the planner never inlines this as SQL and
-- would parse it at every call (see api._order_json).
language plpgsql immutable parallel safe as $$
begin
    return encode(sha256(convert_to(p_session, 'UTF8')), 'hex');
end
$$;

-- The caller's open cart: the signed-in user's, else the guest cart of the session.
create function api._my_cart(p_session text, p_lock boolean default false)
returns shop.cart
language plpgsql as $$
declare
    v_user_id uuid := shop.current_user_id();
    v_cart shop.cart;
    v_hash text;
begin
    if v_user_id is not null then
        select * into v_cart from shop.cart c
        where c.user_id = v_user_id and c.status = 'open' and c.expires_at > now();
    elsif p_session is not null then
        v_hash := api._session_hash(p_session);  -- once, not once per row a plan may visit
        select * into v_cart from shop.cart c
        where c.session_hash = v_hash and c.user_id is null and c.status = 'open'
          and c.expires_at > now();
    end if;
    if v_cart.cart_id is null then
        raise exception using errcode = 'MA404', constraint = 'cart_not_found',
            message = 'there is no open cart', hint = 'POST /api/v1/cart first';
    end if;
    if p_lock then
        -- A change is activity: the cart lives 30 more days.
        update shop.cart c set expires_at = greatest(c.expires_at, now() + interval '30 days')
        where c.cart_id = v_cart.cart_id;
    end if;
    return v_cart;
end
$$;

-- Raises MA422 unless the quantity is 1..=999 and, for stocked items without
-- backorder, within the available stock. Variants without an inventory row are not
-- stock-tracked.
create function api._check_cart_quantity(p_variant_id bigint, p_quantity integer)
returns void
language plpgsql stable as $$
declare
    v_available integer;
begin
    if p_quantity is null or p_quantity not between 1 and 999 then
        raise exception using errcode = 'MA422', constraint = 'cart_item_quantity_range',
            message = 'quantity must be between 1 and 999';
    end if;
    -- Parked units (stock slots, V34) are counted in qty_reserved but free.
    select i.qty_on_hand - i.qty_reserved + shop.stock_parked(i.variant_id) into v_available
    from shop.inventory i where i.variant_id = p_variant_id and not i.allow_backorder;
    if v_available is not null and p_quantity > v_available then
        raise exception using errcode = 'MA422', constraint = 'insufficient_stock',
            message = format('only %s left in stock', greatest(v_available, 0)),
            detail = json_build_object('available', greatest(v_available, 0))::text;
    end if;
end
$$;

-- Moves a guest cart's lines into a user's cart (see the merge rule at the top).
create function api._merge_cart(p_guest shop.cart, p_user_id uuid)
returns void
language plpgsql as $$
declare
    v_mine shop.cart;
begin
    select * into v_mine from shop.cart c where c.user_id = p_user_id and c.status = 'open' for update;
    if v_mine.cart_id is not null and v_mine.currency_code = p_guest.currency_code then
        insert into shop.cart_item (cart_id, variant_id, quantity)
        select v_mine.cart_id, g.variant_id, least(g.quantity, 999)
        from shop.cart_item g where g.cart_id = p_guest.cart_id
        on conflict (cart_id, variant_id) do update set quantity = least(
            shop.cart_item.quantity + excluded.quantity, 999,
            coalesce((select i.qty_on_hand - i.qty_reserved + shop.stock_parked(i.variant_id) from shop.inventory i
                      where i.variant_id = excluded.variant_id and not i.allow_backorder), 999));
        update shop.cart set coupon_code = coalesce(coupon_code, p_guest.coupon_code) where cart_id = v_mine.cart_id;
        update shop.cart set status = 'abandoned', merged_into = v_mine.cart_id, session_hash = null
        where cart_id = p_guest.cart_id;
    else
        update shop.cart set status = 'abandoned' where cart_id = v_mine.cart_id;
        update shop.cart set user_id = p_user_id, session_hash = null where cart_id = p_guest.cart_id;
    end if;
    perform api._audit('cart.merge', 'cart', p_guest.cart_id::text,
                       jsonb_build_object('into', coalesce(v_mine.cart_id, p_guest.cart_id)));
end
$$;

-- Opens (or returns) the caller's cart. A guest gets a new cart and its secret session
-- id (returned once, as "session"); a signed-in user presenting a guest session gets
-- the guest cart merged into theirs. Returns the quote, plus "session" for a new guest.
create function api.cart_open(p_currency char(3), p_session text default null, p_shipping_country char(2) default null)
returns json
language plpgsql security definer
set search_path = '' as $$
declare
    v_user_id uuid := shop.current_user_id();
    v_cart shop.cart;
    v_guest shop.cart;
    v_token text;
    v_hash text;
begin
    if p_shipping_country is not null and p_shipping_country !~ '^[A-Z]{2}$' then
        raise exception using errcode = 'MA422', constraint = 'invalid_country', message = 'shipping_country must be an ISO 3166 alpha-2 code';
    end if;
    if p_session is not null then
        v_hash := api._session_hash(p_session);  -- once, not once per row a plan may visit
        select * into v_guest from shop.cart c
        where c.session_hash = v_hash and c.user_id is null and c.status = 'open'
          and c.expires_at > now() for update;
    end if;
    if v_user_id is not null then
        -- An expired cart is closed so that a new one can open (one open cart per user).
        update shop.cart set status = 'abandoned'
        where user_id = v_user_id and status = 'open' and expires_at <= now();
        if v_guest.cart_id is not null then
            perform api._merge_cart(v_guest, v_user_id);
        end if;
        select * into v_cart from shop.cart c where c.user_id = v_user_id and c.status = 'open';
        if v_cart.cart_id is null then
            if not exists (select from shop.currency where code = p_currency) then
                raise exception using errcode = 'MA422', constraint = 'unknown_currency', message = 'unknown currency';
            end if;
            insert into shop.cart (user_id, currency_code, shipping_country)
            values (v_user_id, p_currency, p_shipping_country) returning * into v_cart;
        end if;
    elsif v_guest.cart_id is not null then
        v_cart := v_guest;
    else
        if not exists (select from shop.currency where code = p_currency) then
            raise exception using errcode = 'MA422', constraint = 'unknown_currency', message = 'unknown currency';
        end if;
        -- 244 random bits; only the hash is stored.
        v_token := replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
        insert into shop.cart (currency_code, session_hash, shipping_country)
        values (p_currency, api._session_hash(v_token), p_shipping_country) returning * into v_cart;
    end if;
    if p_shipping_country is not null and v_cart.shipping_country is distinct from p_shipping_country then
        update shop.cart set shipping_country = p_shipping_country where cart_id = v_cart.cart_id returning * into v_cart;
    end if;
    if v_token is null then
        return api._cart_quote(v_cart);
    end if;
    -- A new guest cart (an empty quote): the one place the quote is edited as jsonb.
    return (api._cart_quote(v_cart)::jsonb || jsonb_build_object('session', v_token))::json;
end
$$;
comment on function api.cart_open(char, text, char) is
    'Opens or returns the caller''s cart (guest: new session id returned once as "session"; signed in with a guest session: merge). Errors: MA422 unknown_currency, invalid_country.';

-- The caller's cart and its quote.
create function api.cart(p_session text default null)
returns json
language plpgsql stable security definer
set search_path = '' as $$
begin
    return api._cart_quote(api._my_cart(p_session));
end
$$;
comment on function api.cart(text) is 'The caller''s open cart with its full quote. Errors: MA404 cart_not_found.';

-- Adds a variant (or adds to its quantity) and returns the quote.
create function api.cart_add_item(p_variant_id bigint, p_quantity integer, p_session text default null)
returns json
language plpgsql security definer
set search_path = '' as $$
declare
    v_cart shop.cart := api._my_cart(p_session, true);
    v_existing integer;
begin
    if not exists (select from shop.product_variant v join shop.product p on p.product_id = v.product_id
                   where v.variant_id = p_variant_id and v.is_active and p.is_active) then
        raise exception using errcode = 'MA404', constraint = 'variant_not_found', message = 'no such variant for sale';
    end if;
    if not exists (select from api._unit_price(p_variant_id, v_cart.currency_code, 1, v_cart.user_id, now())) then
        raise exception using errcode = 'MA422', constraint = 'variant_not_priced',
            message = format('this item has no price in %s', v_cart.currency_code);
    end if;
    select quantity into v_existing from shop.cart_item where cart_id = v_cart.cart_id and variant_id = p_variant_id;
    if p_quantity is null or p_quantity < 1 then
        perform api._check_cart_quantity(p_variant_id, p_quantity);
    end if;
    perform api._check_cart_quantity(p_variant_id, coalesce(v_existing, 0) + p_quantity);
    insert into shop.cart_item (cart_id, variant_id, quantity) values (v_cart.cart_id, p_variant_id, p_quantity)
    on conflict (cart_id, variant_id) do update set quantity = shop.cart_item.quantity + excluded.quantity;
    update shop.cart set updated_at = now() where cart_id = v_cart.cart_id returning * into v_cart;
    return api._cart_quote(v_cart);
end
$$;
comment on function api.cart_add_item(bigint, integer, text) is
    'Adds a variant to the caller''s cart. Errors: MA404 cart_not_found / variant_not_found, MA422 cart_item_quantity_range / insufficient_stock / variant_not_priced.';

-- Sets a line's quantity and returns the quote.
create function api.cart_update_item(p_cart_item_id bigint, p_quantity integer, p_session text default null)
returns json
language plpgsql security definer
set search_path = '' as $$
declare
    v_cart shop.cart := api._my_cart(p_session, true);
    v_variant_id bigint;
begin
    select variant_id into v_variant_id from shop.cart_item
    where cart_item_id = p_cart_item_id and cart_id = v_cart.cart_id;
    if v_variant_id is null then
        raise exception using errcode = 'MA404', constraint = 'cart_item_not_found', message = 'no such item in your cart';
    end if;
    perform api._check_cart_quantity(v_variant_id, p_quantity);
    update shop.cart_item set quantity = p_quantity where cart_item_id = p_cart_item_id;
    return api._cart_quote(v_cart);
end
$$;
comment on function api.cart_update_item(bigint, integer, text) is
    'Sets the quantity of a line of the caller''s cart. Errors: MA404 cart_item_not_found, MA422 cart_item_quantity_range / insufficient_stock.';

create function api.cart_remove_item(p_cart_item_id bigint, p_session text default null)
returns json
language plpgsql security definer
set search_path = '' as $$
declare
    v_cart shop.cart := api._my_cart(p_session, true);
begin
    delete from shop.cart_item where cart_item_id = p_cart_item_id and cart_id = v_cart.cart_id;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'cart_item_not_found', message = 'no such item in your cart';
    end if;
    return api._cart_quote(v_cart);
end
$$;
comment on function api.cart_remove_item(bigint, text) is 'Removes a line from the caller''s cart. Errors: MA404 cart_item_not_found.';

-- Puts a coupon on the cart. A code that does not exist (404 coupon_not_found), or
-- cannot be used now — inactive, not started, expired, used up, used as often as this
-- customer may (422 coupon_<why>) — is refused and nothing is kept. A valid code whose
-- conditions the cart does not meet yet stays on the cart, and the quote's messages say
-- what is missing (the shopper may add the item). Guessing codes is throttled
-- (shop.setting cart.coupon_attempts_*: 30 attempts per 15 minutes per client address
-- by default, then 429); so that a refused attempt still counts, a refusal is returned
-- as {"error": {status, code, message, hint}} (the API answers it as a problem with
-- that status) rather than raised, which would roll the counter back.
create function api.cart_apply_coupon(p_code text, p_session text default null, p_client text default null)
returns json
language plpgsql security definer
set search_path = '' as $$
declare
    v_cart shop.cart := api._my_cart(p_session, true);
    v_code text := btrim(coalesce(p_code, ''));
    v_status text;
begin
    if length(v_code) not between 1 and 64 then
        raise exception using errcode = 'MA422', constraint = 'coupon_code_length',
            message = 'a coupon code has 1 to 64 characters';
    end if;
    perform api._rate_limit('cart_coupon:' || coalesce(p_client, v_cart.cart_id::text),
                            api._setting_int('cart.coupon_attempts_per_window')::integer,
                            api._setting_secs('cart.coupon_attempts_window_secs'));
    select s.status into v_status from api._coupon_status(v_code, v_cart.user_id, now()) s;
    if v_status is null then
        return json_build_object('error', json_build_object(
            'status', 404, 'code', 'coupon_not_found', 'message', 'no coupon has this code',
            'hint', 'Check the spelling; codes are not case-sensitive.'));
    end if;
    if v_status <> 'valid' then
        return json_build_object('error', json_build_object(
            'status', 422, 'code', 'coupon_' || v_status,
            'message', format('this coupon cannot be used: %s', case v_status
                when 'inactive' then 'it is switched off'
                when 'not_started' then 'it is not valid yet'
                when 'expired' then 'it has expired'
                when 'exhausted' then 'it has been used as often as allowed'
                when 'customer_limit_reached' then 'you have used it as often as allowed'
                else v_status end),
            'hint', null));
    end if;
    -- The stored spelling of the code.
    update shop.cart set coupon_code = (select c.code from shop.coupon c where lower(c.code) = lower(v_code))
    where cart_id = v_cart.cart_id returning * into v_cart;
    return api._cart_quote(v_cart);
end
$$;
comment on function api.cart_apply_coupon(text, text, text) is
    'Puts a valid coupon (case-insensitive) on the caller''s cart and returns the quote (whose messages say when its conditions are not met yet); an unknown or unusable code returns {"error": {status 404 coupon_not_found | 422 coupon_expired / coupon_not_started / coupon_inactive / coupon_exhausted / coupon_customer_limit_reached}} and keeps nothing, the attempt counted. Errors: MA404 cart_not_found, MA422 coupon_code_length, MA429 rate_limited.';

create function api.cart_remove_coupon(p_session text default null)
returns json
language plpgsql security definer
set search_path = '' as $$
declare
    v_cart shop.cart := api._my_cart(p_session, true);
begin
    update shop.cart set coupon_code = null where cart_id = v_cart.cart_id returning * into v_cart;
    return api._cart_quote(v_cart);
end
$$;
comment on function api.cart_remove_coupon(text) is 'Takes the coupon off the caller''s cart.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function api._session_hash(text) is 'Private: SHA-256 hex of a guest cart session id (only the hash is stored).';
comment on function api._my_cart(text, boolean) is 'Private: the caller''s open cart (signed-in user, or guest by session), optionally locked FOR UPDATE.';
comment on function api._check_cart_quantity(bigint, integer) is 'Private: MA422 unless the quantity is 1..999 and within available stock (or backorder allowed).';
comment on function api._merge_cart(shop.cart, uuid) is 'Private: merges a guest cart into the user''s cart at login (quantities summed and capped).';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Everyone, anonymous callers included (public on purpose):
grant execute on function
    api.cart_open(character,text,character),
    api.cart(text),
    api.cart_add_item(bigint,integer,text),
    api.cart_update_item(bigint,integer,text),
    api.cart_remove_item(bigint,text),
    api.cart_apply_coupon(text,text,text),
    api.cart_remove_coupon(text)
    to maef_anon, maef_customer, maef_staff, maef_admin;
