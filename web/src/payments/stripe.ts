// Stripe's Payment Element over the PaymentIntent the API created. Stripe.js is
// loaded from js.stripe.com (Stripe requires it: never bundled or self-hosted) only
// when a shopper pays with Stripe, so no page loads it otherwise. maef-api's
// Content-Security-Policy allows js.stripe.com only when Stripe is configured
// (api/src/web.rs).
//
// Only the few calls used here are typed: `Stripe(pk)`, `elements({clientSecret})`,
// `create("payment")`, `mount`, `confirmPayment` (docs.stripe.com/js).

/** Stripe.js matching the API version maef-api pins (`maef_payments::stripe::API_VERSION`). */
const STRIPE_JS = "https://js.stripe.com/dahlia/stripe.js";

export interface StripeElement {
  mount(target: HTMLElement): void;
  destroy(): void;
}
export interface StripeElements {
  create(type: "payment", options?: Record<string, unknown>): StripeElement;
}
export interface StripeInstance {
  elements(options: { clientSecret: string; locale?: string }): StripeElements;
  confirmPayment(options: {
    elements: StripeElements;
    confirmParams: { return_url: string };
  }): Promise<{ error?: { message?: string; code?: string } }>;
}
type StripeFactory = (publishableKey: string, options?: { locale?: string }) => StripeInstance;

declare global {
  interface Window {
    Stripe?: StripeFactory;
  }
}

let loading: Promise<StripeFactory> | null = null;

/** `window.Stripe`, loading Stripe.js once if the page does not have it yet. */
export function loadStripe(): Promise<StripeFactory> {
  if (window.Stripe) return Promise.resolve(window.Stripe);
  loading ??= new Promise<StripeFactory>((resolve, reject) => {
    const script = document.createElement("script");
    script.src = STRIPE_JS;
    script.async = true;
    script.onload = () => (window.Stripe ? resolve(window.Stripe) : reject(new Error("Stripe.js did not load")));
    script.onerror = () => {
      loading = null;
      script.remove();
      reject(new Error("Stripe.js could not be loaded"));
    };
    document.head.appendChild(script);
  });
  return loading;
}
