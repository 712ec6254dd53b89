-- Invoices and credit notes: paying an order issues its invoice (the deferred trigger
-- customer_order_invoice_at_commit of V35 calls api._issue_invoice as the paying
-- transaction commits), a refund that succeeds issues a credit note (api._refund_settle
-- calls api._issue_credit_note), each in the transaction of the change and numbered
-- without gaps per kind and year. What a document says (seller,
-- buyer, lines, tax per rate, totals) is copied at issue time and never changes
-- (migrations/V32__fulfilment.sql: the immutable trigger).
--
-- Why the numbers have no gaps: api._next_document_number updates the (kind, year)
-- counter row in the issuing transaction, which then inserts the document. The row lock
-- queues concurrent issuers; a transaction that rolls back (a payment whose recording
-- fails later, a deadlock victim) rolls its increment back with it, so the next issuer
-- gets the same number; the unique key (kind, year, sequence) makes a duplicate
-- impossible; and nothing can delete a document afterwards. A sequence would leave a
-- hole at every rollback (nextval is not transactional). The price is that issuers
-- take their numbers one at a time, each holding the row until its commit ends; hence
-- invoices are issued at commit (V35), and the document is built before the number is
-- taken, so the lock covers the numbering, one insert and the commit.
--
-- Errors: MA404 order_not_found / invoice_not_found; MA422 invalid_filter / invalid_limit.

-- The next number of a kind for this year, in the caller's transaction (held until it
-- ends): (year, sequence, number).
create function api._next_document_number(p_kind text, out doc_year integer, out doc_sequence integer,
                                           out doc_number text)
language plpgsql as $$
begin
    doc_year := extract(year from now() at time zone 'UTC')::integer;
    insert into shop.invoice_counter (kind, year) values (p_kind, doc_year) on conflict do nothing;
    update shop.invoice_counter c set last_number = c.last_number + 1
    where c.kind = p_kind and c.year = doc_year
    returning c.last_number into doc_sequence;
    doc_number := api._setting_text(case p_kind when 'invoice' then 'invoice.invoice_prefix'
                                                else 'invoice.credit_note_prefix' end)
                  || '-' || doc_year || '-' || lpad(doc_sequence::text, 6, '0');
end
$$;

-- The seller as printed (store policies invoice.*).
create function api._invoice_seller()
returns jsonb
language plpgsql stable as $$
begin
    return jsonb_build_object(
        'name', api._setting_text('invoice.seller_name'),
        'address', to_jsonb(array_remove(string_to_array(api._setting_text('invoice.seller_address'), '|'), '')),
        'tax_id', api._setting_text('invoice.seller_tax_id'),
        'registration', api._setting_text('invoice.seller_registration'));
end
$$;

-- The shipping's tax rate (basis points), from what the order kept.
create function api._shipping_rate_bp(o shop.customer_order)
returns integer
language plpgsql immutable as $$
declare
    v_net bigint := o.shipping_amount - case when o.prices_include_tax then o.shipping_tax_amount else 0 end;
begin
    return case when v_net > 0 then round(o.shipping_tax_amount * 10000.0 / v_net)::integer else 0 end;
end
$$;

-- Issues the invoice of a paid order (once; a second call returns the first). Owner
-- only: called by the deferred trigger customer_order_invoice_at_commit (V35) as the
-- payment's transaction commits. Everything but the number is computed first: the
-- counter stays locked from the numbering to the end of the commit.
create function api._issue_invoice(p_order_id uuid)
returns bigint
language plpgsql as $$
declare
    o shop.customer_order;
    n record;
    v_id bigint;
    v_lines jsonb;
    v_taxes jsonb;
    v_ship_rate integer;
    v_seller jsonb;
    v_locale text;
begin
    select * into o from shop.customer_order x where x.order_id = p_order_id;
    select i.invoice_id into v_id from shop.invoice i where i.order_id = p_order_id and i.kind = 'invoice';
    if v_id is not null then
        return v_id;
    end if;
    v_ship_rate := api._shipping_rate_bp(o);
    select jsonb_agg(jsonb_build_object(
               'sku', i.sku, 'title', i.product_title, 'variant', i.variant_name, 'quantity', i.quantity,
               'unit_price', i.unit_amount, 'subtotal', i.subtotal_amount, 'discount', i.discount_amount,
               'tax_rate_bp', i.tax_rate_bp, 'tax', i.tax_amount, 'total', i.total_amount) order by i.order_item_id)
    into v_lines from shop.order_item i where i.order_id = p_order_id;
    -- Per rate: the base without tax and the tax, lines and shipping together.
    select coalesce(jsonb_agg(jsonb_build_object('rate_bp', t.rate_bp, 'base', t.base, 'tax', t.tax) order by t.rate_bp), '[]')
    into v_taxes
    from (select x.rate_bp, sum(x.base)::bigint as base, sum(x.tax)::bigint as tax
          from (select i.tax_rate_bp as rate_bp,
                       i.total_amount - case when o.prices_include_tax then i.tax_amount else 0 end as base, i.tax_amount as tax
                from shop.order_item i where i.order_id = p_order_id
                union all
                select v_ship_rate, o.shipping_amount - case when o.prices_include_tax then o.shipping_tax_amount else 0 end,
                       o.shipping_tax_amount
                where o.shipping_amount > 0) x
          group by x.rate_bp) t;
    v_seller := api._invoice_seller();
    v_locale := api._email_locale(o.user_id);
    n := api._next_document_number('invoice');
    insert into shop.invoice (kind, year, sequence, number, order_id, locale, currency_code, prices_include_tax, seller,
                              buyer, lines, tax_breakdown, subtotal_amount, discount_amount, shipping_amount, tax_amount,
                              total_amount)
    values ('invoice', n.doc_year, n.doc_sequence, n.doc_number, o.order_id, v_locale, o.currency_code,
            o.prices_include_tax, v_seller,
            jsonb_build_object('email', o.email, 'address', coalesce(o.billing_address, o.shipping_address)),
            coalesce(v_lines, '[]'), v_taxes, o.subtotal_amount, o.discount_amount, o.shipping_amount, o.tax_amount,
            o.total_amount)
    returning invoice_id into v_id;
    perform api._order_timeline(o.order_id, 'invoice', null, 'issued', format('invoice %s issued', n.doc_number));
    perform api._emit_event('invoice.issued', 'invoice', v_id::text, jsonb_build_object(
        'invoice_id', v_id, 'number', n.doc_number, 'order_id', o.order_id, 'order_number', o.order_number,
        'currency', o.currency_code, 'total_amount', o.total_amount, 'tax_amount', o.tax_amount));
    return v_id;
end
$$;

-- Issues the credit note of a refund that succeeded (once per refund), when its order
-- has an invoice (money refunded from a payment never applied to an order has none).
-- Amounts are tax included: each refunded line's amount is split into base and tax at
-- the line's rate, the shipping at its rate; an amount given beyond the lines (a
-- goodwill refund) is one more line at the invoice's main rate.
create function api._issue_credit_note(p_refund_id bigint)
returns bigint
language plpgsql as $$
declare
    r shop.refund;
    o shop.customer_order;
    inv shop.invoice;
    n record;
    v_id bigint;
    v_parts jsonb := '[]';
    v_rest bigint;
    v_ship bigint := 0;
    v_main integer;
    v_taxes jsonb;
    v_tax bigint;
begin
    select * into r from shop.refund x where x.refund_id = p_refund_id;
    select * into o from shop.customer_order x where x.order_id = r.order_id;
    select * into inv from shop.invoice i where i.order_id = r.order_id and i.kind = 'invoice';
    if inv.invoice_id is null or exists (select from shop.invoice i where i.refund_id = p_refund_id) then
        return null;
    end if;
    select coalesce(jsonb_agg(jsonb_build_object(
               'sku', i.sku, 'title', i.product_title, 'variant', i.variant_name, 'quantity', ri.quantity,
               'tax_rate_bp', i.tax_rate_bp, 'total', ri.amount,
               'tax', round(ri.amount * i.tax_rate_bp / (10000.0 + i.tax_rate_bp))::bigint) order by i.order_item_id), '[]')
    into v_parts
    from shop.refund_item ri join shop.order_item i using (order_item_id) where ri.refund_id = p_refund_id;
    if r.shipping then
        v_ship := o.shipping_amount + case when o.prices_include_tax then 0 else o.shipping_tax_amount end;
        v_parts := v_parts || jsonb_build_array(jsonb_build_object(
            'sku', '', 'title', 'Shipping', 'variant', '', 'quantity', 1, 'tax_rate_bp', api._shipping_rate_bp(o),
            'total', v_ship, 'tax', o.shipping_tax_amount));
    end if;
    v_rest := r.amount - coalesce((select sum((p ->> 'total')::bigint) from jsonb_array_elements(v_parts) p), 0);
    if v_rest <> 0 then
        select coalesce((select (t ->> 'rate_bp')::integer from jsonb_array_elements(inv.tax_breakdown) t
                         order by (t ->> 'base')::bigint desc limit 1), 0) into v_main;
        v_parts := v_parts || jsonb_build_array(jsonb_build_object(
            'sku', '', 'title', 'Refund', 'variant', '', 'quantity', 1, 'tax_rate_bp', v_main, 'total', v_rest,
            'tax', round(v_rest * v_main / (10000.0 + v_main))::bigint));
    end if;
    select coalesce(jsonb_agg(jsonb_build_object('rate_bp', t.rate_bp, 'base', t.total - t.tax, 'tax', t.tax)
                              order by t.rate_bp), '[]'), coalesce(sum(t.tax), 0)
    into v_taxes, v_tax
    from (select (p ->> 'tax_rate_bp')::integer as rate_bp, sum((p ->> 'total')::bigint)::bigint as total,
                 sum((p ->> 'tax')::bigint)::bigint as tax
          from jsonb_array_elements(v_parts) p group by 1) t;
    n := api._next_document_number('credit_note');
    insert into shop.invoice (kind, year, sequence, number, order_id, refund_id, corrects_invoice_id, locale, currency_code,
                              prices_include_tax, seller, buyer, lines, tax_breakdown, subtotal_amount, discount_amount,
                              shipping_amount, tax_amount, total_amount)
    values ('credit_note', n.doc_year, n.doc_sequence, n.doc_number, o.order_id, r.refund_id, inv.invoice_id, inv.locale,
            r.currency_code, true, api._invoice_seller(), inv.buyer, v_parts, v_taxes, r.amount - v_ship, 0, v_ship, v_tax,
            r.amount)
    returning invoice_id into v_id;
    perform api._order_timeline(o.order_id, 'invoice', null, 'credit_note', format('credit note %s issued', n.doc_number));
    perform api._emit_event('credit_note.issued', 'invoice', v_id::text, jsonb_build_object(
        'invoice_id', v_id, 'number', n.doc_number, 'corrects', inv.number, 'refund_id', r.refund_id,
        'order_id', o.order_id, 'order_number', o.order_number, 'currency', r.currency_code, 'total_amount', r.amount,
        'tax_amount', v_tax));
    return v_id;
end
$$;

-- A document as JSON, with every amount also formatted for printing.
create function api._invoice_json(i shop.invoice)
returns jsonb
language plpgsql stable as $$
declare
    v_exp integer;
begin
    select c.exponent into v_exp from shop.currency c where c.code = i.currency_code;
    return jsonb_build_object(
        'number', i.number, 'kind', i.kind, 'year', i.year, 'sequence', i.sequence, 'issued_at', i.issued_at,
        'locale', i.locale, 'currency', i.currency_code, 'exponent', v_exp, 'prices_include_tax', i.prices_include_tax,
        'order_number', (select o.order_number from shop.customer_order o where o.order_id = i.order_id),
        'corrects', (select c.number from shop.invoice c where c.invoice_id = i.corrects_invoice_id),
        'seller', i.seller, 'buyer', i.buyer,
        'lines', coalesce((select jsonb_agg(l || jsonb_build_object(
                               'unit_price_formatted', case when l ? 'unit_price'
                                   then maef.format_money((l ->> 'unit_price')::bigint, v_exp, i.currency_code) end,
                               'tax_formatted', maef.format_money((l ->> 'tax')::bigint, v_exp, i.currency_code),
                               'total_formatted', maef.format_money((l ->> 'total')::bigint, v_exp, i.currency_code)))
                           from jsonb_array_elements(i.lines) l), '[]'),
        'tax_breakdown', coalesce((select jsonb_agg(t || jsonb_build_object(
                               'base_formatted', maef.format_money((t ->> 'base')::bigint, v_exp, i.currency_code),
                               'tax_formatted', maef.format_money((t ->> 'tax')::bigint, v_exp, i.currency_code)))
                           from jsonb_array_elements(i.tax_breakdown) t), '[]'),
        'subtotal', i.subtotal_amount, 'discount_total', i.discount_amount, 'shipping_total', i.shipping_amount,
        'tax_total', i.tax_amount, 'total', i.total_amount,
        'formatted', jsonb_build_object(
            'subtotal', maef.format_money(i.subtotal_amount, v_exp, i.currency_code),
            'discount_total', maef.format_money(i.discount_amount, v_exp, i.currency_code),
            'shipping_total', maef.format_money(i.shipping_amount, v_exp, i.currency_code),
            'tax_total', maef.format_money(i.tax_amount, v_exp, i.currency_code),
            'total', maef.format_money(i.total_amount, v_exp, i.currency_code)));
end
$$;

-- The order a reader may see: staff (orders:read:any) any, else its customer or a guest
-- with its token.
create function api._order_for_reader(p_number text, p_token text)
returns shop.customer_order
language plpgsql stable as $$
begin
    if shop.has_scope('orders:read:any') then
        return api._order_by_number(p_number, false);
    end if;
    return api._order_for_payer(p_number, p_token, false);
end
$$;

-- An order's invoice, or one of its documents by number (a credit note), for its
-- customer, a guest with its token, or staff.
create function api.order_invoice(p_number text, p_token text default null, p_document text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    o shop.customer_order := api._order_for_reader(p_number, p_token);
    i shop.invoice;
begin
    select * into i from shop.invoice x
    where x.order_id = o.order_id and (case when p_document is null then x.kind = 'invoice' else x.number = p_document end);
    if i.invoice_id is null then
        raise exception using errcode = 'MA404', constraint = 'invoice_not_found',
            message = case when p_document is null then 'this order has no invoice yet (it is issued when the order is paid)'
                           else 'no such document for this order' end;
    end if;
    return api._invoice_json(i);
end
$$;
comment on function api.order_invoice(text, text, text) is
    'An order''s invoice (or a document of it by number) for its customer, a guest with the token, or staff. Errors: MA404 order_not_found / invoice_not_found.';

-- An order's documents (invoice and credit notes), oldest first: {items}.
create function api.order_documents(p_number text, p_token text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    o shop.customer_order := api._order_for_reader(p_number, p_token);
begin
    return jsonb_build_object('items', coalesce((select jsonb_agg(jsonb_build_object(
            'number', i.number, 'kind', i.kind, 'issued_at', i.issued_at, 'currency', i.currency_code,
            'total', i.total_amount, 'tax_total', i.tax_amount) order by i.invoice_id)
        from shop.invoice i where i.order_id = o.order_id), '[]'));
end
$$;
comment on function api.order_documents(text, text) is
    'An order''s invoice and credit notes for its customer, a guest with the token, or staff. Errors: MA404 order_not_found.';

-- Documents for the accountant, by number: {"kind"?, "year"?, "limit"?, "after"?
-- (the last number seen)}.
create function api.admin_list_invoices(p_filter jsonb default '{}')
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    f jsonb := coalesce(p_filter, '{}');
    v_limit integer;
    v_year integer;
    v_items jsonb;
begin
    perform api._require_scope('orders:read:any');
    perform api._reject_unknown(f, '$', array['kind', 'year', 'limit', 'after']);
    if f ->> 'kind' is not null and f ->> 'kind' not in ('invoice', 'credit_note') then
        raise exception using errcode = 'MA422', constraint = 'invalid_filter', message = 'kind is invoice or credit_note',
            detail = '$.kind';
    end if;
    begin
        v_limit := api._check_limit((f ->> 'limit')::integer);
        v_year := (f ->> 'year')::integer;
    exception when invalid_text_representation or numeric_value_out_of_range then
        raise exception using errcode = 'MA422', constraint = 'invalid_filter', message = 'limit and year are whole numbers';
    end;
    select coalesce(jsonb_agg(jsonb_build_object(
               'number', x.number, 'kind', x.kind, 'year', x.year, 'sequence', x.sequence, 'issued_at', x.issued_at,
               'order_number', (select o.order_number from shop.customer_order o where o.order_id = x.order_id),
               'currency', x.currency_code, 'total', x.total_amount, 'tax_total', x.tax_amount) order by x.number), '[]')
    into v_items
    from (select * from shop.invoice i
          where (f ->> 'kind' is null or i.kind = f ->> 'kind') and (v_year is null or i.year = v_year)
            and (f ->> 'after' is null or i.number > f ->> 'after')
          order by i.number limit v_limit) x;
    return jsonb_build_object('items', v_items, 'next_cursor',
        case when jsonb_array_length(v_items) = v_limit then v_items -> -1 ->> 'number' end);
end
$$;
comment on function api.admin_list_invoices(jsonb) is
    'Invoices and credit notes by number {kind?, year?, limit?, after?}: {items, next_cursor}. Needs orders:read:any. Errors: MA422 invalid_filter / invalid_limit / invalid_field.';

-- ---------------------------------------------------------------- reports (psql)

-- Numbering per kind and year: issued, first, last, and whether any number is missing
-- or repeated (what an auditor asks; it must always say gapless).
create view report.invoice_numbering as
select i.kind, i.year, count(*) as issued, min(i.sequence) as first, max(i.sequence) as last,
       count(distinct i.sequence) as distinct_numbers,
       (min(i.sequence) = 1 and max(i.sequence) = count(*) and count(distinct i.sequence) = count(*)) as gapless,
       (select c.last_number from shop.invoice_counter c where c.kind = i.kind and c.year = i.year) as counter
from shop.invoice i
group by i.kind, i.year
order by i.year, i.kind;
comment on view report.invoice_numbering is 'Per document kind and year: numbers issued, first, last, and whether they run 1..n without a gap or repeat.';

comment on function api._next_document_number(text) is 'Private: the next gapless number of a document kind this year (the counter row stays locked until the transaction ends).';
comment on function api._invoice_seller() is 'Private: the seller printed on documents (invoice.* settings).';
comment on function api._shipping_rate_bp(shop.customer_order) is 'Private: the shipping''s tax rate from what the order kept.';
comment on function api._issue_invoice(uuid) is 'Private: issues a paid order''s invoice once (gapless number, immutable copy).';
comment on function api._issue_credit_note(bigint) is 'Private: issues a succeeded refund''s credit note once (gapless number).';
comment on function api._invoice_json(shop.invoice) is 'Private: a document as JSON with formatted amounts.';
comment on function api._order_for_reader(text, text) is 'Private: the order for staff, its customer or a guest with its token.';

-- ---------------------------------------------------------------- who may call these
-- Everyone, anonymous callers included (public on purpose: a guest reads their invoice
-- with the order's token; each function checks the caller itself):
grant execute on function
    api.order_invoice(text,text,text),
    api.order_documents(text,text)
    to maef_anon, maef_customer, maef_staff, maef_admin;
grant execute on function api.admin_list_invoices(jsonb) to maef_staff, maef_admin;
grant select on report.invoice_numbering to maef_staff, maef_admin;
