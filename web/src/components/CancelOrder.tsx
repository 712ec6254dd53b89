// The customer cancels their order (`POST /api/v1/orders/{number}/cancel`,
// docs/fulfilment.md), after a confirmation step. The order says until when it may
// (`cancellable_until`: placed, nothing shipped, within CANCEL_WINDOW_MINUTES), so the
// button is offered only then; a page left open may still meet a refusal
// (`cancellation_window_passed`, `order_already_shipped`…), shown as the API says it.
import { useEffect, useId, useRef, useState, type FormEvent } from "react";
import { api, unwrap, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { formatMoney } from "../lib/money";
import { orderParams, type OrderRef } from "../payments";
import { ProblemAlert } from "./ProblemAlert";

type Order = Schemas["Order"];
type Cancellation = Schemas["Cancellation"];

/** Whether the page offers the cancellation (the API has the last word). */
export function mayCancel(order: Order): boolean {
  return order.cancellable_until !== null && Date.parse(order.cancellable_until) > Date.now();
}

interface Props {
  order: Order;
  orderRef: OrderRef;
  /** The order changed (cancelled, or found shipped): reload it. */
  onChanged: () => void;
}

export function CancelOrder({ order, orderRef, onChanged }: Props) {
  const { t, locale } = useI18n();
  const ids = useId();
  const [stage, setStage] = useState<"idle" | "confirm" | "busy">("idle");
  const [reason, setReason] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState<Cancellation | null>(null);
  const question = useRef<HTMLParagraphElement>(null);
  const result = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (stage === "confirm") question.current?.focus();
  }, [stage]);
  useEffect(() => {
    if (done) result.current?.focus();
  }, [done]);

  if (done) {
    const refund = done.refund;
    return (
      <div className="success" role="status" tabIndex={-1} ref={result} data-testid="cancel-result">
        <p>{t.cancel.done}</p>
        {refund && (
          <p data-testid="cancel-refund" data-amount={refund.amount} data-status={refund.status}>
            {t.cancel.refund(formatMoney(refund.amount, refund.currency, locale, order.exponent), refund.status)}
          </p>
        )}
      </div>
    );
  }
  if (!mayCancel(order)) {
    return error !== null ? (
      <div data-testid="cancel-error">
        <ProblemAlert error={error} />
      </div>
    ) : null;
  }

  async function cancel(event: FormEvent) {
    event.preventDefault();
    setStage("busy");
    setError(null);
    try {
      const cancellation = await unwrap(() =>
        api.POST("/api/v1/orders/{number}/cancel", {
          params: orderParams(orderRef),
          body: { reason: reason.trim() || null },
        }),
      );
      setDone(cancellation);
      onChanged();
    } catch (problem) {
      setError(problem);
      setStage("idle");
      // A refusal may mean the order moved on (shipped, cancelled by the shop): show it.
      onChanged();
    }
  }

  return (
    <section aria-labelledby={`${ids}-title`} className="cancel-order" data-testid="cancel-order">
      <h2 id={`${ids}-title`} className="visually-hidden">
        {t.cancel.button}
      </h2>
      {error !== null && (
        <div data-testid="cancel-error">
          <ProblemAlert error={error} />
        </div>
      )}
      {stage === "idle" ? (
        <button type="button" onClick={() => setStage("confirm")} data-testid="cancel-start">
          {t.cancel.button}
        </button>
      ) : (
        <form onSubmit={cancel} className="confirm" data-testid="cancel-confirm" noValidate>
          <p tabIndex={-1} ref={question}>
            <strong>{t.cancel.question}</strong>
            {order.payment_status === "paid" && <> {t.cancel.refunded}</>}
          </p>
          <div className="field">
            <label htmlFor={`${ids}-reason`}>{t.cancel.reason}</label>
            <textarea id={`${ids}-reason`} value={reason} rows={2} maxLength={500} onChange={(e) => setReason(e.target.value)} />
          </div>
          <div className="inline">
            <button type="submit" className="danger" disabled={stage === "busy"}>
              {stage === "busy" ? t.cancel.cancelling : t.cancel.confirm}
            </button>
            <button type="button" disabled={stage === "busy"} onClick={() => setStage("idle")}>
              {t.cancel.keep}
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
