// Routes that other issues are adding to the API while this storefront is written:
// reviews (issue 19) and payments (issue 16). Until they are in the OpenAPI
// document, their shapes here follow those issues; an API without them answers
// 404 `route_not_found`, which these functions turn into "not available" (`null`),
// so the storefront works against an API with or without them.
//
// When a route lands in the document: `npm run gen:api`, then replace the function
// below with the typed client (`api.GET("/api/v1/products/{slug}/reviews", …)`), and
// the compiler points at every field that differs from what was assumed here.
import { ApiProblem, networkProblem } from "./client";
import { session } from "../state/session";

/** A published review (issue 19: `GET /api/v1/products/{slug}/reviews`). */
export interface Review {
  id: number | string;
  rating: number;
  title?: string | null;
  body: string;
  author?: string | null;
  verified_purchase?: boolean;
  created_at: string;
  reply?: string | null;
}

export interface ReviewPage {
  items: Review[];
  next_cursor?: string | null;
}

async function call<T>(path: string, init?: RequestInit): Promise<T | null> {
  const headers = new Headers(init?.headers);
  const token = session.accessToken();
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (init?.body) headers.set("Content-Type", "application/json");
  let response: Response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch (error) {
    throw networkProblem(error);
  }
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.ok) return body as T;
  if (response.status === 404 && body?.code === "route_not_found") return null;
  throw new ApiProblem(response.status, {
    code: body?.code ?? `http_${response.status}`,
    message: body?.message ?? `HTTP ${response.status}`,
    details: body?.details ?? null,
    hint: body?.hint ?? null,
  });
}

/** The product's approved reviews, newest first; null when the API has no reviews. */
export function productReviews(slug: string, signal?: AbortSignal): Promise<ReviewPage | null> {
  return call<ReviewPage>(`/api/v1/products/${encodeURIComponent(slug)}/reviews?sort=recent`, { signal });
}

/**
 * What `POST /api/v1/orders/{number}/payments` answers (issue 16): Stripe's
 * `client_secret`; FedaPay's and Paystack's hosted page (`payment_url` or
 * `authorization_url`); nothing to do for cash on delivery.
 */
export interface PaymentStart {
  provider: string;
  status?: string;
  payment_url?: string | null;
  authorization_url?: string | null;
  client_secret?: string | null;
}

/**
 * Starts paying `order` with `provider` (the order's customer, or a guest with the
 * order's token), with an Idempotency-Key so a retry reaches the provider once. Null
 * when the API has no payments route yet: the order stays as checkout left it.
 */
export function startPayment(
  number: string,
  provider: string,
  key: string,
  orderToken?: string,
): Promise<PaymentStart | null> {
  const headers: Record<string, string> = { "Idempotency-Key": key };
  if (orderToken) headers["X-Order-Token"] = orderToken;
  return call<PaymentStart>(`/api/v1/orders/${encodeURIComponent(number)}/payments`, {
    method: "POST",
    headers,
    body: JSON.stringify({ provider }),
  });
}
