-- V32: fulfilment and after-sales (issue 18) — carriers and their tracking URLs and
-- webhook secrets, shipments of order lines (partial fulfilment) with their state
-- machine, the carriers' webhooks (each stored once), cancellations of paid orders or
-- lines, returns (RMA) with their reasons, and invoices and credit notes numbered
-- without gaps per year. docs/fulfilment.md tells the whole story.
--
-- Every unit of an order line is counted on the line itself, under the order row's
-- lock (the first lock of every transaction that touches an order, V27):
--   quantity_shipped + quantity_cancelled <= quantity, quantity_returned <= quantity_shipped.
-- The counters are the sums of shipment_item (shipments not returned to sender),
-- cancellation_item and received return_item rows; the tests check it after every race.

-- ---------------------------------------------------------------- carriers
create table shop.carrier (
    carrier_id            bigint generated always as identity primary key,
    code                  text not null check (code ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and length(code) <= 64),
    name                  text not null check (length(name) between 1 and 200),
    -- "https://…?n={tracking}": {tracking} is replaced by the URL-encoded tracking number.
    tracking_url_template text check (tracking_url_template ~ '^https://[^\s]+$'
                                      and position('{tracking}' in tracking_url_template) > 0
                                      and length(tracking_url_template) <= 500),
    is_active             boolean not null default true,
    created_at            timestamptz not null default now(),
    updated_at            timestamptz not null default now(),
    constraint carrier_code_key unique (code)
);
comment on table shop.carrier is
    'Carriers shipments go with; tracking_url_template makes each shipment''s tracking URL ({tracking} replaced).';
create trigger carrier_updated_at before update on shop.carrier
    for each row execute function shop.set_updated_at();
insert into shop.carrier (code, name, tracking_url_template) values
    ('own-delivery', 'Own delivery', null),
    ('dhl', 'DHL Express', 'https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={tracking}'),
    ('colissimo', 'Colissimo', 'https://www.laposte.fr/outils/suivre-vos-envois?code={tracking}'),
    ('ups', 'UPS', 'https://www.ups.com/track?tracknum={tracking}');

-- Signing secrets of a carrier's webhooks (`whsec_…`, made by the shop and shown once).
-- A rotated secret stays valid until expires_at, so the carrier can switch over.
-- Readable by the owner role only (maef-api's verification step).
create table shop.carrier_secret (
    carrier_secret_id bigint generated always as identity primary key,
    carrier_id        bigint not null references shop.carrier on delete cascade,
    secret            text not null check (secret ~ '^whsec_[A-Za-z0-9+/]{32,88}={0,2}$'),
    created_at        timestamptz not null default now(),
    expires_at        timestamptz
);
comment on table shop.carrier_secret is
    'Webhook signing secrets of carriers (whsec_…). expires_at: end of a rotated secret''s overlap; null for the current one.';
create index carrier_secret_carrier_idx on shop.carrier_secret (carrier_id);
create unique index carrier_secret_one_current on shop.carrier_secret (carrier_id) where expires_at is null;

-- ---------------------------------------------------------------- order lines
alter table shop.order_item
    add column quantity_shipped   integer not null default 0,
    add column quantity_cancelled integer not null default 0,
    add column quantity_returned  integer not null default 0,
    add constraint order_item_fulfilment_within_quantity check (
        quantity_shipped >= 0 and quantity_cancelled >= 0 and quantity_shipped + quantity_cancelled <= quantity),
    add constraint order_item_returned_within_shipped check (
        quantity_returned >= 0 and quantity_returned <= quantity_shipped);
comment on column shop.order_item.quantity_shipped is 'Units in shipments (not returned to sender). quantity_shipped + quantity_cancelled <= quantity.';
comment on column shop.order_item.quantity_cancelled is 'Units cancelled before shipping (stock back, refunded when paid).';
comment on column shop.order_item.quantity_returned is 'Units received back through returns (or parcels returned to sender). <= quantity_shipped.';

-- ---------------------------------------------------------------- the order's machines
-- A paid order that has not shipped may be cancelled (refunded); the timeline also
-- records shipments, cancellations, returns and invoices.
insert into shop.order_transition (machine, from_state, to_state) values
    ('status', 'paid', 'cancelled');
alter table shop.order_event drop constraint order_event_kind_check,
    add constraint order_event_kind_check check (kind in
        ('placed', 'status', 'payment_status', 'fulfillment_status', 'note',
         'shipment', 'cancellation', 'return', 'invoice'));

-- ---------------------------------------------------------------- shipments
update shop.shipment set status = 'returned_to_sender' where status = 'returned';
alter table shop.shipment
    drop constraint shipment_status_check,
    add constraint shipment_status_check check (status in
        ('pending', 'shipped', 'in_transit', 'delivered', 'failed_delivery', 'returned_to_sender')),
    add column carrier_id        bigint references shop.carrier on delete restrict,
    add column stock_location_id bigint references shop.stock_location on delete restrict,
    add column in_transit_at     timestamptz,
    add column failed_at         timestamptz,
    add column returned_at       timestamptz,
    add column created_by        uuid references shop.app_user on delete set null,
    add constraint shipment_tracking_number_valid check (tracking_number ~ '^[A-Za-z0-9][A-Za-z0-9 ._/-]{0,99}$'),
    add constraint shipment_delivered_has_time check (status <> 'delivered' or delivered_at is not null),
    add constraint shipment_shipped_has_time check (status = 'pending' or shipped_at is not null);
comment on column shop.shipment.status is
    'pending → shipped → in_transit → delivered, or failed_delivery (then in_transit again, delivered or returned_to_sender); shop.shipment_transition.';
create unique index shipment_carrier_tracking_key on shop.shipment (carrier_id, tracking_number)
    where tracking_number is not null;

create table shop.shipment_item (
    shipment_id   bigint not null references shop.shipment on delete cascade,
    order_item_id bigint not null references shop.order_item on delete restrict,
    quantity      integer not null check (quantity > 0),
    primary key (shipment_id, order_item_id)
);
comment on table shop.shipment_item is 'Units of order lines in a shipment; a line may ship across several parcels.';
create index shipment_item_order_item_idx on shop.shipment_item (order_item_id);

create table shop.shipment_transition (
    from_state text not null,
    to_state   text not null,
    primary key (from_state, to_state)
);
comment on table shop.shipment_transition is 'Allowed shipment state changes, enforced by the shipment_check_transition trigger.';
insert into shop.shipment_transition (from_state, to_state) values
    ('pending', 'shipped'),
    ('shipped', 'in_transit'), ('shipped', 'delivered'), ('shipped', 'failed_delivery'), ('shipped', 'returned_to_sender'),
    ('in_transit', 'delivered'), ('in_transit', 'failed_delivery'), ('in_transit', 'returned_to_sender'),
    ('failed_delivery', 'in_transit'), ('failed_delivery', 'delivered'), ('failed_delivery', 'returned_to_sender');

create function shop.shipment_check_transition() returns trigger
language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        if new.status <> 'pending' then
            raise exception using errcode = 'MA409', constraint = 'shipment_transition_invalid',
                message = format('a shipment cannot be created %s', new.status);
        end if;
    elsif new.status is distinct from old.status
          and not exists (select from shop.shipment_transition t where t.from_state = old.status and t.to_state = new.status) then
        raise exception using errcode = 'MA409', constraint = 'shipment_transition_invalid',
            message = format('a shipment cannot go from %s to %s', old.status, new.status),
            detail = json_build_object('from', old.status, 'to', new.status)::text;
    end if;
    return new;
end
$$;
create trigger shipment_check_transition before insert or update of status on shop.shipment
    for each row execute function shop.shipment_check_transition();

-- ---------------------------------------------------------------- carrier webhooks
create table shop.carrier_event (
    carrier_event_id bigint generated always as identity primary key,
    carrier_id       bigint not null references shop.carrier on delete cascade,
    event_id         text not null check (length(event_id) between 1 and 200),
    shipment_id      bigint references shop.shipment on delete set null,
    status           text,
    -- applied, stale, duplicate_state, unknown_shipment, transition_refused
    outcome          text not null,
    payload          jsonb not null,
    received_at      timestamptz not null default now(),
    constraint carrier_event_carrier_event_key unique (carrier_id, event_id)
);
comment on table shop.carrier_event is 'Verified carrier webhooks, each stored once by (carrier, event id), with what applying it did.';
create index carrier_event_shipment_idx on shop.carrier_event (shipment_id) where shipment_id is not null;

-- ---------------------------------------------------------------- cancellations
create table shop.cancellation (
    cancellation_id bigint generated always as identity primary key,
    order_id        uuid not null references shop.customer_order on delete cascade,
    -- staff (orders:write:any) or customer (their own order, within the window)
    actor_kind      text not null check (actor_kind in ('staff', 'customer')),
    whole_order     boolean not null,
    reason          text not null check (length(reason) between 1 and 500),
    refund_id       bigint references shop.refund on delete set null,
    request_key     text not null,
    request_hash    text,
    created_by      uuid references shop.app_user on delete set null,
    created_at      timestamptz not null default now(),
    constraint cancellation_request_key unique (order_id, request_key)
);
comment on table shop.cancellation is
    'Cancellations of a whole order or of unshipped units of its lines: stock back (ledger), refund of exactly those lines when paid.';
create table shop.cancellation_item (
    cancellation_id bigint not null references shop.cancellation on delete cascade,
    order_item_id   bigint not null references shop.order_item on delete restrict,
    quantity        integer not null check (quantity > 0),
    primary key (cancellation_id, order_item_id)
);
create index cancellation_item_order_item_idx on shop.cancellation_item (order_item_id);

-- Units sold and then cancelled before they shipped come back on hand: a cancellation
-- movement may now also be on hand (a sale undone), besides releasing a reservation.
alter table shop.stock_movement drop constraint stock_movement_kind_deltas,
    add constraint stock_movement_kind_deltas check (case kind
        when 'receipt' then on_hand_delta > 0 and reserved_delta = 0
        when 'return' then on_hand_delta > 0 and reserved_delta = 0
        when 'adjustment' then on_hand_delta <> 0 and reserved_delta = 0
        when 'reservation' then on_hand_delta = 0 and reserved_delta > 0
        when 'release' then on_hand_delta = 0 and reserved_delta < 0
        when 'cancellation' then (on_hand_delta = 0 and reserved_delta < 0) or (on_hand_delta > 0 and reserved_delta = 0)
        when 'sale' then on_hand_delta < 0 and reserved_delta between on_hand_delta and 0
    end);

-- ---------------------------------------------------------------- returns (RMA)
create table shop.return_reason (
    code        text primary key check (code ~ '^[a-z][a-z0-9_]*$' and length(code) <= 64),
    label_en    text not null check (length(label_en) between 1 and 200),
    label_fr    text not null check (length(label_fr) between 1 and 200),
    -- The shop's fault: the return's refund includes the shipping.
    shop_fault  boolean not null,
    is_active   boolean not null default true,
    position    integer not null default 0
);
comment on table shop.return_reason is
    'Why customers return items. shop_fault: the refund of a return with this reason includes the order''s shipping.';
insert into shop.return_reason (code, label_en, label_fr, shop_fault, position) values
    ('wrong_size', 'Wrong size', 'Mauvaise taille', false, 1),
    ('damaged', 'Arrived damaged', 'Arrivé endommagé', true, 2),
    ('defective', 'Defective', 'Défectueux', true, 3),
    ('not_as_described', 'Not as described', 'Non conforme à la description', true, 4),
    ('wrong_item', 'Wrong item sent', 'Mauvais article envoyé', true, 5),
    ('changed_mind', 'Changed my mind', 'Changement d''avis', false, 6),
    ('other', 'Other', 'Autre', false, 7);

create sequence shop.return_number_seq;
create table shop.order_return (
    return_id      bigint generated always as identity primary key,
    rma_number     text not null default 'RMA-' || to_char(now() at time zone 'UTC', 'YYYY') || '-'
                                         || lpad(nextval('shop.return_number_seq')::text, 6, '0'),
    order_id       uuid not null references shop.customer_order on delete cascade,
    status         text not null default 'requested' check (status in
                     ('requested', 'approved', 'rejected', 'received', 'refunded')),
    note           text not null default '' check (length(note) <= 2000),
    staff_note     text not null default '' check (length(staff_note) <= 2000),
    refund_id      bigint references shop.refund on delete set null,
    refund_shipping boolean,
    requested_by   uuid references shop.app_user on delete set null,
    decided_by     uuid references shop.app_user on delete set null,
    requested_at   timestamptz not null default now(),
    decided_at     timestamptz,
    received_at    timestamptz,
    refunded_at    timestamptz,
    updated_at     timestamptz not null default now(),
    constraint order_return_rma_number_key unique (rma_number)
);
comment on table shop.order_return is
    'Return requests (RMA): requested → approved or rejected → received → refunded (shop.return_transition).';
create index order_return_order_idx on shop.order_return (order_id);
create index order_return_status_idx on shop.order_return (status, requested_at);
create trigger order_return_updated_at before update on shop.order_return
    for each row execute function shop.set_updated_at();

create table shop.return_transition (
    from_state text not null,
    to_state   text not null,
    primary key (from_state, to_state)
);
insert into shop.return_transition values
    ('requested', 'approved'), ('requested', 'rejected'), ('approved', 'received'), ('received', 'refunded');

create function shop.order_return_check_transition() returns trigger
language plpgsql as $$
begin
    if new.status is distinct from old.status
       and not exists (select from shop.return_transition t where t.from_state = old.status and t.to_state = new.status) then
        raise exception using errcode = 'MA409', constraint = 'return_transition_invalid',
            message = format('a return cannot go from %s to %s', old.status, new.status),
            detail = json_build_object('from', old.status, 'to', new.status)::text;
    end if;
    return new;
end
$$;
create trigger order_return_check_transition before update of status on shop.order_return
    for each row execute function shop.order_return_check_transition();

create table shop.return_item (
    return_id          bigint not null references shop.order_return on delete cascade,
    order_item_id      bigint not null references shop.order_item on delete restrict,
    quantity           integer not null check (quantity > 0),
    reason             text not null references shop.return_reason on delete restrict,
    -- Set when received: resellable units go back on hand, damaged ones do not.
    condition          text check (condition in ('resellable', 'damaged')),
    restocked          integer not null default 0 check (restocked >= 0),
    primary key (return_id, order_item_id),
    constraint return_item_restocked_within check (restocked <= quantity)
);
create index return_item_order_item_idx on shop.return_item (order_item_id);

-- ---------------------------------------------------------------- invoices
-- Gapless numbering: one counter row per (kind, year). Issuing a document updates its
-- counter row (UPDATE … RETURNING takes the row lock) and inserts the document in the
-- same transaction, so concurrent issuers queue on the row, a rollback takes its
-- number back with it, and a number is used once (unique key). A sequence would not
-- do: nextval is never rolled back, which leaves holes. Documents cannot be updated or
-- deleted (trigger), so no hole appears afterwards either.
create table shop.invoice_counter (
    kind        text not null check (kind in ('invoice', 'credit_note')),
    year        integer not null check (year between 2000 and 9999),
    last_number integer not null default 0 check (last_number >= 0),
    primary key (kind, year)
);
comment on table shop.invoice_counter is
    'The last number issued per document kind and year: updated in the issuing transaction (gapless, see V32).';

create table shop.invoice (
    invoice_id         bigint generated always as identity primary key,
    kind               text not null check (kind in ('invoice', 'credit_note')),
    year               integer not null,
    sequence           integer not null check (sequence > 0),
    number             text not null,
    order_id           uuid not null references shop.customer_order on delete restrict,
    refund_id          bigint references shop.refund on delete restrict,
    -- A credit note names the invoice it corrects.
    corrects_invoice_id bigint references shop.invoice on delete restrict,
    locale             text not null check (locale in ('fr', 'en')),
    currency_code      char(3) not null references shop.currency,
    prices_include_tax boolean not null,
    seller             jsonb not null check (jsonb_typeof(seller) = 'object'),
    buyer              jsonb not null check (jsonb_typeof(buyer) = 'object'),
    lines              jsonb not null check (jsonb_typeof(lines) = 'array'),
    tax_breakdown      jsonb not null check (jsonb_typeof(tax_breakdown) = 'array'),
    subtotal_amount    bigint not null,
    discount_amount    bigint not null,
    shipping_amount    bigint not null,
    tax_amount         bigint not null,
    total_amount       bigint not null check (total_amount >= 0),
    issued_at          timestamptz not null default now(),
    constraint invoice_kind_year_sequence_key unique (kind, year, sequence),
    constraint invoice_number_key unique (number),
    constraint invoice_refund_key unique (refund_id),
    constraint invoice_credit_note_has_refund check ((kind = 'credit_note') = (refund_id is not null))
);
comment on table shop.invoice is
    'Invoices (an order paid) and credit notes (a refund), numbered per kind and year without gaps; immutable copies of seller, buyer, lines, tax per rate and totals.';
create unique index invoice_one_per_order on shop.invoice (order_id) where kind = 'invoice';
create index invoice_order_idx on shop.invoice (order_id);

-- One change is allowed, by the erasure of a person (docs/privacy.md): the buyer reduced
-- to a placeholder e-mail and the country, in a transaction that says so
-- (maef.invoice_erasure = on); every other column stays as issued.
create function shop.invoice_immutable() returns trigger
language plpgsql as $$
begin
    if tg_op = 'UPDATE' and current_setting('maef.invoice_erasure', true) = 'on'
       and (to_jsonb(new) - 'buyer') = (to_jsonb(old) - 'buyer') then
        return new;
    end if;
    raise exception using errcode = 'MA409', constraint = 'invoice_immutable',
        message = 'invoices and credit notes cannot be changed or deleted; issue a credit note instead';
end
$$;
create trigger invoice_immutable before update or delete on shop.invoice
    for each row execute function shop.invoice_immutable();
create trigger invoice_counter_no_delete before delete on shop.invoice_counter
    for each row execute function shop.invoice_immutable();

-- ---------------------------------------------------------------- permissions
insert into shop.permission (name, description) values
    ('carriers:admin', 'Create and change carriers, rotate their webhook signing secrets');
insert into shop.role_permission (role_id, permission_id)
select r.role_id, p.permission_id from shop.role r join shop.permission p on p.name = 'carriers:admin'
where r.name = 'admin';

-- ---------------------------------------------------------------- events and e-mails
insert into shop.event_type (type, aggregate_type, description) values
    ('shipment.created', 'shipment', 'Units of an order were put in a parcel (the order''s fulfilment moved).'),
    ('shipment.in_transit', 'shipment', 'The carrier reports a shipment in transit.'),
    ('shipment.delivery_failed', 'shipment', 'A delivery attempt failed.'),
    ('shipment.returned_to_sender', 'shipment', 'A parcel came back to the shop undelivered.'),
    ('order.delivered', 'order', 'Every shipment of a fulfilled order was delivered.'),
    ('order.lines_cancelled', 'order', 'Unshipped units of some lines of an order were cancelled (and refunded when paid).'),
    ('return.approved', 'return', 'Staff approved a return request.'),
    ('return.rejected', 'return', 'Staff rejected a return request.'),
    ('return.received', 'return', 'The returned items arrived and were inspected (resellable ones restocked).'),
    ('return.refunded', 'return', 'A received return was refunded.'),
    ('invoice.issued', 'invoice', 'An invoice was issued for a paid order.'),
    ('credit_note.issued', 'invoice', 'A credit note was issued for a refund.');

insert into shop.email_kind (kind, description, sample) values
    ('shipment_update', 'A shipment is in transit, failed delivery or came back to the shop.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "order_number": "2026-001042", "status": "in_transit", "carrier": "DHL Express", "tracking_number": "JD0123456789", "tracking_url": "https://tracking.example/JD0123456789"}'),
    ('order_cancelled', 'The order (or some of its lines) was cancelled, with the refund if paid.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "order_number": "2026-001042", "whole_order": true, "lines": [{"title": "Wax print dress", "quantity": 1}], "refund": "15 000 XOF", "reason": "out of stock"}');

insert into shop.email_template (kind, locale, subject, body_text, body_html) values
('shipment_update', 'en', $t${{ shop_name }}: news of order #{{ order_number }}$t$,
$t${% if status == "in_transit" %}Your parcel for order #{{ order_number }} is on its way with {{ carrier }}.{% elif status == "failed_delivery" %}{{ carrier }} could not deliver your parcel for order #{{ order_number }}. They will try again or contact you.{% else %}Your parcel for order #{{ order_number }} came back to us undelivered. We will contact you.{% endif %}
{% if tracking_url %}Follow it here: {{ tracking_url }}{% endif %}
$t$,
$t$<p>{% if status == "in_transit" %}Your parcel for order #{{ order_number }} is on its way with {{ carrier }}.{% elif status == "failed_delivery" %}{{ carrier }} could not deliver your parcel for order #{{ order_number }}. They will try again or contact you.{% else %}Your parcel for order #{{ order_number }} came back to us undelivered. We will contact you.{% endif %}</p>
{% if tracking_url %}<p><a href="{{ tracking_url }}">Follow your parcel ({{ tracking_number }})</a></p>{% endif %}
$t$),
('shipment_update', 'fr', $t${{ shop_name }} : du nouveau pour la commande n° {{ order_number }}$t$,
$t${% if status == "in_transit" %}Votre colis de la commande n° {{ order_number }} est en route avec {{ carrier }}.{% elif status == "failed_delivery" %}{{ carrier }} n'a pas pu livrer votre colis de la commande n° {{ order_number }}. Une nouvelle tentative aura lieu ou le transporteur vous contactera.{% else %}Votre colis de la commande n° {{ order_number }} nous est revenu sans être livré. Nous allons vous contacter.{% endif %}
{% if tracking_url %}Suivez-le ici : {{ tracking_url }}{% endif %}
$t$,
$t$<p>{% if status == "in_transit" %}Votre colis de la commande n° {{ order_number }} est en route avec {{ carrier }}.{% elif status == "failed_delivery" %}{{ carrier }} n'a pas pu livrer votre colis de la commande n° {{ order_number }}. Une nouvelle tentative aura lieu ou le transporteur vous contactera.{% else %}Votre colis de la commande n° {{ order_number }} nous est revenu sans être livré. Nous allons vous contacter.{% endif %}</p>
{% if tracking_url %}<p><a href="{{ tracking_url }}">Suivre votre colis ({{ tracking_number }})</a></p>{% endif %}
$t$),
('order_cancelled', 'en', $t${{ shop_name }}: order #{{ order_number }} {% if whole_order %}was cancelled{% else %}was changed{% endif %}$t$,
$t${% if whole_order %}Your order #{{ order_number }} was cancelled.{% else %}These items of your order #{{ order_number }} were cancelled:{% for line in lines %}
- {{ line.quantity }} × {{ line.title }}{% endfor %}{% endif %}
{% if reason %}Reason: {{ reason }}
{% endif %}{% if refund %}{{ refund }} will be refunded to your means of payment.{% endif %}
$t$,
$t$<p>{% if whole_order %}Your order #{{ order_number }} was cancelled.{% else %}These items of your order #{{ order_number }} were cancelled:{% endif %}</p>
{% if not whole_order %}<ul>{% for line in lines %}<li>{{ line.quantity }} × {{ line.title }}</li>{% endfor %}</ul>{% endif %}
{% if reason %}<p>Reason: {{ reason }}</p>{% endif %}{% if refund %}<p>{{ refund }} will be refunded to your means of payment.</p>{% endif %}
$t$),
('order_cancelled', 'fr', $t${{ shop_name }} : commande n° {{ order_number }} {% if whole_order %}annulée{% else %}modifiée{% endif %}$t$,
$t${% if whole_order %}Votre commande n° {{ order_number }} a été annulée.{% else %}Ces articles de votre commande n° {{ order_number }} ont été annulés :{% for line in lines %}
- {{ line.quantity }} × {{ line.title }}{% endfor %}{% endif %}
{% if reason %}Motif : {{ reason }}
{% endif %}{% if refund %}{{ refund }} vous seront remboursés sur votre moyen de paiement.{% endif %}
$t$,
$t$<p>{% if whole_order %}Votre commande n° {{ order_number }} a été annulée.{% else %}Ces articles de votre commande n° {{ order_number }} ont été annulés :{% endif %}</p>
{% if not whole_order %}<ul>{% for line in lines %}<li>{{ line.quantity }} × {{ line.title }}</li>{% endfor %}</ul>{% endif %}
{% if reason %}<p>Motif : {{ reason }}</p>{% endif %}{% if refund %}<p>{{ refund }} vous seront remboursés sur votre moyen de paiement.</p>{% endif %}
$t$);

-- ---------------------------------------------------------------- store policies
insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('orders.cancel_window_minutes', '60', 'integer', 0, 43200, 'CANCEL_WINDOW_MINUTES',
     'Minutes after placing an order during which its customer may cancel it (unpaid, or paid and not shipped); 0: never.'),
    ('returns.window_days', '14', 'integer', 0, 365, 'RETURN_WINDOW_DAYS',
     'Days after a line''s delivery during which the customer may ask to return it (14: the EU withdrawal period).'),
    ('fulfilment.carrier_webhook_tolerance_secs', '300', 'integer', 10, 86400, 'CARRIER_WEBHOOK_TOLERANCE_SECS',
     'How far a carrier webhook''s signed timestamp may be from now (older ones are refused as replays).'),
    ('invoice.seller_name', '"maef"', 'text', null, null, 'INVOICE_SELLER_NAME',
     'The seller''s legal name printed on invoices and credit notes.'),
    ('invoice.seller_address', '""', 'text', null, null, 'INVOICE_SELLER_ADDRESS',
     'The seller''s address on invoices (lines separated by "|").'),
    ('invoice.seller_tax_id', '""', 'text', null, null, 'INVOICE_SELLER_TAX_ID',
     'The seller''s tax or VAT number on invoices (IFU, NINEA, FR…).'),
    ('invoice.seller_registration', '""', 'text', null, null, 'INVOICE_SELLER_REGISTRATION',
     'The seller''s company registration (RCCM, SIRET…) on invoices.'),
    ('invoice.invoice_prefix', '"F"', 'text', null, null, 'INVOICE_PREFIX',
     'Prefix of invoice numbers: F-2026-000001.'),
    ('invoice.credit_note_prefix', '"AV"', 'text', null, null, 'CREDIT_NOTE_PREFIX',
     'Prefix of credit note numbers: AV-2026-000001.');

-- ---------------------------------------------------------------- row-level security
alter table shop.shipment_item enable row level security;
create policy shipment_item_owner_read on shop.shipment_item for select
    using (exists (select from shop.shipment s join shop.customer_order o using (order_id)
                   where s.shipment_id = shipment_item.shipment_id and o.user_id = shop.current_user_id()));
create policy shipment_item_staff on shop.shipment_item using (shop.has_scope('orders:read:any'));
grant select on shop.shipment_item to maef_customer, maef_staff, maef_admin;
grant select on shop.carrier, shop.return_reason to maef_anon, maef_customer, maef_staff, maef_admin;

revoke all on shop.carrier_secret, shop.carrier_event, shop.cancellation, shop.cancellation_item,
    shop.order_return, shop.return_item, shop.invoice_counter, shop.invoice from public;
