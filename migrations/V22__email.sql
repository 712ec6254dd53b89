-- V22: transactional e-mail (issue 20). An e-mail is a shop.email_message row written in
-- the transaction that decides to send it (api._queue_email, sql/email.sql) plus a
-- send_email job; maef-worker renders its template (minijinja) and sends it over SMTP,
-- or writes it to its log when SMTP_URL is not set. The row is also the send record
-- that keeps a retried job from sending twice (docs/email.md).

insert into shop.permission (name, description) values
    ('emails:admin', 'Edit and preview e-mail templates, read the e-mail outbox');
insert into shop.role_permission (role_id, permission_id)
select r.role_id, p.permission_id
from shop.role r join shop.permission p on p.name = 'emails:admin'
where r.name = 'admin';

-- The customer's language for e-mails (null: the store's default, email.default_locale).
alter table shop.app_user add column locale text constraint app_user_locale_valid check (locale in ('fr', 'en'));
comment on column shop.app_user.locale is 'Language of the e-mails sent to the user (fr, en); null: the store default (setting email.default_locale).';

-- E-mail kinds: what each one's template may use (a sample context, for previews and
-- for checking a template when it is saved).
create table shop.email_kind (
    kind        text primary key check (kind ~ '^[a-z][a-z0-9_]*$'),
    description text not null,
    sample      jsonb not null check (jsonb_typeof(sample) = 'object')
);
comment on table shop.email_kind is 'E-mail kinds and a sample of the context their templates receive (previews, validation).';

create table shop.email_template (
    kind       text not null references shop.email_kind on delete cascade,
    locale     text not null check (locale in ('fr', 'en')),
    subject    text not null check (length(subject) between 1 and 500),
    body_text  text not null check (length(body_text) between 1 and 100000),
    body_html  text not null check (length(body_html) between 1 and 200000),
    updated_at timestamptz not null default now(),
    updated_by uuid references shop.app_user on delete set null,
    primary key (kind, locale)
);
comment on table shop.email_template is 'E-mail templates (minijinja) per kind and locale: subject, plain text and HTML parts.';
create trigger email_template_updated_at before update on shop.email_template
    for each row execute function shop.set_updated_at();

-- Every e-mail: the outbox, the send record and the log at once.
create table shop.email_message (
    email_message_id bigint generated always as identity primary key,
    kind             text not null references shop.email_kind,
    locale           text not null check (locale in ('fr', 'en')),
    to_address       text not null check (length(to_address) between 3 and 320),
    user_id          uuid references shop.app_user on delete set null,
    -- The template's context (may hold a reset link: readable by the owner and, through
    -- the API, by holders of emails:admin only).
    data             jsonb not null default '{}' check (jsonb_typeof(data) = 'object'),
    status           text not null default 'queued'
                     check (status in ('queued', 'sending', 'sent', 'logged', 'failed')),
    job_id           bigint,
    attempts         integer not null default 0 check (attempts >= 0),
    -- While an attempt is sending: until when it holds the message (a second job for
    -- the same message waits rather than sending it too).
    sending_until    timestamptz,
    transport        text check (transport in ('smtp', 'log')),
    message_id       text,
    smtp_response    text,
    -- Kept for e-mails written to the log (no SMTP_URL) only, so a developer sees them.
    subject          text,
    body_text        text,
    body_html        text,
    last_error       text,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    sent_at          timestamptz,
    constraint email_message_sent_has_time check ((status in ('sent', 'logged')) = (sent_at is not null))
);
comment on table shop.email_message is
    'Every e-mail: queued → sending → sent (SMTP accepted it) | logged (no SMTP_URL: written to the log) | failed. The send record that keeps a retried job from sending twice.';
create index email_message_user_idx on shop.email_message (user_id) where user_id is not null;
create index email_message_created_brin on shop.email_message using brin (created_at);
create trigger email_message_updated_at before update on shop.email_message
    for each row execute function shop.set_updated_at();

insert into shop.setting (key, value, value_type, min_value, max_value, env, description) values
    ('email.default_locale', '"fr"', 'text', null, null, 'DEFAULT_LOCALE',
     'Language of e-mails to customers who chose none, and to admins: fr or en.'),
    ('email.shop_name', '"maef"', 'text', null, null, 'SHOP_NAME',
     'The shop''s name, given to every e-mail template as shop_name.'),
    ('email.retention_days', '90', 'integer', 1, 3650, 'EMAIL_RETENTION_DAYS',
     'Days an e-mail''s record is kept before the prune_emails job deletes it.'),
    ('email.max_attempts', '12', 'integer', 1, 50, 'EMAIL_MAX_ATTEMPTS',
     'Attempts of an e-mail whose SMTP server fails temporarily before it is marked failed (about a day with the job backoff).');

insert into shop.job_kind (kind, timeout, description) values
    ('send_email', '2 minutes', 'Renders one shop.email_message and sends it over SMTP (or to the log without SMTP_URL), once.'),
    ('prune_emails', '10 minutes', 'Deletes e-mail records older than email.retention_days.');
insert into shop.job_schedule (name, kind, cron, payload) values
    ('prune_emails', 'prune_emails', '41 3 * * *', '{}');

-- send_email jobs enqueued before this migration had no handler and carry the old
-- payload ({template, to, link}); their reset links expired long ago (an hour).
update shop.job_queue
set status = 'cancelled', locked_until = null, finished_at = now(), updated_at = now(),
    last_error = 'superseded by V22: e-mails are shop.email_message rows now'
where kind = 'send_email' and status in ('pending', 'running') and not payload ? 'email_message_id';

insert into shop.email_kind (kind, description, sample) values
    ('password_reset', 'The link to choose a new password.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "link": "http://localhost:8000/reset-password?token=abc123", "expires_in_minutes": 60}'),
    ('welcome', 'Sent when a customer registers.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "email": "ada@example.com", "username": "ada"}'),
    ('order_confirmation', 'The order as placed: lines, totals, shipping address.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "order_number": 1042, "lines": [{"title": "Wax print dress", "variant": "M / Blue", "quantity": 2, "unit_price": "15 000 XOF", "total": "30 000 XOF"}], "subtotal": "30 000 XOF", "discount": "0 XOF", "shipping": "2 000 XOF", "tax": "0 XOF", "total": "32 000 XOF", "shipping_address": {"full_name": "Ada Lovelace", "line1": "12 rue des Cocotiers", "line2": "", "city": "Cotonou", "region": "Littoral", "postal_code": "", "country": "BJ"}}'),
    ('payment_failed', 'A payment for an order failed.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "order_number": 1042, "total": "32 000 XOF", "reason": "card declined", "retry_link": "http://localhost:8000/orders/1042/pay"}'),
    ('order_shipped', 'The order left the warehouse.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "order_number": 1042, "carrier": "DHL", "tracking_number": "JD0123456789", "tracking_url": "https://tracking.example/JD0123456789"}'),
    ('order_delivered', 'The order was delivered.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "order_number": 1042}'),
    ('refund', 'A refund was made.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "order_number": 1042, "amount": "15 000 XOF", "reason": "returned item"}'),
    ('return_update', 'A return request changed status.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "order_number": 1042, "status": "approved", "message": "Please ship the item back within 14 days."}'),
    ('review_reply', 'The shop replied to a review.',
     '{"shop_name": "maef", "to": "ada@example.com", "locale": "en", "product_title": "Wax print dress", "reply": "Thank you for your kind words!", "product_link": "http://localhost:8000/products/wax-print-dress"}'),
    ('webhook_endpoint_disabled', 'To admins: a webhook endpoint failed for too long and was disabled.',
     '{"shop_name": "maef", "to": "admin@example.com", "locale": "en", "endpoint_id": 7, "endpoint_url": "https://erp.example/hooks/maef", "failing_since": "2024-05-01T10:00:00Z", "last_error": "HTTP 503"}');

insert into shop.email_template (kind, locale, subject, body_text, body_html) values
('password_reset', 'en', $t${{ shop_name }}: reset your password$t$,
$t$Hello,

Someone (hopefully you) asked to reset the password of your {{ shop_name }} account.
Choose a new password here (the link works once, for {{ expires_in_minutes }} minutes):

{{ link }}

If you did not ask for this, ignore this e-mail: your password stays as it is.
$t$,
$t$<p>Hello,</p>
<p>Someone (hopefully you) asked to reset the password of your {{ shop_name }} account.</p>
<p><a href="{{ link }}">Choose a new password</a> (the link works once, for {{ expires_in_minutes }} minutes).</p>
<p>If you did not ask for this, ignore this e-mail: your password stays as it is.</p>
$t$),
('password_reset', 'fr', $t${{ shop_name }} : réinitialisez votre mot de passe$t$,
$t$Bonjour,

Quelqu'un (vous, espérons-le) a demandé à réinitialiser le mot de passe de votre compte {{ shop_name }}.
Choisissez un nouveau mot de passe ici (le lien sert une fois, pendant {{ expires_in_minutes }} minutes) :

{{ link }}

Si vous n'avez rien demandé, ignorez cet e-mail : votre mot de passe ne change pas.
$t$,
$t$<p>Bonjour,</p>
<p>Quelqu'un (vous, espérons-le) a demandé à réinitialiser le mot de passe de votre compte {{ shop_name }}.</p>
<p><a href="{{ link }}">Choisir un nouveau mot de passe</a> (le lien sert une fois, pendant {{ expires_in_minutes }} minutes).</p>
<p>Si vous n'avez rien demandé, ignorez cet e-mail : votre mot de passe ne change pas.</p>
$t$),
('welcome', 'en', $t$Welcome to {{ shop_name }}$t$,
$t$Hello{% if username %} {{ username }}{% endif %},

Your {{ shop_name }} account ({{ email }}) is ready. Happy shopping!
$t$,
$t$<p>Hello{% if username %} {{ username }}{% endif %},</p>
<p>Your {{ shop_name }} account ({{ email }}) is ready. Happy shopping!</p>
$t$),
('welcome', 'fr', $t$Bienvenue chez {{ shop_name }}$t$,
$t$Bonjour{% if username %} {{ username }}{% endif %},

Votre compte {{ shop_name }} ({{ email }}) est prêt. Bonnes emplettes !
$t$,
$t$<p>Bonjour{% if username %} {{ username }}{% endif %},</p>
<p>Votre compte {{ shop_name }} ({{ email }}) est prêt. Bonnes emplettes !</p>
$t$),
('order_confirmation', 'en', $t${{ shop_name }}: order #{{ order_number }} confirmed$t$,
$t$Thank you for your order #{{ order_number }}.

{% for line in lines %}- {{ line.quantity }} x {{ line.title }}{% if line.variant %} ({{ line.variant }}){% endif %}: {{ line.total }}
{% endfor %}
Subtotal: {{ subtotal }}
Discount: {{ discount }}
Shipping: {{ shipping }}
Tax: {{ tax }}
Total: {{ total }}

Shipping to:
{{ shipping_address.full_name }}
{{ shipping_address.line1 }}{% if shipping_address.line2 %}
{{ shipping_address.line2 }}{% endif %}
{{ shipping_address.postal_code }} {{ shipping_address.city }}, {{ shipping_address.country }}
$t$,
$t$<p>Thank you for your order #{{ order_number }}.</p>
<table>
{% for line in lines %}<tr><td>{{ line.quantity }} &times; {{ line.title }}{% if line.variant %} ({{ line.variant }}){% endif %}</td><td>{{ line.total }}</td></tr>
{% endfor %}<tr><td>Subtotal</td><td>{{ subtotal }}</td></tr>
<tr><td>Discount</td><td>{{ discount }}</td></tr>
<tr><td>Shipping</td><td>{{ shipping }}</td></tr>
<tr><td>Tax</td><td>{{ tax }}</td></tr>
<tr><th>Total</th><th>{{ total }}</th></tr>
</table>
<p>Shipping to:<br>{{ shipping_address.full_name }}<br>{{ shipping_address.line1 }}<br>{% if shipping_address.line2 %}{{ shipping_address.line2 }}<br>{% endif %}{{ shipping_address.postal_code }} {{ shipping_address.city }}, {{ shipping_address.country }}</p>
$t$),
('order_confirmation', 'fr', $t${{ shop_name }} : commande n° {{ order_number }} confirmée$t$,
$t$Merci pour votre commande n° {{ order_number }}.

{% for line in lines %}- {{ line.quantity }} x {{ line.title }}{% if line.variant %} ({{ line.variant }}){% endif %} : {{ line.total }}
{% endfor %}
Sous-total : {{ subtotal }}
Remise : {{ discount }}
Livraison : {{ shipping }}
Taxes : {{ tax }}
Total : {{ total }}

Livraison à :
{{ shipping_address.full_name }}
{{ shipping_address.line1 }}{% if shipping_address.line2 %}
{{ shipping_address.line2 }}{% endif %}
{{ shipping_address.postal_code }} {{ shipping_address.city }}, {{ shipping_address.country }}
$t$,
$t$<p>Merci pour votre commande n° {{ order_number }}.</p>
<table>
{% for line in lines %}<tr><td>{{ line.quantity }} &times; {{ line.title }}{% if line.variant %} ({{ line.variant }}){% endif %}</td><td>{{ line.total }}</td></tr>
{% endfor %}<tr><td>Sous-total</td><td>{{ subtotal }}</td></tr>
<tr><td>Remise</td><td>{{ discount }}</td></tr>
<tr><td>Livraison</td><td>{{ shipping }}</td></tr>
<tr><td>Taxes</td><td>{{ tax }}</td></tr>
<tr><th>Total</th><th>{{ total }}</th></tr>
</table>
<p>Livraison à :<br>{{ shipping_address.full_name }}<br>{{ shipping_address.line1 }}<br>{% if shipping_address.line2 %}{{ shipping_address.line2 }}<br>{% endif %}{{ shipping_address.postal_code }} {{ shipping_address.city }}, {{ shipping_address.country }}</p>
$t$),
('payment_failed', 'en', $t${{ shop_name }}: the payment for order #{{ order_number }} failed$t$,
$t$The payment of {{ total }} for your order #{{ order_number }} failed ({{ reason }}).
You can try again here: {{ retry_link }}
$t$,
$t$<p>The payment of {{ total }} for your order #{{ order_number }} failed ({{ reason }}).</p>
<p><a href="{{ retry_link }}">Try again</a></p>
$t$),
('payment_failed', 'fr', $t${{ shop_name }} : le paiement de la commande n° {{ order_number }} a échoué$t$,
$t$Le paiement de {{ total }} pour votre commande n° {{ order_number }} a échoué ({{ reason }}).
Vous pouvez réessayer ici : {{ retry_link }}
$t$,
$t$<p>Le paiement de {{ total }} pour votre commande n° {{ order_number }} a échoué ({{ reason }}).</p>
<p><a href="{{ retry_link }}">Réessayer</a></p>
$t$),
('order_shipped', 'en', $t${{ shop_name }}: order #{{ order_number }} is on its way$t$,
$t$Your order #{{ order_number }} has shipped with {{ carrier }}.
Tracking number: {{ tracking_number }}{% if tracking_url %}
Follow it here: {{ tracking_url }}{% endif %}
$t$,
$t$<p>Your order #{{ order_number }} has shipped with {{ carrier }}.</p>
<p>Tracking number: {% if tracking_url %}<a href="{{ tracking_url }}">{{ tracking_number }}</a>{% else %}{{ tracking_number }}{% endif %}</p>
$t$),
('order_shipped', 'fr', $t${{ shop_name }} : la commande n° {{ order_number }} est en route$t$,
$t$Votre commande n° {{ order_number }} a été expédiée avec {{ carrier }}.
Numéro de suivi : {{ tracking_number }}{% if tracking_url %}
Suivez-la ici : {{ tracking_url }}{% endif %}
$t$,
$t$<p>Votre commande n° {{ order_number }} a été expédiée avec {{ carrier }}.</p>
<p>Numéro de suivi : {% if tracking_url %}<a href="{{ tracking_url }}">{{ tracking_number }}</a>{% else %}{{ tracking_number }}{% endif %}</p>
$t$),
('order_delivered', 'en', $t${{ shop_name }}: order #{{ order_number }} was delivered$t$,
$t$Your order #{{ order_number }} was delivered. We hope you enjoy it!
$t$,
$t$<p>Your order #{{ order_number }} was delivered. We hope you enjoy it!</p>
$t$),
('order_delivered', 'fr', $t${{ shop_name }} : la commande n° {{ order_number }} a été livrée$t$,
$t$Votre commande n° {{ order_number }} a été livrée. Nous espérons qu'elle vous plaira !
$t$,
$t$<p>Votre commande n° {{ order_number }} a été livrée. Nous espérons qu'elle vous plaira !</p>
$t$),
('refund', 'en', $t${{ shop_name }}: refund for order #{{ order_number }}$t$,
$t$We refunded {{ amount }} for your order #{{ order_number }}{% if reason %} ({{ reason }}){% endif %}.
It may take a few days to appear on your statement.
$t$,
$t$<p>We refunded {{ amount }} for your order #{{ order_number }}{% if reason %} ({{ reason }}){% endif %}.</p>
<p>It may take a few days to appear on your statement.</p>
$t$),
('refund', 'fr', $t${{ shop_name }} : remboursement de la commande n° {{ order_number }}$t$,
$t$Nous avons remboursé {{ amount }} pour votre commande n° {{ order_number }}{% if reason %} ({{ reason }}){% endif %}.
Le remboursement peut mettre quelques jours à apparaître sur votre relevé.
$t$,
$t$<p>Nous avons remboursé {{ amount }} pour votre commande n° {{ order_number }}{% if reason %} ({{ reason }}){% endif %}.</p>
<p>Le remboursement peut mettre quelques jours à apparaître sur votre relevé.</p>
$t$),
('return_update', 'en', $t${{ shop_name }}: your return for order #{{ order_number }} is {{ status }}$t$,
$t$Your return request for order #{{ order_number }} is now {{ status }}.
{% if message %}{{ message }}
{% endif %}$t$,
$t$<p>Your return request for order #{{ order_number }} is now <strong>{{ status }}</strong>.</p>
{% if message %}<p>{{ message }}</p>{% endif %}
$t$),
('return_update', 'fr', $t${{ shop_name }} : votre retour pour la commande n° {{ order_number }} : {{ status }}$t$,
$t$Votre demande de retour pour la commande n° {{ order_number }} est maintenant : {{ status }}.
{% if message %}{{ message }}
{% endif %}$t$,
$t$<p>Votre demande de retour pour la commande n° {{ order_number }} est maintenant : <strong>{{ status }}</strong>.</p>
{% if message %}<p>{{ message }}</p>{% endif %}
$t$),
('review_reply', 'en', $t${{ shop_name }} replied to your review of {{ product_title }}$t$,
$t${{ shop_name }} replied to your review of {{ product_title }}:

{{ reply }}

{{ product_link }}
$t$,
$t$<p>{{ shop_name }} replied to your review of <a href="{{ product_link }}">{{ product_title }}</a>:</p>
<blockquote>{{ reply }}</blockquote>
$t$),
('review_reply', 'fr', $t${{ shop_name }} a répondu à votre avis sur {{ product_title }}$t$,
$t${{ shop_name }} a répondu à votre avis sur {{ product_title }} :

{{ reply }}

{{ product_link }}
$t$,
$t$<p>{{ shop_name }} a répondu à votre avis sur <a href="{{ product_link }}">{{ product_title }}</a> :</p>
<blockquote>{{ reply }}</blockquote>
$t$),
('webhook_endpoint_disabled', 'en', $t${{ shop_name }}: webhook endpoint {{ endpoint_id }} was disabled$t$,
$t$The webhook endpoint {{ endpoint_id }} ({{ endpoint_url }}) failed every delivery since {{ failing_since }} and was disabled.
Last error: {{ last_error }}

Fix the receiver, then enable the endpoint again (PATCH /api/v1/admin/webhook-endpoints/{{ endpoint_id }} with {"enabled": true})
and redeliver what it missed from its delivery log.
$t$,
$t$<p>The webhook endpoint {{ endpoint_id }} (<code>{{ endpoint_url }}</code>) failed every delivery since {{ failing_since }} and was disabled.</p>
<p>Last error: {{ last_error }}</p>
<p>Fix the receiver, then enable the endpoint again (<code>PATCH /api/v1/admin/webhook-endpoints/{{ endpoint_id }}</code> with <code>{"enabled": true}</code>) and redeliver what it missed from its delivery log.</p>
$t$),
('webhook_endpoint_disabled', 'fr', $t${{ shop_name }} : le point de réception webhook {{ endpoint_id }} a été désactivé$t$,
$t$Le point de réception webhook {{ endpoint_id }} ({{ endpoint_url }}) a échoué à chaque livraison depuis {{ failing_since }} et a été désactivé.
Dernière erreur : {{ last_error }}

Réparez le récepteur, puis réactivez le point de réception (PATCH /api/v1/admin/webhook-endpoints/{{ endpoint_id }} avec {"enabled": true})
et relivrez ce qu'il a manqué depuis son journal de livraisons.
$t$,
$t$<p>Le point de réception webhook {{ endpoint_id }} (<code>{{ endpoint_url }}</code>) a échoué à chaque livraison depuis {{ failing_since }} et a été désactivé.</p>
<p>Dernière erreur : {{ last_error }}</p>
<p>Réparez le récepteur, puis réactivez le point de réception (<code>PATCH /api/v1/admin/webhook-endpoints/{{ endpoint_id }}</code> avec <code>{"enabled": true}</code>) et relivrez ce qu'il a manqué depuis son journal de livraisons.</p>
$t$);

revoke all on shop.email_kind, shop.email_template, shop.email_message from public;
