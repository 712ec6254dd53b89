-- V25: shipping methods. The flat per-country rates of V4 become the rates of a method
-- ("standard"); a store may offer several (standard, express, pickup in store), each
-- with a price and an optional free-over threshold per (country, currency). The cart
-- remembers the shopper's choice; the quote feeds the chosen method's rate (else the
-- first available one) to the pricing engine, which still takes one shipping amount.

create table shop.shipping_method (
    shipping_method_id bigint generated always as identity primary key,
    code               text not null check (code ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(code) <= 64),
    name               text not null check (length(name) between 1 and 200),
    description        text not null default '' check (length(description) <= 2000),
    kind               text not null default 'delivery' check (kind in ('delivery', 'pickup')),
    min_days           integer check (min_days between 0 and 365),
    max_days           integer check (max_days between 0 and 365),
    position           integer not null default 0,
    is_active          boolean not null default true,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    constraint shipping_method_code_key unique (code),
    constraint shipping_method_days_order check (min_days <= max_days)
);
comment on table shop.shipping_method is
    'Ways an order reaches the customer: delivery (needs a shipping address) or pickup in store; delivery estimate in days; offered where it has a rate (shop.shipping_rate).';
create trigger shipping_method_updated_at before update on shop.shipping_method
    for each row execute function shop.set_updated_at();

insert into shop.shipping_method (code, name, description, kind, min_days, max_days, position)
values ('standard', 'Standard delivery', '', 'delivery', 2, 5, 0);

-- The existing flat rates belong to "standard".
alter table shop.shipping_rate add column shipping_method_id bigint references shop.shipping_method on delete cascade;
update shop.shipping_rate set shipping_method_id = (select shipping_method_id from shop.shipping_method where code = 'standard');
alter table shop.shipping_rate
    alter column shipping_method_id set not null,
    drop constraint shipping_rate_country_currency_key,
    add constraint shipping_rate_method_country_currency_key unique (shipping_method_id, country, currency_code);
-- A rate inserted without a method (a script written for V4's flat rates) is a rate of
-- "standard".
create function shop.shipping_rate_default_method() returns trigger
language plpgsql as $$
begin
    if new.shipping_method_id is null then
        select m.shipping_method_id into new.shipping_method_id from shop.shipping_method m where m.code = 'standard';
    end if;
    return new;
end
$$;
create trigger shipping_rate_default_method before insert on shop.shipping_rate
    for each row execute function shop.shipping_rate_default_method();
create index shipping_rate_destination_idx on shop.shipping_rate (country, currency_code);
comment on table shop.shipping_rate is
    'Price of a shipping method per destination country and currency; free when the discounted merchandise reaches free_over.';

alter table shop.cart add column shipping_method_id bigint references shop.shipping_method on delete set null;
comment on column shop.cart.shipping_method_id is 'The method the shopper chose; null: the first available one is quoted.';
