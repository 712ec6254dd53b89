-- The shop's reports (schema report): the daily questions of a shop owner, answered in
-- psql and, the same answers, over HTTP (GET /api/v1/admin/reports/{name}, reports:read).
--
--   \dv+ report.*   views: no parameters (abandoned carts, stock value, retention…)
--   \df+ report.*   functions: a date range (p_from, p_to: inclusive UTC dates; default
--                   the last 30 days), often a currency (p_currency, default all), and
--                   for sales the grain (p_grain: day, week, month)
--
-- Report functions are SECURITY DEFINER (they read orders past row-level security, as
-- the views do for their owner) and granted, like the views, to the staff roles. A
-- DBA or a shop owner with a maef_staff login calls them from psql; the API checks
-- reports:read before calling them (api.admin_report).
--
-- "Sales" are placed orders that were paid (payment_status paid, partially_refunded or
-- refunded), counted on the day they were placed (UTC); refunds on the day they
-- succeeded. Amounts are minor units of each currency, never mixed: every amount
-- column goes with a currency column.
--
-- Heavy reports read materialized views (names starting with _, not reports
-- themselves) holding the complete days before their last refresh; the day of the
-- refresh and later are computed live from the orders, so a report is never staler
-- than the last refresh for past days and always live for today. The views are
-- refreshed concurrently by the scheduled refresh_materialized_views job (every 5
-- minutes) — an order paid late for an earlier day shows within 5 minutes.

-- ---------------------------------------------------------------- materialized views

-- Paid orders per day and currency, for the days before the refresh (through).
create materialized view report._sales_daily as
with orders as (
    select o.order_id, (o.placed_at at time zone 'UTC')::date as day, o.currency_code,
           o.subtotal_amount, o.discount_amount, o.shipping_amount, o.tax_amount, o.total_amount
    from shop.customer_order o
    where o.payment_status in ('paid', 'partially_refunded', 'refunded')
      and o.placed_at < date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
)
select o.day, o.currency_code, count(*)::bigint as orders,
       coalesce(sum(u.units), 0)::bigint as units,
       sum(o.subtotal_amount)::bigint as gross, sum(o.discount_amount)::bigint as discounts,
       sum(o.shipping_amount)::bigint as shipping, sum(o.tax_amount)::bigint as tax,
       sum(o.total_amount)::bigint as total,
       (date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') as through
from orders o
left join lateral (select sum(i.quantity) as units from shop.order_item i where i.order_id = o.order_id) u on true
group by o.day, o.currency_code;
create unique index _sales_daily_key on report._sales_daily (day, currency_code);
comment on materialized view report._sales_daily is
    'Private (read by report.sales): paid orders per UTC day and currency before "through" (the day of the last refresh).';

-- Paid order lines per day, currency and product, with the orders refunded since.
create materialized view report._product_sales_daily as
select (o.placed_at at time zone 'UTC')::date as day, o.currency_code, coalesce(i.product_id, 0) as product_id,
       count(distinct o.order_id)::bigint as orders,
       count(distinct o.order_id) filter (where o.payment_status in ('partially_refunded', 'refunded'))::bigint as refunded_orders,
       sum(i.quantity)::bigint as units, sum(i.subtotal_amount)::bigint as gross,
       sum(i.discount_amount)::bigint as discounts, sum(i.total_amount)::bigint as net,
       (date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') as through
from shop.customer_order o
join shop.order_item i on i.order_id = o.order_id
where o.payment_status in ('paid', 'partially_refunded', 'refunded')
  and o.placed_at < date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
group by 1, 2, 3;
create unique index _product_sales_daily_key on report._product_sales_daily (day, currency_code, product_id);
comment on materialized view report._product_sales_daily is
    'Private (read by report.sales_by_*, report.refund_rate_by_product): paid order lines per UTC day, currency and product (0: unknown) before "through".';

-- Promotions applied to paid orders per day, currency, promotion and coupon code ('':
-- automatic, no coupon).
create materialized view report._promotion_sales_daily as
select (o.placed_at at time zone 'UTC')::date as day, o.currency_code,
       (p ->> 'promotion_id')::bigint as promotion_id, max(p ->> 'name') as promotion_name,
       coalesce(case when c.promotion_id = (p ->> 'promotion_id')::bigint then o.coupon_code end, '') as coupon_code,
       count(distinct o.order_id)::bigint as uses, sum((p ->> 'amount')::bigint)::bigint as discount,
       sum(o.total_amount)::bigint as revenue,
       (date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') as through
from shop.customer_order o
cross join lateral jsonb_array_elements(o.promotions) p
left join shop.coupon c on c.coupon_id = o.coupon_id
where o.payment_status in ('paid', 'partially_refunded', 'refunded')
  and o.placed_at < date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
group by 1, 2, 3, 5;
create unique index _promotion_sales_daily_key on report._promotion_sales_daily (day, currency_code, promotion_id, coupon_code);
comment on materialized view report._promotion_sales_daily is
    'Private (read by report.sales_by_coupon and report.sales_by_promotion): promotions of paid orders per UTC day, currency, promotion and coupon code before "through".';

-- Paid orders per customer (account, or guest by e-mail) and currency: first order,
-- count, total, for the orders placed before the refresh.
create materialized view report._customer_orders as
select coalesce(o.user_id::text, lower(o.email)) as customer, o.currency_code, min(o.user_id::text)::uuid as user_id,
       max(o.email) as email, min(o.placed_at) as first_at, max(o.placed_at) as last_at, count(*)::bigint as orders,
       sum(o.total_amount)::bigint as revenue,
       (date_trunc('day', now() at time zone 'UTC') at time zone 'UTC') as through
from shop.customer_order o
where o.payment_status in ('paid', 'partially_refunded', 'refunded')
  and o.placed_at < date_trunc('day', now() at time zone 'UTC') at time zone 'UTC'
group by 1, 2;
create unique index _customer_orders_key on report._customer_orders (customer, currency_code);
create index _customer_orders_revenue_idx on report._customer_orders (currency_code, revenue desc);
comment on materialized view report._customer_orders is
    'Private (read by report.customers and report.top_customers): paid orders per customer (account id, or guest e-mail) and currency before "through": first and last order, count, total.';

-- ---------------------------------------------------------------- helpers

-- The UTC instant a date range starts and the one it ends (p_to inclusive).
create function report._bounds(p_from date, p_to date, out lo timestamptz, out hi timestamptz)
language plpgsql immutable as $$
begin
    if p_from > p_to then
        raise exception using errcode = 'MA422', constraint = 'invalid_range', message = 'from is after to';
    end if;
    lo := p_from::timestamp at time zone 'UTC';
    hi := (p_to + 1)::timestamp at time zone 'UTC';
end
$$;

-- Where a materialized view's days end: the refresh's day, or -infinity when empty.
create function report._through(p_view regclass)
returns timestamptz
language plpgsql stable as $$
declare
    v timestamptz;
begin
    execute format('select max(through) from %s', p_view) into v;
    return coalesce(v, '-infinity');
end
$$;

-- Sales per product in a range: the materialized days plus the live ones.
create function report._product_sales(p_from date, p_to date, p_currency text)
returns table (currency_code char(3), product_id bigint, orders bigint, refunded_orders bigint, units bigint,
               gross bigint, discounts bigint, net bigint)
language plpgsql stable as $$
declare
    b record;
    v_through timestamptz := report._through('report._product_sales_daily');
begin
    select * into b from report._bounds(p_from, p_to);
    return query
    select x.currency_code, x.product_id, sum(x.orders)::bigint, sum(x.refunded_orders)::bigint, sum(x.units)::bigint,
           sum(x.gross)::bigint, sum(x.discounts)::bigint, sum(x.net)::bigint
    from (select d.currency_code, d.product_id, d.orders, d.refunded_orders, d.units, d.gross, d.discounts, d.net
          from report._product_sales_daily d
          where d.day between p_from and p_to and (p_currency is null or d.currency_code = p_currency)
          union all
          select o.currency_code, coalesce(i.product_id, 0), count(distinct o.order_id),
                 count(distinct o.order_id) filter (where o.payment_status in ('partially_refunded', 'refunded')),
                 sum(i.quantity), sum(i.subtotal_amount), sum(i.discount_amount), sum(i.total_amount)
          from shop.customer_order o join shop.order_item i on i.order_id = o.order_id
          where o.placed_at >= greatest(b.lo, v_through) and o.placed_at < b.hi
            and o.payment_status in ('paid', 'partially_refunded', 'refunded')
            and (p_currency is null or o.currency_code = p_currency)
          group by 1, 2) x
    group by x.currency_code, x.product_id;
end
$$;

-- A currency code argument: null (all), or a known currency.
create function report._currency(p_currency text)
returns char(3)
language plpgsql stable as $$
begin
    if p_currency is not null and not exists (select from shop.currency c where c.code = upper(p_currency)) then
        raise exception using errcode = 'MA422', constraint = 'invalid_currency',
            message = format('unknown currency %L', p_currency);
    end if;
    return upper(p_currency);
end
$$;

-- ---------------------------------------------------------------- sales

-- Sales per day, week (ISO, from Monday) or month and currency.
create function report.sales(p_from date default current_date - 30, p_to date default current_date,
                             p_currency text default null, p_grain text default 'day')
returns table (period date, currency char(3), orders bigint, units bigint, gross bigint, discounts bigint,
               shipping bigint, tax bigint, total bigint, refunds bigint, net bigint)
language plpgsql stable security definer
set search_path = '' as $$
declare
    b record;
    v_currency char(3) := report._currency(p_currency);
    v_through timestamptz := report._through('report._sales_daily');
begin
    perform api._require_one_of('grain', p_grain, array['day', 'week', 'month']);
    select * into b from report._bounds(p_from, p_to);
    return query
    with days as (
        select d.day, d.currency_code, d.orders, d.units, d.gross, d.discounts, d.shipping, d.tax, d.total,
               0::bigint as refunds
        from report._sales_daily d
        where d.day between p_from and p_to and (v_currency is null or d.currency_code = v_currency)
        union all
        select (o.placed_at at time zone 'UTC')::date, o.currency_code, count(*),
               coalesce(sum((select sum(i.quantity) from shop.order_item i where i.order_id = o.order_id)), 0),
               sum(o.subtotal_amount), sum(o.discount_amount), sum(o.shipping_amount), sum(o.tax_amount),
               sum(o.total_amount), 0
        from shop.customer_order o
        where o.placed_at >= greatest(b.lo, v_through) and o.placed_at < b.hi
          and o.payment_status in ('paid', 'partially_refunded', 'refunded')
          and (v_currency is null or o.currency_code = v_currency)
        group by 1, 2
        union all
        select (r.created_at at time zone 'UTC')::date, r.currency_code, 0, 0, 0, 0, 0, 0, 0, sum(r.amount)
        from shop.refund r
        where r.created_at >= b.lo and r.created_at < b.hi and r.status = 'succeeded'
          and (v_currency is null or r.currency_code = v_currency)
        group by 1, 2
    )
    select date_trunc(p_grain, d.day::timestamp)::date, d.currency_code::char(3), sum(d.orders)::bigint, sum(d.units)::bigint,
           sum(d.gross)::bigint, sum(d.discounts)::bigint, sum(d.shipping)::bigint, sum(d.tax)::bigint,
           sum(d.total)::bigint, sum(d.refunds)::bigint, (sum(d.total) - sum(d.refunds))::bigint
    from days d
    group by 1, 2
    order by 1, 2;
end
$$;
comment on function report.sales(date, date, text, text) is
    'Sales per day|week|month (p_grain) and currency between p_from and p_to (inclusive UTC dates): paid orders, units, gross (line subtotals), discounts, shipping, tax, total (what customers paid), refunds (succeeded, on their day), net = total - refunds. Minor units.';

-- Sales per product.
create function report.sales_by_product(p_from date default current_date - 30, p_to date default current_date,
                                        p_currency text default null)
returns table (product_id bigint, product text, sku_root text, category text, brand text, currency char(3),
               orders bigint, units bigint, gross bigint, discounts bigint, net bigint)
language sql stable security definer
set search_path = '' as $$
    select s.product_id, p.title, p.sku_root, c.slug, p.brand, s.currency_code, s.orders, s.units, s.gross,
           s.discounts, s.net
    from report._product_sales(p_from, p_to, report._currency(p_currency)) s
    left join shop.product p on p.product_id = s.product_id
    left join shop.category c on c.category_id = p.category_id
    order by s.currency_code, s.net desc, s.product_id
$$;
comment on function report.sales_by_product(date, date, text) is
    'Sales per product and currency between p_from and p_to: paid orders containing it, units, gross (line subtotals), discounts, net (line totals). Best first.';

-- Sales per category (the product's category today; products without one: null).
create function report.sales_by_category(p_from date default current_date - 30, p_to date default current_date,
                                         p_currency text default null)
returns table (category text, category_name text, currency char(3), products bigint, units bigint, gross bigint,
               discounts bigint, net bigint)
language sql stable security definer
set search_path = '' as $$
    select c.slug, c.name, s.currency_code, count(*)::bigint, sum(s.units)::bigint, sum(s.gross)::bigint,
           sum(s.discounts)::bigint, sum(s.net)::bigint
    from report._product_sales(p_from, p_to, report._currency(p_currency)) s
    left join shop.product p on p.product_id = s.product_id
    left join shop.category c on c.category_id = p.category_id
    group by c.slug, c.name, s.currency_code
    order by s.currency_code, sum(s.net) desc, c.slug
$$;
comment on function report.sales_by_category(date, date, text) is
    'Sales per category (the product''s current category) and currency between p_from and p_to: products sold, units, gross, discounts, net.';

-- Sales per brand.
create function report.sales_by_brand(p_from date default current_date - 30, p_to date default current_date,
                                      p_currency text default null)
returns table (brand text, currency char(3), products bigint, units bigint, gross bigint, discounts bigint, net bigint)
language sql stable security definer
set search_path = '' as $$
    select p.brand, s.currency_code, count(*)::bigint, sum(s.units)::bigint, sum(s.gross)::bigint,
           sum(s.discounts)::bigint, sum(s.net)::bigint
    from report._product_sales(p_from, p_to, report._currency(p_currency)) s
    left join shop.product p on p.product_id = s.product_id
    group by p.brand, s.currency_code
    order by s.currency_code, sum(s.net) desc, p.brand
$$;
comment on function report.sales_by_brand(date, date, text) is
    'Sales per brand and currency between p_from and p_to: products sold, units, gross, discounts, net.';

-- Promotions in a range: the materialized days plus the live ones.
create function report._promotion_sales(p_from date, p_to date, p_currency text)
returns table (currency_code char(3), promotion_id bigint, promotion_name text, coupon_code text, uses bigint,
               discount bigint, revenue bigint)
language plpgsql stable as $$
declare
    b record;
    v_through timestamptz := report._through('report._promotion_sales_daily');
begin
    select * into b from report._bounds(p_from, p_to);
    return query
    select x.currency_code, x.promotion_id, max(x.promotion_name), x.coupon_code, sum(x.uses)::bigint,
           sum(x.discount)::bigint, sum(x.revenue)::bigint
    from (select d.currency_code, d.promotion_id, d.promotion_name, d.coupon_code, d.uses, d.discount, d.revenue
          from report._promotion_sales_daily d
          where d.day between p_from and p_to and (p_currency is null or d.currency_code = p_currency)
          union all
          select o.currency_code, (p ->> 'promotion_id')::bigint, max(p ->> 'name'),
                 coalesce(case when c.promotion_id = (p ->> 'promotion_id')::bigint then o.coupon_code end, ''),
                 count(distinct o.order_id), sum((p ->> 'amount')::bigint), sum(o.total_amount)
          from shop.customer_order o
          cross join lateral jsonb_array_elements(o.promotions) p
          left join shop.coupon c on c.coupon_id = o.coupon_id
          where o.placed_at >= greatest(b.lo, v_through) and o.placed_at < b.hi
            and o.payment_status in ('paid', 'partially_refunded', 'refunded')
            and (p_currency is null or o.currency_code = p_currency)
          group by 1, 2, 4) x
    group by x.currency_code, x.promotion_id, x.coupon_code;
end
$$;

-- Coupons: uses, discount given, revenue of the orders using them.
create function report.sales_by_coupon(p_from date default current_date - 30, p_to date default current_date,
                                       p_currency text default null)
returns table (coupon_code text, promotion_id bigint, promotion text, currency char(3), uses bigint, discount bigint,
               revenue bigint)
language sql stable security definer
set search_path = '' as $$
    select s.coupon_code, s.promotion_id, coalesce(pr.name, s.promotion_name), s.currency_code, s.uses, s.discount, s.revenue
    from report._promotion_sales(p_from, p_to, report._currency(p_currency)) s
    left join shop.promotion pr on pr.promotion_id = s.promotion_id
    where s.coupon_code <> ''
    order by s.currency_code, s.revenue desc, s.coupon_code
$$;
comment on function report.sales_by_coupon(date, date, text) is
    'Coupons used by paid orders between p_from and p_to, per currency: uses (orders), discount given by the coupon''s promotion, revenue (totals of those orders).';

-- Promotions (automatic or by coupon): uses, discount given, revenue.
create function report.sales_by_promotion(p_from date default current_date - 30, p_to date default current_date,
                                          p_currency text default null)
returns table (promotion_id bigint, promotion text, currency char(3), uses bigint, coupon_uses bigint, discount bigint,
               revenue bigint)
language sql stable security definer
set search_path = '' as $$
    select s.promotion_id, coalesce(max(pr.name), max(s.promotion_name)), s.currency_code, sum(s.uses)::bigint,
           (sum(s.uses) filter (where s.coupon_code <> ''))::bigint, sum(s.discount)::bigint, sum(s.revenue)::bigint
    from report._promotion_sales(p_from, p_to, report._currency(p_currency)) s
    left join shop.promotion pr on pr.promotion_id = s.promotion_id
    group by s.promotion_id, s.currency_code
    order by s.currency_code, sum(s.revenue) desc, s.promotion_id
$$;
comment on function report.sales_by_promotion(date, date, text) is
    'Promotions applied to paid orders between p_from and p_to, per currency: uses (orders), of which by coupon, discount given, revenue (totals of those orders).';

-- ---------------------------------------------------------------- funnel

-- The funnel of days still holding their carts, computed from the rows.
create function report._funnel_live(p_from date, p_to date)
returns table (day date, carts_created integer, carts_with_items integer, checkouts integer, paid_orders integer)
language sql stable as $$
    with days as (select d::date as day from generate_series(p_from::timestamp, p_to::timestamp, interval '1 day') d),
    carts as (
        select (c.created_at at time zone 'UTC')::date as day, count(*) as created,
               count(*) filter (where c.status = 'converted'
                                   or exists (select from shop.cart_item i where i.cart_id = c.cart_id)) as with_items
        from shop.cart c
        where c.created_at >= p_from::timestamp at time zone 'UTC' and c.created_at < (p_to + 1)::timestamp at time zone 'UTC'
        group by 1),
    orders as (
        select (o.placed_at at time zone 'UTC')::date as day, count(*) as checkouts,
               count(*) filter (where o.payment_status in ('paid', 'partially_refunded', 'refunded')) as paid
        from shop.customer_order o
        where o.placed_at >= p_from::timestamp at time zone 'UTC' and o.placed_at < (p_to + 1)::timestamp at time zone 'UTC'
        group by 1)
    select d.day, coalesce(c.created, 0)::integer, coalesce(c.with_items, 0)::integer,
           coalesce(o.checkouts, 0)::integer, coalesce(o.paid, 0)::integer
    from days d left join carts c using (day) left join orders o using (day)
$$;

-- The funnel per day: recorded days (shop.funnel_day, written before abandoned carts
-- are deleted) and live ones.
create function report.funnel(p_from date default current_date - 30, p_to date default current_date)
returns table (day date, carts_created integer, carts_with_items integer, checkouts integer, paid_orders integer,
               cart_to_checkout numeric, checkout_to_paid numeric)
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_recorded_until date;
begin
    perform report._bounds(p_from, p_to);
    select max(f.day) into v_recorded_until from shop.funnel_day f;
    return query
    select x.day, x.carts_created, x.carts_with_items, x.checkouts, x.paid_orders,
           round(x.checkouts::numeric / nullif(x.carts_with_items, 0), 4),
           round(x.paid_orders::numeric / nullif(x.checkouts, 0), 4)
    from (select f.day, f.carts_created, f.carts_with_items, f.checkouts, f.paid_orders
          from shop.funnel_day f where f.day between p_from and p_to
          union all
          select l.day, l.carts_created, l.carts_with_items, l.checkouts, l.paid_orders
          from report._funnel_live(greatest(p_from, coalesce(v_recorded_until + 1, p_from)), p_to) l
          where v_recorded_until is null or l.day > v_recorded_until) x
    order by x.day;
end
$$;
comment on function report.funnel(date, date) is
    'Per UTC day between p_from and p_to: carts created, carts with items (or converted), checkouts (orders placed), paid orders, and the rates cart→checkout and checkout→paid. Past days come from shop.funnel_day (recorded before carts are deleted).';

-- Records the funnel of the finished days not yet recorded (the retention job runs it
-- before deleting abandoned carts). Returns the days recorded.
create function report._record_funnel_days()
returns integer
language plpgsql as $$
declare
    v_from date;
    v_to date := (now() at time zone 'UTC')::date - 1;
    v_count integer;
begin
    select coalesce(max(f.day) + 1,
                    least((select min(c.created_at at time zone 'UTC')::date from shop.cart c),
                          (select min(o.placed_at at time zone 'UTC')::date from shop.customer_order o)))
    into v_from from shop.funnel_day f;
    if v_from is null or v_from > v_to then
        return 0;
    end if;
    insert into shop.funnel_day (day, carts_created, carts_with_items, checkouts, paid_orders)
    select l.day, l.carts_created, l.carts_with_items, l.checkouts, l.paid_orders from report._funnel_live(v_from, v_to) l
    on conflict (day) do nothing;
    get diagnostics v_count = row_count;
    return v_count;
end
$$;

-- ---------------------------------------------------------------- carts and stock

-- Open carts with items, untouched for reports.abandoned_after_minutes: value at
-- today's prices, age, customer or guest.
create view report.abandoned_carts as
select c.cart_id, c.currency_code as currency, u.email as customer_email, c.user_id is null as guest,
       count(i.cart_item_id) as lines, sum(i.quantity)::bigint as units,
       sum(i.quantity * pr.amount)::bigint as value, c.created_at, c.updated_at as last_activity_at,
       now() - c.updated_at as age
from shop.cart c
join shop.cart_item i on i.cart_id = c.cart_id
left join shop.app_user u on u.user_id = c.user_id and u.erased_at is null
left join lateral (
    select coalesce(
        (select p.amount from shop.price p where p.variant_id = i.variant_id and p.currency_code = c.currency_code
           and tstzrange(p.starts_at, p.ends_at) @> now() limit 1),
        (select p.amount from shop.price p join shop.product_variant v on v.product_id = p.product_id
         where v.variant_id = i.variant_id and p.variant_id is null and p.currency_code = c.currency_code
           and tstzrange(p.starts_at, p.ends_at) @> now() limit 1)) as amount) pr on true
where c.status = 'open'
  and c.updated_at < now() - make_interval(mins => (select (s.value)::text::integer from shop.setting s
                                                    where s.key = 'reports.abandoned_after_minutes'))
group by c.cart_id, u.email
order by value desc nulls last, c.updated_at;
comment on view report.abandoned_carts is
    'Open carts with items untouched for reports.abandoned_after_minutes: lines, units, value at today''s prices (minor units of the cart''s currency; null when an item has no price), customer e-mail (null for guests), age. Deleted after privacy.abandoned_cart_days.';

-- Units on hand per location, valued at today's selling prices (the catalogue keeps no
-- cost price), per currency.
create view report.stock_value as
select s.code as location, s.name as location_name, pr.currency_code as currency,
       count(distinct l.variant_id) as variants, sum(greatest(l.qty_on_hand, 0))::bigint as units,
       sum(greatest(l.qty_on_hand, 0)::bigint * pr.amount)::bigint as value
from shop.stock_level l
join shop.stock_location s using (stock_location_id)
join shop.product_variant v on v.variant_id = l.variant_id
cross join lateral (
    select c.code as currency_code,
           coalesce((select p.amount from shop.price p where p.variant_id = v.variant_id and p.currency_code = c.code
                       and tstzrange(p.starts_at, p.ends_at) @> now() limit 1),
                    (select p.amount from shop.price p where p.product_id = v.product_id and p.variant_id is null
                       and p.currency_code = c.code and tstzrange(p.starts_at, p.ends_at) @> now() limit 1)) as amount
    from shop.currency c) pr
where pr.amount is not null
group by s.code, s.name, pr.currency_code
order by s.code, pr.currency_code;
comment on view report.stock_value is
    'Per stock location and currency: variants, units on hand and their value at today''s selling prices (minor units; the catalogue keeps no cost price). Variants without a price in a currency are left out of it.';

-- ---------------------------------------------------------------- searches

-- Searches (logged by GET /api/v1/search: query text and result count, no user).
create function report.top_searches(p_from date default current_date - 30, p_to date default current_date,
                                    p_results text default 'any', p_limit integer default 50)
returns table (query text, searches bigint, zero_result_searches bigint, average_results numeric, last_searched_at timestamptz)
language plpgsql stable security definer
set search_path = '' as $$
declare
    b record;
begin
    perform api._require_one_of('results', p_results, array['any', 'with', 'without']);
    if p_limit not between 1 and 1000 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit', message = 'limit must be between 1 and 1000';
    end if;
    select * into b from report._bounds(p_from, p_to);
    return query
    select l.query, count(*)::bigint, count(*) filter (where l.results = 0)::bigint, round(avg(l.results), 1),
           max(l.searched_at)
    from shop.search_log l
    where l.searched_at >= b.lo and l.searched_at < b.hi
    group by l.query
    having p_results = 'any'
        or (p_results = 'with' and count(*) filter (where l.results > 0) > 0)
        or (p_results = 'without' and count(*) filter (where l.results > 0) = 0)
    order by count(*) desc, l.query
    limit p_limit;
end
$$;
comment on function report.top_searches(date, date, text, integer) is
    'The most frequent searches between p_from and p_to: searches, those that found nothing, average result count, last time. p_results: any, with (found something at least once), without (never found anything: what shoppers want and the shop lacks). Kept privacy.search_log_days.';

-- ---------------------------------------------------------------- payments and refunds

create function report.payments(p_from date default current_date - 30, p_to date default current_date,
                                p_currency text default null)
returns table (provider text, status text, currency char(3), payments bigint, amount bigint, refunds bigint,
               refunded_amount bigint)
language plpgsql stable security definer
set search_path = '' as $$
declare
    b record;
    v_currency char(3) := report._currency(p_currency);
begin
    select * into b from report._bounds(p_from, p_to);
    return query
    select p.provider, p.status, p.currency_code, count(*)::bigint, sum(p.amount)::bigint,
           coalesce(sum(r.refunds), 0)::bigint, coalesce(sum(r.amount), 0)::bigint
    from shop.payment p
    left join (select x.payment_id, count(*) as refunds, sum(x.amount) as amount from shop.refund x
               where x.status = 'succeeded' group by x.payment_id) r on r.payment_id = p.payment_id
    where p.created_at >= b.lo and p.created_at < b.hi and (v_currency is null or p.currency_code = v_currency)
    group by p.provider, p.status, p.currency_code
    order by p.currency_code, p.provider, p.status;
end
$$;
comment on function report.payments(date, date, text) is
    'Payments created between p_from and p_to per provider, status and currency: count, amount, succeeded refunds and their amount.';

create function report.refund_rate_by_product(p_from date default current_date - 30, p_to date default current_date,
                                              p_currency text default null)
returns table (product_id bigint, product text, currency char(3), orders bigint, refunded_orders bigint,
               refund_rate numeric)
language sql stable security definer
set search_path = '' as $$
    select s.product_id, p.title, s.currency_code, s.orders, s.refunded_orders,
           round(s.refunded_orders::numeric / nullif(s.orders, 0), 4)
    from report._product_sales(p_from, p_to, report._currency(p_currency)) s
    left join shop.product p on p.product_id = s.product_id
    order by round(s.refunded_orders::numeric / nullif(s.orders, 0), 4) desc nulls last, s.orders desc, s.product_id
$$;
comment on function report.refund_rate_by_product(date, date, text) is
    'Per product and currency, of the paid orders placed between p_from and p_to containing it: how many were (partly) refunded since, and the rate. Highest first.';

-- ---------------------------------------------------------------- customers

-- Customers are accounts, and guests by e-mail address.
create function report.customers(p_from date default current_date - 30, p_to date default current_date,
                                 p_currency text default null)
returns table (currency char(3), customers bigint, new_customers bigint, returning_customers bigint, orders bigint,
               revenue bigint, repeat_customers bigint, repeat_purchase_rate numeric, average_lifetime_value bigint)
language plpgsql stable security definer
set search_path = '' as $$
declare
    b record;
    v_currency char(3) := report._currency(p_currency);
    v_through timestamptz := report._through('report._customer_orders');
begin
    select * into b from report._bounds(p_from, p_to);
    return query
    with in_range as (
        select o.currency_code, coalesce(o.user_id::text, lower(o.email)) as customer, count(*) as orders,
               sum(o.total_amount) as revenue, min(o.placed_at) as first_in_range
        from shop.customer_order o
        where o.placed_at >= b.lo and o.placed_at < b.hi
          and o.payment_status in ('paid', 'partially_refunded', 'refunded')
          and (v_currency is null or o.currency_code = v_currency)
        group by 1, 2
    ), recent as (
        -- Orders since the materialized view's refresh.
        select o.currency_code, coalesce(o.user_id::text, lower(o.email)) as customer, count(*) as orders,
               sum(o.total_amount) as revenue, min(o.placed_at) as first_at
        from shop.customer_order o
        where o.placed_at >= v_through
          and o.payment_status in ('paid', 'partially_refunded', 'refunded')
          and (v_currency is null or o.currency_code = v_currency)
        group by 1, 2
    ), history as (
        select r.currency_code, r.orders, r.revenue, least(h.first_at, x.first_at, r.first_in_range) as first_at,
               coalesce(h.orders, 0) + coalesce(x.orders, 0) as lifetime_orders,
               coalesce(h.revenue, 0) + coalesce(x.revenue, 0) as lifetime_revenue
        from in_range r
        left join report._customer_orders h on h.customer = r.customer and h.currency_code = r.currency_code
        left join recent x on x.customer = r.customer and x.currency_code = r.currency_code
    )
    select h.currency_code, count(*)::bigint, count(*) filter (where h.first_at >= b.lo)::bigint,
           count(*) filter (where h.first_at < b.lo)::bigint, sum(h.orders)::bigint, sum(h.revenue)::bigint,
           count(*) filter (where h.lifetime_orders >= 2)::bigint,
           round((count(*) filter (where h.lifetime_orders >= 2))::numeric / count(*), 4),
           round(avg(h.lifetime_revenue))::bigint
    from history h
    group by h.currency_code
    order by h.currency_code;
end
$$;
comment on function report.customers(date, date, text) is
    'Per currency, the customers (accounts, and guests by e-mail) with paid orders between p_from and p_to: how many, new (first paid order in the range) vs returning, their orders and revenue in the range, repeat customers (2+ paid orders, ever) and the repeat-purchase rate, and their average lifetime value (all their paid totals).';

create function report.top_customers(p_currency text default null, p_limit integer default 50)
returns table (customer_id uuid, email text, guest boolean, currency char(3), orders bigint, lifetime_value bigint,
               first_order_at timestamptz, last_order_at timestamptz)
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_currency char(3) := report._currency(p_currency);
    v_through timestamptz := report._through('report._customer_orders');
begin
    if p_limit not between 1 and 1000 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit', message = 'limit must be between 1 and 1000';
    end if;
    return query
    with recent as (
        select coalesce(o.user_id::text, lower(o.email)) as customer, o.currency_code, min(o.user_id::text)::uuid as user_id,
               max(o.email) as email, min(o.placed_at) as first_at, max(o.placed_at) as last_at, count(*) as orders,
               sum(o.total_amount) as revenue
        from shop.customer_order o
        where o.placed_at >= v_through and o.payment_status in ('paid', 'partially_refunded', 'refunded')
          and (v_currency is null or o.currency_code = v_currency)
        group by 1, 2
    ), merged as (
        -- The materialized customers that could still be in the top, plus the recent ones.
        select * from (select h.customer, h.currency_code, h.user_id, h.email, h.first_at, h.last_at, h.orders, h.revenue
                       from report._customer_orders h
                       where v_currency is null or h.currency_code = v_currency
                       order by h.revenue desc limit p_limit + (select count(*) from recent)) top
        union all
        select * from recent
    )
    select (array_agg(m.user_id) filter (where m.user_id is not null))[1], max(m.email),
           bool_and(m.user_id is null), m.currency_code, sum(m.orders)::bigint, sum(m.revenue)::bigint,
           min(m.first_at), max(m.last_at)
    from merged m
    group by m.customer, m.currency_code
    order by sum(m.revenue) desc, max(m.last_at) desc
    limit p_limit;
end
$$;
comment on function report.top_customers(text, integer) is
    'Customers (accounts, and guests by e-mail) by lifetime value in a currency: paid orders, paid totals, first and last order. Erased customers appear with their placeholder address.';

-- ---------------------------------------------------------------- reviews and retention

create view report.review_moderation as
select count(*) filter (where r.status = 'pending') as pending,
       count(*) filter (where r.status = 'pending' and cardinality(r.flags) > 0) as pending_flagged,
       now() - min(r.submitted_at) filter (where r.status = 'pending') as oldest_pending_age,
       count(*) filter (where r.status = 'approved' and r.moderated_at >= now() - interval '30 days') as approved_last_30_days,
       count(*) filter (where r.status = 'rejected' and r.moderated_at >= now() - interval '30 days') as rejected_last_30_days,
       count(*) filter (where r.status = 'approved') as approved,
       round(avg(r.rating) filter (where r.status = 'approved'), 2) as average_rating
from shop.review r;
comment on view report.review_moderation is
    'The review moderation queue: pending (and flagged) reviews, the oldest one''s age, approvals and rejections over 30 days, approved reviews and their average rating.';

create view report.retention as
select r.policy, count(*) as runs, sum(r.deleted)::bigint as deleted,
       (sum(r.deleted) filter (where r.ran_at >= now() - interval '30 days'))::bigint as deleted_last_30_days,
       max(r.ran_at) as last_deleted_at
from shop.retention_run r
group by r.policy
order by r.policy;
comment on view report.retention is
    'What the data-lifecycle jobs deleted or anonymised, per policy (abandoned_carts, converted_carts, audit_log, search_log, guest_order_pii, events, emails, orphan_media, stories, erased_users): runs with deletions, rows, rows over 30 days, last time.';

-- ---------------------------------------------------------------- over HTTP

-- The reports (functions and views of schema report not starting with _), with their
-- description and parameters.
create function api._report_catalog()
returns table (name text, kind text, description text, parameters jsonb)
language sql stable as $$
    select p.proname::text, 'function', coalesce(obj_description(p.oid, 'pg_proc'), ''),
           coalesce((select jsonb_agg(jsonb_build_object(
                         'name', substr(a.name, 3), 'type', format_type(a.type, null),
                         'default', case a.name when 'p_from' then 'today - 30 days' when 'p_to' then 'today'
                                                when 'p_grain' then 'day' when 'p_results' then 'any'
                                                when 'p_limit' then '50' else null end)
                         order by a.n)
                     from unnest(p.proargnames[1:p.pronargs], p.proargtypes::oid[]) with ordinality a(name, type, n)), '[]')
    from pg_proc p
    where p.pronamespace = 'report'::regnamespace and p.proname !~ '^_'
    union all
    select c.relname::text, 'view', coalesce(obj_description(c.oid, 'pg_class'), ''), '[]'::jsonb
    from pg_class c
    where c.relnamespace = 'report'::regnamespace and c.relkind in ('v', 'm') and c.relname !~ '^_'
$$;

-- The reports staff may run: [{name, kind, description, parameters [{name, type, default}]}].
create function api.admin_list_reports()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('reports:read');
    return (select coalesce(jsonb_agg(jsonb_build_object('name', c.name, 'kind', c.kind, 'description', c.description,
                                                         'parameters', c.parameters) order by c.name), '[]')
            from api._report_catalog() c);
end
$$;
comment on function api.admin_list_reports() is
    'The reports (functions and views of schema report): [{name, kind, description, parameters}]. Needs reports:read.';

-- The SELECT running report p_name with p_params ({"from": "2026-01-01", "currency":
-- "XOF", …}): each parameter checked against the report's own arguments and types.
create function api._report_query(p_name text, p_params jsonb)
returns text
language plpgsql stable as $$
declare
    c record;
    v_args text[] := '{}';
    v_key text;
    v_value text;
    v_type text;
begin
    select * into c from api._report_catalog() x where x.name = p_name;
    if c.name is null then
        raise exception using errcode = 'MA404', constraint = 'report_not_found',
            message = format('there is no report %L', p_name), hint = 'GET /api/v1/admin/reports lists them.';
    end if;
    for v_key, v_value in select k, v from jsonb_each_text(coalesce(p_params, '{}')) x(k, v) where v is not null loop
        select a ->> 'type' into v_type from jsonb_array_elements(c.parameters) a where a ->> 'name' = v_key;
        if v_type is null then
            raise exception using errcode = 'MA422', constraint = 'invalid_parameter', detail = v_key,
                message = format('report %s takes no parameter %s', p_name, v_key),
                hint = format('Its parameters: %s.', coalesce((select string_agg(a ->> 'name', ', ')
                                                                from jsonb_array_elements(c.parameters) a), 'none'));
        end if;
        begin
            -- Dates are ISO (2026-01-31): not PostgreSQL's 'yesterday', 'epoch' or 'infinity'.
            if v_type = 'date' and v_value !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' then
                raise exception 'not an ISO date';
            end if;
            execute format('select %L::%s', v_value, v_type);
        exception when others then
            raise exception using errcode = 'MA422', constraint = 'invalid_parameter', detail = v_key,
                message = format('%s must be a %s, not %L', v_key, v_type, v_value);
        end;
        v_args := v_args || format('%I => %L::%s', 'p_' || v_key, v_value, v_type);
    end loop;
    if c.kind = 'view' then
        return format('select * from report.%I', p_name);
    end if;
    return format('select * from report.%I(%s)', p_name, array_to_string(v_args, ', '));
end
$$;

-- A report as JSON: {report, parameters, columns, rows, row_count, truncated}; at most
-- 10 000 rows (the CSV form streams every row).
create function api.admin_report(p_name text, p_params jsonb default '{}')
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_sql text;
    v_result jsonb;
begin
    perform api._require_scope('reports:read');
    v_sql := api._report_query(p_name, p_params);
    execute format(
        'select jsonb_build_object(''rows'', coalesce(jsonb_agg(to_jsonb(s.q) order by s.n) filter (where s.n <= 10000), ''[]''),
                                   ''row_count'', least(count(*), 10000), ''truncated'', count(*) > 10000)
         from (select q, row_number() over () as n from (%s limit 10001) q) s', v_sql)
    into v_result;
    return jsonb_build_object('report', p_name, 'parameters', coalesce(p_params, '{}'),
                              'columns', api._report_columns(p_name)) || v_result;
end
$$;
comment on function api.admin_report(text, jsonb) is
    'Runs a report: {report, parameters, columns, rows (objects), row_count, truncated (over 10 000 rows)}. p_params: the report''s parameters by name (from, to, currency, grain, results, limit). Needs reports:read. Errors: MA404 report_not_found, MA422 invalid_parameter, invalid_range, invalid_currency, invalid_grain, invalid_results, invalid_limit.';

-- The result columns of a report, in order.
create function api._report_columns(p_name text)
returns jsonb
language sql stable as $$
    select coalesce(
        (select jsonb_agg(n order by i) from pg_proc p
         cross join lateral unnest(p.proargnames, p.proargmodes) with ordinality a(n, m, i)
         where p.pronamespace = 'report'::regnamespace and p.proname = p_name and a.m = 't'),
        (select jsonb_agg(a.attname order by a.attnum) from pg_attribute a
         where a.attrelid = (select c.oid from pg_class c where c.relnamespace = 'report'::regnamespace and c.relname = p_name)
           and a.attnum > 0 and not a.attisdropped),
        '[]')
$$;

-- One CSV field: quoted when it holds a comma, quote or line break; a text starting with
-- = + - @ or a tab is prefixed with ' so a spreadsheet does not run it as a formula
-- (search queries come from the public).
create function api._csv_field(p_value json)
returns text
language sql immutable parallel safe as $$
    select case
        when p_value is null or json_typeof(p_value) = 'null' then ''
        when json_typeof(p_value) = 'string' then
            (select case when v ~ '[,"\r\n]' then '"' || replace(v, '"', '""') || '"' else v end
             from (select case when t ~ '^[=+\-@\t\r]' then '''' || t else t end as v
                   from (select p_value #>> '{}' as t) s) q)
        when json_typeof(p_value) in ('object', 'array') then '"' || replace(p_value::text, '"', '""') || '"'
        else p_value::text
    end
$$;

-- A report as CSV lines (header first, CRLF-terminated per RFC 4180), for
-- GET /api/v1/admin/reports/{name} with Accept: text/csv. The API streams the rows as
-- they come.
create function api.admin_report_csv(p_name text, p_params jsonb default '{}')
returns setof text
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_sql text;
begin
    perform api._require_scope('reports:read');
    v_sql := api._report_query(p_name, p_params);
    return next (select string_agg(api._csv_field(to_json(c)), ',' order by i) || E'\r\n'
                 from jsonb_array_elements_text(api._report_columns(p_name)) with ordinality x(c, i));
    return query execute format(
        'select (select string_agg(api._csv_field(f.value), '','' order by f.n) from json_each(to_json(q)) with ordinality f(key, value, n)) || E''\r\n''
         from (%s) q', v_sql);
end
$$;
comment on function api.admin_report_csv(text, jsonb) is
    'Runs a report as CSV lines (header first, RFC 4180, CRLF; formula-like text prefixed with a quote). Needs reports:read. Errors as api.admin_report.';

-- Descriptions of the private helpers above, for \df+ in psql.
comment on function report._bounds(date, date) is 'Private: the UTC instants [lo, hi) of an inclusive date range; MA422 invalid_range when from is after to.';
comment on function report._through(regclass) is 'Private: where a report materialized view''s complete days end (its refresh day), -infinity when empty.';
comment on function report._product_sales(date, date, text) is 'Private: paid order lines per product and currency in a range (materialized days + live ones).';
comment on function report._promotion_sales(date, date, text) is 'Private: promotions of paid orders per promotion, coupon and currency in a range (materialized days + live ones).';
comment on function report._currency(text) is 'Private: an upper-cased known currency code or null; MA422 invalid_currency.';
comment on function report._funnel_live(date, date) is 'Private: the funnel of each day of a range computed from carts and orders.';
comment on function report._record_funnel_days() is 'Private: records the funnel of finished days not yet in shop.funnel_day; returns how many.';
comment on function api._report_catalog() is 'Private: the reports of schema report (functions and views not starting with _), with descriptions and parameters.';
comment on function api._report_query(text, jsonb) is 'Private: the SELECT running a report with checked parameters (MA404 report_not_found, MA422 invalid_parameter).';
comment on function api._report_columns(text) is 'Private: the result columns of a report, in order.';
comment on function api._csv_field(json) is 'Private: one RFC 4180 CSV field, formula-like text neutralised.';

-- ---------------------------------------------------------------- who may call these
-- Staff read the reports from psql (views and functions alike; nothing here writes).
grant select on report.abandoned_carts, report.stock_value, report.review_moderation, report.retention
    to maef_staff, maef_admin;
grant execute on function
    report.sales(date,date,text,text),
    report.sales_by_product(date,date,text),
    report.sales_by_category(date,date,text),
    report.sales_by_brand(date,date,text),
    report.sales_by_coupon(date,date,text),
    report.sales_by_promotion(date,date,text),
    report.funnel(date,date),
    report.top_searches(date,date,text,integer),
    report.payments(date,date,text),
    report.refund_rate_by_product(date,date,text),
    report.customers(date,date,text),
    report.top_customers(text,integer)
    to maef_staff, maef_admin;
-- Over HTTP: reports:read (managers and admins).
grant execute on function
    api.admin_list_reports(),
    api.admin_report(text,jsonb),
    api.admin_report_csv(text,jsonb)
    to maef_staff, maef_admin;
