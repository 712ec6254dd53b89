// How an order is paid, one provider per entry. Checkout places the order first
// (`POST /api/v1/checkout`: stock reserved, total fixed), then asks the chosen
// provider to start the payment of that order, which ends in one of two ways:
// - `done`: nothing more in the browser (cash on delivery: the courier collects);
// - `redirect`: the provider's hosted page (FedaPay, Paystack; Stripe Checkout),
//   which sends the shopper back to the order page when paid.
//
// Adding a provider is adding an entry to `PROVIDERS` (its labels are in i18n). Which
// ones a shop offers is its build's `VITE_PAYMENT_PROVIDERS` (comma list, default
// `cod`), until the API says which providers have keys (issue 16).
import { startPayment } from "../api/optional";
import { idempotencyKey } from "../api/client";

export type PaymentOutcome = { kind: "done" } | { kind: "redirect"; url: string };

export interface PaymentProvider {
  /** The provider's name in the payments API (`cod`, `stripe`, `fedapay`, `paystack`). */
  id: string;
  /** Shown to shoppers (a brand name; cash on delivery is translated). */
  name: string;
  kind: "offline" | "redirect";
  start: (order: { number: string; token?: string }) => Promise<PaymentOutcome>;
}

const cashOnDelivery: PaymentProvider = {
  id: "cod",
  name: "cod",
  kind: "offline",
  async start(order) {
    // Choosing cash on delivery confirms the order (its stock stops expiring). An API
    // without the payments route leaves the order awaiting payment, as checkout made it.
    await startPayment(order.number, "cod", idempotencyKey(), order.token);
    return { kind: "done" };
  },
};

function hosted(id: string, name: string): PaymentProvider {
  return {
    id,
    name,
    kind: "redirect",
    async start(order) {
      const answer = await startPayment(order.number, id, idempotencyKey(), order.token);
      const url = answer?.payment_url ?? answer?.authorization_url;
      if (!url) throw new Error(`${name}: the API gave no payment page for order ${order.number}`);
      return { kind: "redirect", url };
    },
  };
}

const PROVIDERS: PaymentProvider[] = [
  cashOnDelivery,
  hosted("stripe", "Stripe"),
  hosted("fedapay", "FedaPay"),
  hosted("paystack", "Paystack"),
];

/** The providers this build offers, in the order configured. */
export function offeredProviders(): PaymentProvider[] {
  const configured = (import.meta.env.VITE_PAYMENT_PROVIDERS ?? "cod")
    .split(",")
    .map((s: string) => s.trim())
    .filter(Boolean);
  return configured
    .map((id: string) => PROVIDERS.find((p) => p.id === id))
    .filter((p: PaymentProvider | undefined): p is PaymentProvider => p !== undefined);
}
