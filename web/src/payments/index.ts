// Paying an order (docs/payments.md). Checkout places the order (`POST /checkout`:
// stock reserved, total fixed); the order page then lists the ways the API offers to
// pay *that* order (`GET …/payment-options`: the providers with keys that accept its
// currency, cash on delivery where the store offers it for its address and total) and
// starts the chosen one (`POST …/payments`), whose `next_action` says what follows:
// - `none`: cash on delivery, the order is `confirmed`;
// - `redirect`: FedaPay's or Paystack's hosted page, which sends the shopper back to
//   PAYMENT_CALLBACK_URL — `/orders/{number}/paid` here, the page that waits for the
//   webhook (or the worker's verification) to mark the order paid;
// - `stripe_client_secret`: the PaymentIntent, confirmed in the page with Stripe.js
//   (stripe.ts), which also returns to `/orders/{number}/paid`.
import { api, unwrap, type Schemas } from "../api/client";

export type PaymentOption = Schemas["PaymentOption"];
export type Payment = Schemas["Payment"];
export type ProviderName = Schemas["PaymentProvider"];

/** An order as the payment calls name it: its number and, for a guest, its token. */
export interface OrderRef {
  number: string;
  token?: string;
}

/** The path and, for a guest, the `X-Order-Token` header of a call about `order`. */
export function orderParams(order: OrderRef) {
  return {
    path: { number: order.number },
    header: order.token ? { "X-Order-Token": order.token } : {},
  };
}

/** The Stripe publishable key of this build (`VITE_STRIPE_PUBLISHABLE_KEY`), if any. */
export function stripePublishableKey(): string | null {
  const key = import.meta.env.VITE_STRIPE_PUBLISHABLE_KEY as string | undefined;
  return key && key.startsWith("pk_") ? key : null;
}

/**
 * The ways to pay `order`, as the API offers them. Stripe is left out when this build
 * has no publishable key: the Payment Element cannot be shown without it.
 */
export async function paymentOptions(order: OrderRef, signal?: AbortSignal): Promise<PaymentOption[]> {
  const options = await unwrap(() =>
    api.GET("/api/v1/orders/{number}/payment-options", { params: orderParams(order), signal }),
  );
  return options.providers.filter((p) => p.provider !== "stripe" || stripePublishableKey() !== null);
}

/**
 * Starts paying `order` with `provider`. `key` is the Idempotency-Key of this attempt:
 * a retry after a network failure or a `payment_provider_unreachable` sends the same
 * key (the API answers the same payment, or reaches the provider as the same request).
 */
export function startPayment(order: OrderRef, provider: ProviderName, key: string): Promise<Payment> {
  return unwrap(() =>
    api.POST("/api/v1/orders/{number}/payments", {
      params: { ...orderParams(order), header: { ...orderParams(order).header, "Idempotency-Key": key } },
      body: { provider },
    }),
  );
}

/** The order's payment state and its payments, oldest first (polled after a redirect). */
export function orderPayments(order: OrderRef, signal?: AbortSignal) {
  return unwrap(() => api.GET("/api/v1/orders/{number}/payments", { params: orderParams(order), signal }));
}

/**
 * Whether a failed attempt may be retried with the same Idempotency-Key: the provider
 * may have created the payment (a timeout, a 5xx), and the same key settles it. After
 * a refusal the payment is failed and a new attempt needs a new key.
 */
export function retryWithSameKey(code: string): boolean {
  return code === "payment_provider_unreachable" || code === "payment_provider_error" || code === "network_error";
}

/** The provider's failure named in a 502's details (`{provider, provider_code, http_status}`). */
export function providerFailure(details: string | null): { provider?: string; provider_code?: string } | null {
  if (!details) return null;
  try {
    const parsed = JSON.parse(details) as { provider?: string; provider_code?: string };
    return typeof parsed === "object" && parsed !== null ? parsed : null;
  } catch {
    return null;
  }
}
