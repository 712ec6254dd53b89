// The payment step of an order awaiting payment (the order page, right after
// checkout, and `/orders/{number}/pay` from the payment_failed e-mail): the ways the
// API offers for this order, then the chosen one started (payments/index.ts). A
// provider's failure (502 with `{provider, provider_code}`) or a refusal (422
// `cash_on_delivery_unavailable`, 409 `order_not_payable`…) is shown above the button.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiProblem, idempotencyKey } from "../api/client";
import { useI18n } from "../i18n";
import { useAsync } from "../lib/useAsync";
import {
  paymentOptions,
  providerFailure,
  retryWithSameKey,
  startPayment,
  stripePublishableKey,
  type OrderRef,
  type ProviderName,
} from "../payments";
import { loadStripe, type StripeElements, type StripeInstance } from "../payments/stripe";
import { ProblemAlert } from "./ProblemAlert";

export function PaymentStep({ order, onConfirmed }: { order: OrderRef; onConfirmed: () => void }) {
  const { t } = useI18n();
  const options = useAsync((signal) => paymentOptions(order, signal), [order.number, order.token]);
  const [chosen, setChosen] = useState<ProviderName | null>(null);
  const [state, setState] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  const [stripeSecret, setStripeSecret] = useState<string | null>(null);
  // One Idempotency-Key per provider until that attempt is settled: a retry after a
  // timeout reaches the provider as the same request; a refusal makes a new one.
  const keys = useRef(new Map<ProviderName, string>());

  const offered = options.data ?? [];
  const selected = chosen ?? offered[0]?.provider ?? null;

  async function pay(event: FormEvent) {
    event.preventDefault();
    if (!selected) return;
    const key = keys.current.get(selected) ?? idempotencyKey();
    keys.current.set(selected, key);
    setState({ busy: true, error: null });
    try {
      const payment = await startPayment(order, selected, key);
      const next = payment.next_action;
      if (next?.type === "redirect" && next.url) {
        window.location.assign(next.url);
        return;
      }
      if (next?.type === "stripe_client_secret" && next.client_secret) {
        setStripeSecret(next.client_secret);
        setState({ busy: false, error: null });
        return;
      }
      setState({ busy: false, error: null });
      onConfirmed();
    } catch (error) {
      if (!(error instanceof ApiProblem && retryWithSameKey(error.code))) keys.current.delete(selected);
      setState({ busy: false, error });
    }
  }

  if (stripeSecret) return <StripePayment order={order} clientSecret={stripeSecret} />;
  return (
    <form className="payment-step" onSubmit={pay} aria-labelledby="payment-title" data-testid="payment-step">
      <h2 id="payment-title">{t.payment.title}</h2>
      {options.error !== null && <ProblemAlert error={options.error} />}
      {options.loading && !options.data && <p className="loading">{t.catalog.loading}</p>}
      {options.data && offered.length === 0 && <p data-testid="no-payment-option">{t.payment.none}</p>}
      {offered.length > 0 && (
        <fieldset>
          <legend>{t.payment.choose}</legend>
          {offered.map((option) => (
            <label key={option.provider} className="radio-card">
              <input
                type="radio"
                name="payment"
                value={option.provider}
                checked={selected === option.provider}
                onChange={() => setChosen(option.provider)}
              />
              <span className="radio-card-body">
                <strong>{providerLabel(option.provider, option.name, t.payment.cod)}</strong>
                <small>{option.kind === "offline" ? t.payment.codHelp : t.payment.redirectHelp(option.name)}</small>
              </span>
            </label>
          ))}
        </fieldset>
      )}
      <PaymentProblem error={state.error} />
      {offered.length > 0 && (
        <button type="submit" className="primary" disabled={state.busy} data-testid="pay">
          {state.busy ? t.payment.paying : selected === "cash_on_delivery" ? t.payment.confirmCod : t.payment.pay}
        </button>
      )}
    </form>
  );
}

function providerLabel(provider: ProviderName, name: string, cod: string): string {
  return provider === "cash_on_delivery" ? cod : name;
}

/** The problem, and for a provider's failure, which provider said what. */
function PaymentProblem({ error }: { error: unknown }) {
  const { t } = useI18n();
  if (!error) return null;
  const failure = error instanceof ApiProblem && error.status === 502 ? providerFailure(error.problem.details) : null;
  return (
    <div data-testid="payment-error">
      <ProblemAlert error={error} />
      {failure?.provider && (
        <p className="note" data-testid="provider-failure">
          {t.payment.providerSaid(failure.provider, failure.provider_code ?? "")}
        </p>
      )}
      {error instanceof ApiProblem && retryWithSameKey(error.code) && <p className="note">{t.payment.retrySafe}</p>}
    </div>
  );
}

/**
 * Stripe's Payment Element for the PaymentIntent's client secret; confirming sends the
 * shopper through any 3-D Secure step, then back to `/orders/{number}/paid`.
 */
function StripePayment({ order, clientSecret }: { order: OrderRef; clientSecret: string }) {
  const { t, locale } = useI18n();
  const mountRef = useRef<HTMLDivElement>(null);
  const stripeRef = useRef<{ stripe: StripeInstance; elements: StripeElements } | null>(null);
  const [state, setState] = useState<{ ready: boolean; busy: boolean; error: string | null }>({
    ready: false,
    busy: false,
    error: null,
  });

  useEffect(() => {
    const key = stripePublishableKey();
    if (!key) return;
    let cancelled = false;
    let element: { destroy(): void } | null = null;
    loadStripe().then(
      (Stripe) => {
        if (cancelled || !mountRef.current) return;
        const stripe = Stripe(key, { locale });
        const elements = stripe.elements({ clientSecret, locale });
        const payment = elements.create("payment");
        payment.mount(mountRef.current);
        element = payment;
        stripeRef.current = { stripe, elements };
        setState((s) => ({ ...s, ready: true }));
      },
      (error: Error) => !cancelled && setState((s) => ({ ...s, error: error.message })),
    );
    return () => {
      cancelled = true;
      element?.destroy();
    };
  }, [clientSecret, locale]);

  async function confirm(event: FormEvent) {
    event.preventDefault();
    const current = stripeRef.current;
    if (!current) return;
    setState((s) => ({ ...s, busy: true, error: null }));
    const returnUrl = `${window.location.origin}/orders/${encodeURIComponent(order.number)}/paid`;
    const { error } = await current.stripe.confirmPayment({
      elements: current.elements,
      confirmParams: { return_url: returnUrl },
    });
    // Only an immediate error comes back here (a declined card, an invalid field):
    // otherwise the browser is already on its way to the return URL.
    setState({ ready: true, busy: false, error: error?.message ?? null });
  }

  return (
    <form className="payment-step" onSubmit={confirm} aria-labelledby="stripe-title" data-testid="stripe-step">
      <h2 id="stripe-title">{t.payment.card}</h2>
      <div ref={mountRef} data-testid="stripe-element" />
      {!state.ready && !state.error && <p className="loading">{t.catalog.loading}</p>}
      {state.error && (
        <p className="alert" role="alert">
          {state.error}
        </p>
      )}
      <button type="submit" className="primary" disabled={!state.ready || state.busy} data-testid="stripe-pay">
        {state.busy ? t.payment.paying : t.payment.pay}
      </button>
    </form>
  );
}
