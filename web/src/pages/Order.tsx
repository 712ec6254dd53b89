// An order (`GET /api/v1/orders/{number}`): its status, lines, totals, delivery and
// its timeline. A customer reads theirs with their token; a guest with the order's
// token, kept by this browser at checkout (or `?token=` from the e-mail's link).
// Right after checkout (`?placed=1`) it is the confirmation page. While the order
// awaits payment it holds the payment step (also at `/orders/{number}/pay`, the
// payment_failed e-mail's link); `/orders/{number}/paid` is where FedaPay, Paystack
// and Stripe send the shopper back: it waits for the payment to be settled.
// After-sales (docs/fulfilment.md): the parcels and their tracking, each line's
// shipped / returned / cancelled units, the invoice and credit notes, cancelling the
// order while nothing has shipped, and returns of delivered items.
import { useEffect, useMemo, useState } from "react";
import { useParams, useSearchParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { CancelOrder } from "../components/CancelOrder";
import { OrderDocuments } from "../components/OrderDocuments";
import { PaymentStep } from "../components/PaymentStep";
import { ProblemAlert } from "../components/ProblemAlert";
import { QuoteSummary } from "../components/QuoteSummary";
import { Returns } from "../components/Returns";
import { Shipments } from "../components/Shipments";
import { useI18n } from "../i18n";
import { formatMoney } from "../lib/money";
import { useAsync } from "../lib/useAsync";
import { orderPayments, type OrderRef, type Payment } from "../payments";
import { session } from "../state/session";

type Order = Schemas["Order"];

/** How often the return page asks whether the payment is settled, and for how long. */
const POLL_MS = 1500;
const POLL_FOR_MS = 3 * 60_000;

export default function OrderPage({ returning = false }: { returning?: boolean }) {
  const { t } = useI18n();
  const { number = "" } = useParams();
  const [params] = useSearchParams();
  const placed = params.get("placed") === "1";
  const linkToken = params.get("token");
  useEffect(() => {
    if (linkToken) session.rememberOrderToken(number, linkToken);
  }, [linkToken, number]);
  const token = linkToken ?? session.orderToken(number);
  const orderRef = useMemo<OrderRef>(() => ({ number, token: token ?? undefined }), [number, token]);
  const order = useAsync(
    (signal) =>
      unwrap(() =>
        api.GET("/api/v1/orders/{number}", {
          params: { path: { number }, header: token ? { "X-Order-Token": token } : {} },
          signal,
        }),
      ),
    [number, token],
  );
  if (order.error) return <ProblemAlert error={order.error} />;
  if (!order.data) return <p className="loading">{t.catalog.loading}</p>;
  return (
    <OrderView
      order={order.data}
      placed={placed}
      returning={returning}
      orderRef={orderRef}
      reload={order.reload}
      guest={!!token && !session.signedIn()}
    />
  );
}

interface ViewProps {
  order: Order;
  placed: boolean;
  returning: boolean;
  orderRef: OrderRef;
  reload: () => void;
  guest: boolean;
}

function OrderView({ order, placed, returning, orderRef, reload, guest }: ViewProps) {
  const { t, locale, dateTime } = useI18n();
  const money = (amount: number) => formatMoney(amount, order.currency, locale, order.exponent);
  const address = order.shipping_address;
  // What a timeline entry moved to, in the words of its kind.
  const eventTarget = (kind: string, to: string) =>
    (kind === "shipment"
      ? t.shipments.statuses[to]
      : kind === "return"
        ? t.returns.statuses[to]
        : (t.order.eventTargets[to] ?? t.order.statuses[to])) ?? to;
  return (
    <article className="order" aria-labelledby="order-title">
      {placed && (
        <p className="success" role="status" data-testid="order-placed">
          {t.order.thanks}
        </p>
      )}
      <h1 id="order-title" data-testid="order-number">
        {t.order.number(order.number)}
      </h1>
      {order.placed_at && <p>{t.order.placedOn(dateTime(order.placed_at))}</p>}
      <p>
        {t.order.status}:{" "}
        <strong className={`status status-${order.status}`} data-testid="order-status">
          {t.order.statuses[order.status] ?? order.status}
        </strong>
      </p>
      {order.status === "confirmed" && order.payment_status !== "paid" && (
        <p>{t.order.payOnDelivery}</p>
      )}
      {order.status === "awaiting_payment" && order.reservation_expires_at && (
        <p>{t.order.reservedUntil(dateTime(order.reservation_expires_at))}</p>
      )}
      {placed && guest && <p className="note">{t.order.keepLink}</p>}
      {order.status === "awaiting_payment" &&
        (returning ? (
          <AwaitingPayment order={orderRef} onSettled={reload} />
        ) : (
          <PaymentStep order={orderRef} onConfirmed={reload} />
        ))}

      <section aria-labelledby="lines-title">
        <h2 id="lines-title">{t.order.lines}</h2>
        <table className="lines">
          <thead>
            <tr>
              <th scope="col">{t.cart.item}</th>
              <th scope="col">{t.cart.unitPrice}</th>
              <th scope="col">{t.cart.quantity}</th>
              <th scope="col">{t.cart.lineTotal}</th>
            </tr>
          </thead>
          <tbody>
            {order.lines.map((line) => (
              <tr key={line.id} data-sku={line.sku}>
                <th scope="row">
                  {line.product_title}
                  <span className="variant-name">{line.variant_name}</span>
                  {line.discounts.map((d, i) => (
                    <small key={i} className="line-discount">
                      {d.name}: −{money(d.amount)}
                    </small>
                  ))}
                  {line.backordered_quantity > 0 && <small>{t.order.backordered(line.backordered_quantity)}</small>}
                  {line.quantity_shipped + line.quantity_returned + line.quantity_cancelled > 0 && (
                    <small
                      className="line-counts"
                      data-testid="line-counts"
                      data-shipped={line.quantity_shipped}
                      data-returned={line.quantity_returned}
                      data-cancelled={line.quantity_cancelled}
                    >
                      {t.order.lineCounts(line.quantity_shipped, line.quantity_returned, line.quantity_cancelled)}
                    </small>
                  )}
                </th>
                <td data-label={t.cart.unitPrice}>{money(line.unit_price)}</td>
                <td data-label={t.cart.quantity}>{line.quantity}</td>
                <td data-label={t.cart.lineTotal}>{money(line.total)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <QuoteSummary
          totals={{
            currency: order.currency,
            exponent: order.exponent,
            subtotal: order.subtotal,
            discount_total: order.discount_total,
            shipping_total: order.shipping_total,
            tax_total: order.tax_total,
            grand_total: order.grand_total,
            tax_inclusive: order.prices_include_tax,
            hasShipping: order.shipping_method !== null,
          }}
        />
      </section>

      <Shipments shipments={order.shipments} />
      <Returns order={order} orderRef={orderRef} onChanged={reload} />
      {order.status !== "awaiting_payment" && order.status !== "expired" && <OrderDocuments order={order} orderRef={orderRef} />}
      <CancelOrder order={order} orderRef={orderRef} onChanged={reload} />

      {order.shipping_method && (
        <section aria-labelledby="delivery-title">
          <h2 id="delivery-title">{t.order.method}</h2>
          <p>{order.shipping_method.name}</p>
          {address && (
            <address>
              {[address.full_name, address.company, address.line1, address.line2, [address.postal_code, address.city].filter(Boolean).join(" "), address.region, address.country, address.phone]
                .filter(Boolean)
                .map((part, i) => (
                  <span key={i}>
                    {part}
                    <br />
                  </span>
                ))}
            </address>
          )}
        </section>
      )}

      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">{t.order.timeline}</h2>
        <ol className="timeline" data-testid="timeline">
          {order.events.map((event, i) => (
            <li key={i}>
              <time dateTime={event.at}>{dateTime(event.at)}</time>{" "}
              <strong>{t.order.events[event.kind] ?? event.kind}</strong>
              {event.to && (
                <span>
                  {" "}
                  → {eventTarget(event.kind, event.to)}
                </span>
              )}
              {event.note && <p className="note">{event.note}</p>}
            </li>
          ))}
        </ol>
      </section>
    </article>
  );
}

/**
 * Back from the provider: the webhook (or the worker's verification of it) settles the
 * payment a moment later, so this asks the API until the order is paid or the payment
 * failed — then the order is reloaded (paid), or the payment step offered again.
 */
function AwaitingPayment({ order, onSettled }: { order: OrderRef; onSettled: () => void }) {
  const { t } = useI18n();
  const [outcome, setOutcome] = useState<{ failed: Payment | null; slow: boolean; error: unknown }>({
    failed: null,
    slow: false,
    error: null,
  });
  useEffect(() => {
    const controller = new AbortController();
    const started = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = async () => {
      try {
        const state = await orderPayments(order, controller.signal);
        if (controller.signal.aborted) return;
        if (state.order.status !== "awaiting_payment" || state.order.payment_status === "paid") {
          onSettled();
          return;
        }
        const last = state.payments[state.payments.length - 1];
        if (last && (last.status === "failed" || last.status === "cancelled")) {
          setOutcome({ failed: last, slow: false, error: null });
          return;
        }
        setOutcome((o) => ({ ...o, error: null }));
      } catch (error) {
        if (controller.signal.aborted) return;
        setOutcome((o) => ({ ...o, error }));
      }
      if (Date.now() - started > POLL_FOR_MS) setOutcome((o) => ({ ...o, slow: true }));
      else timer = setTimeout(check, POLL_MS);
    };
    check();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [order, onSettled]);

  if (outcome.failed) {
    return (
      <>
        <div className="alert" role="alert" data-testid="payment-failed">
          <p>{t.payment.failed}</p>
          {outcome.failed.failure_message && <p>{outcome.failed.failure_message}</p>}
        </div>
        <PaymentStep order={order} onConfirmed={onSettled} />
      </>
    );
  }
  return (
    <div role="status" aria-live="polite" data-testid="payment-waiting">
      <p className="loading">{outcome.slow ? t.payment.slow : t.payment.waiting}</p>
      {outcome.error !== null && <ProblemAlert error={outcome.error} />}
    </div>
  );
}
