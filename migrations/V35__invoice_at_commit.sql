-- V35: a paid order's invoice is numbered at commit.
--
-- Invoice numbers have no gaps (V32, sql/invoices.sql): the issuing transaction updates
-- the (kind, year) row of shop.invoice_counter and holds its lock until it ends, so
-- concurrent payments take their numbers one at a time. Until V35, api.mark_order_paid
-- issued the invoice in the middle of the payment's transaction, and every later step —
-- the payment.succeeded event, the confirmation e-mail, the webhook's own bookkeeping,
-- the commit's WAL flush — ran with the counter locked: applying verified payment
-- webhooks at 8 connections ran at the speed of one (263/s with one client or eight,
-- docs/benchmarks.md#payments-make-bench-payments).
--
-- The invoice is now issued by a deferred constraint trigger: when an order's
-- payment_status becomes 'paid', api._issue_invoice runs as the transaction commits,
-- after everything else it does, so the counter is held for the numbering and the
-- commit alone. Nothing else changes: the invoice exists if and only if the payment
-- committed, a transaction that fails at commit gives its number back, and every path
-- that marks an order paid (webhook, re-fetch, staff, a DBA's UPDATE) gets its invoice.
-- Inside the paying transaction the invoice does not exist yet; `SET CONSTRAINTS
-- customer_order_invoice_at_commit IMMEDIATE` issues it at once.

create function shop.customer_order_invoice_at_commit() returns trigger
language plpgsql security definer  -- at commit the role is the request's (SET LOCAL role)
set search_path = '' as $$
begin
    perform api._issue_invoice(new.order_id);  -- once per order: a second call returns the first
    return null;
end
$$;
revoke all on function shop.customer_order_invoice_at_commit() from public;
comment on function shop.customer_order_invoice_at_commit() is
    'Trigger (deferred): issues the invoice of an order that became paid, as its transaction commits (V35).';

create constraint trigger customer_order_invoice_at_commit
    after update of payment_status on shop.customer_order
    deferrable initially deferred
    for each row
    when (new.payment_status = 'paid' and old.payment_status is distinct from 'paid')
    execute function shop.customer_order_invoice_at_commit();
