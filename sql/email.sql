-- Transactional e-mail (migration V22, docs/email.md).
--
-- A domain queues an e-mail with api._queue_email in the transaction that decides to
-- send it: one shop.email_message row (kind, recipient, locale, the template's
-- context) and one send_email job. maef-worker then:
--   1. api.email_send_begin: takes the message for this attempt (a send lease), or
--      learns there is nothing to do (already sent: the job is completed here);
--   2. renders the kind's template for the message's locale (minijinja) and sends it
--      over SMTP, or writes it to its log without SMTP_URL;
--   3. api.email_send_finish: records the send (status sent or logged) and completes
--      the job, in one transaction committed with synchronous_commit on;
--      or api.email_send_failed: a temporary failure is retried (job backoff), a
--      permanent one (5xx, or email.max_attempts reached) marks the message failed.
-- A retried job (its acknowledgement lost, its lease taken over, a duplicate job) finds
-- the record and sends nothing. What remains at-least-once is the moment between the
-- SMTP server's acceptance and the record's commit (docs/email.md).

-- A text store policy from shop.setting.
create function api._setting_text(p_key text)
returns text
language plpgsql stable as $$
declare
    v_value text;
begin
    select s.value #>> '{}' into v_value from shop.setting s where s.key = p_key and s.value_type = 'text';
    if v_value is null then
        raise exception 'setting % is missing or not text', p_key;
    end if;
    return v_value;
end
$$;
comment on function api._setting_text(text) is 'Private: a text store policy from shop.setting.';

-- The language of an e-mail: the one asked for, else the user's, else the store's
-- default (email.default_locale), else English (a default set to an unsupported
-- language must not stop e-mails).
create function api._email_locale(p_user_id uuid, p_locale text default null)
returns text
language plpgsql stable  -- PL/pgSQL: its plan is kept (see api._order_json)
set search_path = '' as $$
begin
    return coalesce(
        case when p_locale in ('fr', 'en') then p_locale end,
        (select u.locale from shop.app_user u where u.user_id = p_user_id),
        (select l from (select api._setting_text('email.default_locale') as l) d where l in ('fr', 'en')),
        'en');
end
$$;
comment on function api._email_locale(uuid, text) is 'Private: fr or en — the asked locale, else the user''s, else email.default_locale, else en.';

-- Queues an e-mail in the caller's transaction and returns its id: it is sent only if
-- the caller commits. p_data is the template's context (docs/email.md lists each
-- kind's); shop_name, to and locale are added at rendering.
create function api._queue_email(p_kind text, p_to text, p_data jsonb default '{}', p_user_id uuid default null,
                                 p_locale text default null)
returns bigint
language plpgsql
set search_path = '' as $$
declare
    v_id bigint := nextval(pg_get_serial_sequence('shop.email_message', 'email_message_id'));
    v_job_id bigint;
begin
    v_job_id := api.enqueue_job('send_email', jsonb_build_object('email_message_id', v_id), 'email', 0, now(),
                                api._setting_int('email.max_attempts')::integer, 'email:' || v_id);
    insert into shop.email_message (email_message_id, kind, locale, to_address, user_id, data, job_id)
    overriding system value
    values (v_id, p_kind, api._email_locale(p_user_id, p_locale), p_to, p_user_id, coalesce(p_data, '{}'), v_job_id);
    return v_id;
end
$$;
comment on function api._queue_email(text, text, jsonb, uuid, text) is
    'Private: queues an e-mail of a kind (shop.email_kind) to an address with its template context, in the caller''s transaction (one shop.email_message row and one send_email job on queue email); returns its id.';

-- ---------------------------------------------------------------- sending (maef-worker)

-- Start of a send_email attempt. Returns {action: send, to, kind, locale, subject,
-- body_text, body_html (the templates), context, created_at, maybe_sent} or
-- {action: skip, reason} (already sent or failed, or gone: the job is completed here)
-- or {action: wait, retry_in_secs} (another attempt holds the message's send lease:
-- this job is failed here, to look again in two seconds or when that lease ends). maybe_sent: an earlier
-- attempt began sending and never finished (its worker died): it may have been sent.
create function api.email_send_begin(p_email_id bigint, p_job_id bigint, p_job_attempt integer,
                                     p_lease_secs integer default 120)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_email shop.email_message;
    v_template shop.email_template;
    v_wait interval;
begin
    select * into v_email from shop.email_message where email_message_id = p_email_id for update;
    if not found or v_email.status in ('sent', 'logged', 'failed') then
        perform api.complete_job(p_job_id, p_job_attempt);
        return jsonb_build_object('action', 'skip', 'reason',
            case when v_email.email_message_id is null then 'the e-mail no longer exists'
                 else format('the e-mail is %s', v_email.status) end);
    end if;
    if v_email.status = 'sending' and v_email.sending_until > now() then
        -- Look again soon: the other attempt usually finishes in a moment (then this
        -- job finds the e-mail sent), and at the latest its lease ends.
        v_wait := least(v_email.sending_until - now(), interval '2 seconds') + interval '100 milliseconds';
        -- Waiting is not a failure: the attempt does not count against max_attempts
        -- (as a released job's does not).
        update shop.job_queue set max_attempts = max_attempts + 1
        where job_id = p_job_id and attempt = p_job_attempt and locked_until is not null;
        perform api.fail_job(p_job_id, p_job_attempt, 'another attempt is sending this e-mail', v_wait);
        return jsonb_build_object('action', 'wait', 'retry_in_secs', ceil(extract(epoch from v_wait)));
    end if;
    select * into v_template from shop.email_template where kind = v_email.kind and locale = v_email.locale;
    if not found then
        select * into v_template from shop.email_template where kind = v_email.kind order by locale = 'en' desc limit 1;
    end if;
    update shop.email_message
    set status = 'sending', sending_until = now() + make_interval(secs => p_lease_secs), attempts = attempts + 1,
        job_id = p_job_id
    where email_message_id = p_email_id;
    return jsonb_build_object(
        'action', 'send', 'to', v_email.to_address, 'kind', v_email.kind, 'locale', v_email.locale,
        'subject', v_template.subject, 'body_text', v_template.body_text, 'body_html', v_template.body_html,
        'context', v_email.data || jsonb_build_object('shop_name', api._setting_text('email.shop_name'),
                                                      'to', v_email.to_address, 'locale', v_email.locale),
        'created_at', floor(extract(epoch from v_email.created_at) * 1000000)::bigint,
        'maybe_sent', v_email.status = 'sending');
end
$$;
comment on function api.email_send_begin(bigint, bigint, integer, integer) is
    'maef-worker: takes an e-mail for a send_email attempt (send lease of p_lease_secs): {action: send, to, templates, context, maybe_sent} | {action: skip} (job completed) | {action: wait} (job failed until the other attempt''s lease ends).';

-- The e-mail was accepted by the SMTP server (p_transport 'smtp') or written to the
-- log ('log': subject and bodies are kept so GET /api/v1/admin/outbox/emails shows
-- them). Records it whatever the job's state (it was sent: a stale attempt must not
-- let another send it again), then completes the job. Returns whether the job was
-- completed by this call.
create function api.email_send_finish(p_email_id bigint, p_job_id bigint, p_job_attempt integer, p_transport text,
                                      p_message_id text, p_smtp_response text, p_subject text,
                                      p_body_text text, p_body_html text)
returns boolean
language plpgsql security definer
set search_path = '' as $$
begin
    update shop.email_message
    set status = case p_transport when 'log' then 'logged' else 'sent' end, transport = p_transport,
        sent_at = now(), sending_until = null, message_id = p_message_id, smtp_response = left(p_smtp_response, 1000),
        last_error = null,
        subject = p_subject,
        body_text = case when p_transport = 'log' then p_body_text end,
        body_html = case when p_transport = 'log' then p_body_html end
    where email_message_id = p_email_id;
    return api.complete_job(p_job_id, p_job_attempt);
end
$$;
comment on function api.email_send_finish(bigint, bigint, integer, text, text, text, text, text, text) is
    'maef-worker: records an e-mail as sent (smtp) or logged (log, bodies kept), then completes the job; returns whether the job was still held.';

-- The attempt failed. Permanent (the server refused the message or recipient: 5xx, a
-- template that does not render) or the last attempt allowed: the e-mail is failed
-- and the job completed. Otherwise the e-mail is queued again and the job retried
-- after the queue's backoff. Returns 'failed', 'retrying' or 'stale'.
create function api.email_send_failed(p_email_id bigint, p_job_id bigint, p_job_attempt integer, p_error text,
                                      p_permanent boolean)
returns text
language plpgsql security definer
set search_path = '' as $$
declare
    v_job shop.job_queue;
begin
    select * into v_job from shop.job_queue
    where job_id = p_job_id and attempt = p_job_attempt and locked_until is not null for update;
    if not found then
        update shop.email_message set last_error = p_error
        where email_message_id = p_email_id and status = 'sending';
        return 'stale';
    end if;
    if p_permanent or v_job.attempt >= v_job.max_attempts then
        update shop.email_message set status = 'failed', sending_until = null, last_error = p_error
        where email_message_id = p_email_id;
        perform api.complete_job(p_job_id, p_job_attempt);
        return 'failed';
    end if;
    update shop.email_message set status = 'queued', sending_until = null, last_error = p_error
    where email_message_id = p_email_id;
    perform api.fail_job(p_job_id, p_job_attempt, p_error);
    return 'retrying';
end
$$;
comment on function api.email_send_failed(bigint, bigint, integer, text, boolean) is
    'maef-worker: a failed send: permanent or out of attempts → failed (job completed); else queued again (job retried with backoff). Returns failed, retrying or stale.';

-- Deletes e-mail records older than email.retention_days, at most p_limit per call.
create function api.prune_emails(p_limit integer default 10000)
returns bigint
language plpgsql security definer
set search_path = '' as $$
declare
    v_count bigint;
begin
    delete from shop.email_message where email_message_id in (
        select email_message_id from shop.email_message
        where created_at < now() - make_interval(days => api._setting_int('email.retention_days')::integer)
          and status <> 'sending'
        limit p_limit);
    get diagnostics v_count = row_count;
    perform api._count_retention('emails', v_count);  -- report.retention (sql/privacy.sql)
    return v_count;
end
$$;
comment on function api.prune_emails(integer) is 'Deletes up to p_limit e-mail records older than email.retention_days; returns how many.';

-- ---------------------------------------------------------------- administration

-- The outbox: e-mails newest first (keyset by id), with optional filters. Subject and
-- bodies are shown for e-mails written to the log (no SMTP_URL: development).
create function api.admin_list_emails(p_limit integer default 50, p_before bigint default null,
                                      p_status text default null, p_kind text default null, p_to text default null)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_limit integer := coalesce(p_limit, 50);
    v_page jsonb;
begin
    perform api._require_scope('emails:admin');
    if v_limit not between 1 and 200 then
        raise exception using errcode = 'MA422', constraint = 'invalid_limit', message = 'limit must be between 1 and 200';
    end if;
    if p_status is not null and p_status not in ('queued', 'sending', 'sent', 'logged', 'failed') then
        raise exception using errcode = 'MA422', constraint = 'invalid_status',
            message = 'status must be queued, sending, sent, logged or failed';
    end if;
    select jsonb_build_object(
        'items', coalesce(jsonb_agg(jsonb_build_object(
                     'id', s.email_message_id, 'kind', s.kind, 'locale', s.locale, 'to', s.to_address,
                     'status', s.status, 'attempts', s.attempts, 'transport', s.transport,
                     'message_id', s.message_id, 'subject', s.subject, 'body_text', s.body_text,
                     'body_html', s.body_html, 'last_error', s.last_error, 'job_id', s.job_id,
                     'created_at', s.created_at, 'sent_at', s.sent_at)
                 order by s.email_message_id desc) filter (where s.n <= v_limit), '[]'::jsonb),
        'next_cursor', case when count(*) > v_limit then
                           (min(s.email_message_id) filter (where s.n <= v_limit))::text end)
    into v_page
    from (select m.*, row_number() over (order by m.email_message_id desc) as n
          from shop.email_message m
          where (p_before is null or m.email_message_id < p_before)
            and (p_status is null or m.status = p_status)
            and (p_kind is null or m.kind = p_kind)
            and (p_to is null or m.to_address = lower(btrim(p_to)))
          order by m.email_message_id desc
          limit v_limit + 1) s;
    return v_page;
end
$$;
comment on function api.admin_list_emails(integer, bigint, text, text, text) is
    'The e-mail outbox newest first {items, next_cursor}; filters status, kind, to. Subject and bodies of logged e-mails (no SMTP_URL). Needs emails:admin.';

-- Every template: kind, its description, locale, subject, last change.
create function api.admin_list_email_templates()
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
begin
    perform api._require_scope('emails:admin');
    return jsonb_build_object('items', coalesce((
        select jsonb_agg(jsonb_build_object('kind', t.kind, 'locale', t.locale, 'description', k.description,
                                            'subject', t.subject, 'updated_at', t.updated_at)
                         order by t.kind, t.locale)
        from shop.email_template t join shop.email_kind k using (kind)), '[]'::jsonb));
end
$$;
comment on function api.admin_list_email_templates() is 'Every e-mail template {items: kind, locale, description, subject, updated_at}. Needs emails:admin.';

-- One template with its kind's sample context (what a preview renders by default).
create function api.admin_get_email_template(p_kind text, p_locale text)
returns jsonb
language plpgsql stable security definer
set search_path = '' as $$
declare
    v_template jsonb;
begin
    perform api._require_scope('emails:admin');
    select jsonb_build_object('kind', t.kind, 'locale', t.locale, 'description', k.description,
                              'subject', t.subject, 'body_text', t.body_text, 'body_html', t.body_html,
                              'sample', k.sample || jsonb_build_object('locale', t.locale),
                              'updated_at', t.updated_at, 'updated_by', t.updated_by)
    into v_template
    from shop.email_template t join shop.email_kind k using (kind)
    where t.kind = p_kind and t.locale = p_locale;
    if v_template is null then
        raise exception using errcode = 'MA404', constraint = 'email_template_not_found',
            message = format('no %s template in %s', p_kind, p_locale),
            hint = 'GET /api/v1/admin/email-templates lists them; locales are fr and en.';
    end if;
    return v_template;
end
$$;
comment on function api.admin_get_email_template(text, text) is
    'A template {kind, locale, subject, body_text, body_html, sample, updated_at}. Errors: MA404 email_template_not_found. Needs emails:admin.';

-- Replaces a template's subject and bodies {subject, body_text, body_html} (maef-api
-- has compiled and rendered them with the kind's sample first: a template that does
-- not render never reaches this function over HTTP). Audited with the previous text.
create function api.admin_save_email_template(p_kind text, p_locale text, p_template jsonb)
returns jsonb
language plpgsql security definer
set search_path = '' as $$
declare
    v_before shop.email_template;
begin
    perform api._require_scope('emails:admin');
    perform api._reject_unknown(p_template, '$', array['subject', 'body_text', 'body_html']);
    select * into v_before from shop.email_template where kind = p_kind and locale = p_locale for update;
    if not found then
        raise exception using errcode = 'MA404', constraint = 'email_template_not_found',
            message = format('no %s template in %s', p_kind, p_locale);
    end if;
    update shop.email_template set
        subject = coalesce(api._text_field(p_template, 'subject', '$'), subject),
        body_text = coalesce(api._text_field(p_template, 'body_text', '$'), body_text),
        body_html = coalesce(api._text_field(p_template, 'body_html', '$'), body_html),
        updated_by = shop.current_user_id()
    where kind = p_kind and locale = p_locale;
    perform api._audit('email_template_updated', 'email_template', p_kind || '/' || p_locale,
                       jsonb_build_object('before', jsonb_build_object('subject', v_before.subject,
                           'body_text', v_before.body_text, 'body_html', v_before.body_html), 'patch', p_template));
    return api.admin_get_email_template(p_kind, p_locale);
end
$$;
comment on function api.admin_save_email_template(text, text, jsonb) is
    'Changes a template {subject?, body_text?, body_html?}; audited with the previous text. Errors: MA404 email_template_not_found, MA422 invalid_field, 23514 email_template_*_check (lengths). Needs emails:admin.';

-- ---------------------------------------------------------------- reports

-- Every e-mail: to, kind, status, job (for psql; no bodies, no context).
create view report.emails as
select m.email_message_id, m.created_at, m.to_address, m.kind, m.locale, m.status, m.transport, m.attempts,
       m.job_id, m.message_id, m.sent_at, m.last_error
from shop.email_message m;
comment on view report.emails is 'Every e-mail sent or queued: to, kind, locale, status, transport, attempts, job, Message-ID, sent_at, last error.';

-- ---------------------------------------------------------------- who may call these
-- Deny by default: maef-api migrate revokes EXECUTE from PUBLIC, so a function is
-- callable only by its owner (maef-worker, DBAs) until it is granted here.
-- Admins (each function checks emails:admin):
grant execute on function
    api.admin_list_emails(integer,bigint,text,text,text),
    api.admin_list_email_templates(),
    api.admin_get_email_template(text,text),
    api.admin_save_email_template(text,text,jsonb)
    to maef_admin;
-- Not granted (owner only: maef-worker, DBAs): api.email_send_begin,
-- api.email_send_finish, api.email_send_failed, api.prune_emails.
