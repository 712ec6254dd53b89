// Helpers of the browser tests: Debian's Chromium driven by playwright-core (no
// browser download), the real maef-api at MAEF_BASE_URL serving the built storefront,
// fixtures made through the API as an administrator, and screenshots of each step.
//
// Environment (scripts/test-web.sh sets it):
//   MAEF_BASE_URL        the API + storefront, e.g. http://127.0.0.1:41234
//   MAEF_ADMIN_EMAIL, MAEF_ADMIN_PASSWORD   an administrator (fixtures)
//   CHROMIUM_PATH        default /usr/bin/chromium
//   SCREENSHOT_DIR       default ../target/web-e2e
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
export const BASE_URL = process.env.MAEF_BASE_URL ?? "http://127.0.0.1:8000";
export const SCREENSHOT_DIR = resolve(process.env.SCREENSHOT_DIR ?? join(here, "../../target/web-e2e"));
mkdirSync(SCREENSHOT_DIR, { recursive: true });

/** A phone (most of these shops' customers) and a desktop screen. */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };
export const DESKTOP = { viewport: { width: 1280, height: 900 } };

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    // Root in CI: Chromium's sandbox needs an unprivileged user.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/**
 * A new browser context (a shopper: its own storage, so its own cart and session)
 * whose pages fail the test on any uncaught error or console error — a
 * Content-Security-Policy violation, a failed chunk, a React warning.
 */
export async function shopper(browser, options = {}) {
  const context = await browser.newContext({ baseURL: BASE_URL, locale: "en-GB", ...PHONE, ...options });
  const errors = [];
  context.on("page", (page) => watch(page, errors));
  context.errors = errors;
  return track(context);
}

function watch(page, errors) {
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    // The browser logs every 4xx/5xx fetch as a console error; the refusals a test
    // provokes on purpose (409, 404, 422…) are asserted on the page instead.
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    errors.push(`console: ${text}`);
  });
}

let step = 0;
/**
 * A full-page screenshot named `<nn>-<name>.png` under SCREENSHOT_DIR (the sticky
 * header is pinned to the top for it, else it shows wherever the page was scrolled),
 * and `<nn>-<name>.jpg`, the first screenful — or the screenful from `at` (a locator)
 * down — small enough for docs/storefront.md.
 */
export async function screenshot(page, name, { at } = {}) {
  step += 1;
  const base = join(SCREENSHOT_DIR, `${String(step).padStart(2, "0")}-${name}`);
  const pin = await page.addStyleTag({ content: ".site-header { position: static !important; }" });
  await page.screenshot({ path: `${base}.png`, fullPage: true, animations: "disabled" });
  if (at) await at.evaluate((element) => element.scrollIntoView({ block: "start" }));
  else await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${base}.jpg`, type: "jpeg", quality: 70 });
  await pin.evaluate((style) => style.remove());
  return `${base}.png`;
}

/** One API call (fixtures, and reading what the page shows from the source). */
export async function api(path, { method = "GET", body, token, headers = {} } = {}) {
  const response = await fetch(`${BASE_URL}${path}`, {
    method,
    headers: {
      ...(body ? { "Content-Type": "application/json" } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return json;
}

export async function adminToken() {
  const email = process.env.MAEF_ADMIN_EMAIL;
  const password = process.env.MAEF_ADMIN_PASSWORD;
  if (!email || !password) throw new Error("MAEF_ADMIN_EMAIL and MAEF_ADMIN_PASSWORD must name an administrator");
  const tokens = await api("/api/v1/auth/login", { method: "POST", body: { email, password } });
  return tokens.access_token;
}

/** A coupon of `percent` % off the items, with a code unique to this run. */
export async function createCoupon(token, percent) {
  const promotion = await api("/api/v1/admin/promotions", {
    method: "POST",
    token,
    body: {
      name: `Welcome -${percent} %`,
      rules: { action: { type: "percent_off_items", percent } },
      stacking: "combinable",
    },
  });
  const code = `WELCOME${percent}${Date.now().toString(36).toUpperCase()}`;
  await api(`/api/v1/admin/promotions/${promotion.promotion_id}/coupons`, { method: "POST", token, body: { code } });
  return code;
}

/** Leaves exactly `available` units of a variant to sell (at its first location). */
export async function setAvailable(token, variantId, available) {
  const stock = await api(`/api/v1/admin/variants/${variantId}/stock`, { token });
  const level = stock.levels[0];
  const target = level.qty_reserved + available;
  if (level.qty_on_hand === target) return;
  await api(`/api/v1/admin/variants/${variantId}/stock-adjustments`, {
    method: "POST",
    token,
    body: { location: level.location, qty_on_hand: target, reason: "browser test" },
  });
}

/** The guest cart's quote as the API computes it, for the session a page holds. */
export async function quoteOf(page) {
  const session = await page.evaluate(() => localStorage.getItem("maef.cart_session"));
  const token = await page.evaluate(() => localStorage.getItem("maef.access_token"));
  return api("/api/v1/cart", { token: token ?? undefined, headers: session && !token ? { "X-Cart-Session": session } : {} });
}

/** Figures measured in the browser, appended to SCREENSHOT_DIR/metrics.json. */
const metrics = {};
export function record(name, value) {
  metrics[name] = value;
  writeFileSync(join(SCREENSHOT_DIR, "metrics.json"), JSON.stringify(metrics, null, 2));
  console.log(`# figure: ${name} = ${JSON.stringify(value)}`);
}

const open = new Set();
/** Every context `shopper` made and the test has not closed (for failure screenshots). */
export function track(context) {
  open.add(context);
  context.on("close", () => open.delete(context));
  return context;
}

/**
 * Runs a scenario; on failure, a screenshot of every open page (`failure-<name>`)
 * is written before the error is re-thrown, so a red run shows what the shopper saw.
 */
export function scenario(name, fn) {
  return async () => {
    try {
      await fn();
    } catch (error) {
      for (const context of open) {
        for (const page of context.pages()) await screenshot(page, `failure-${name}`).catch(() => undefined);
      }
      throw error;
    } finally {
      for (const context of open) await context.close().catch(() => undefined);
    }
  };
}

/**
 * The fake payment providers scripts/test-web.sh started (tests/src/bin/fake_providers.rs):
 * FedaPay's transactions as maef-api created them, and a payment settled the way a
 * customer on FedaPay's page would, answered with the webhook FedaPay then sends.
 */
export const fakeFedapay = {
  control: process.env.FAKE_PROVIDERS_CONTROL,
  async transaction(id) {
    return (await fetch(`${this.control}/fedapay/transactions/${id}`)).json();
  },
  /** Sets the transaction's status and delivers FedaPay's signed webhook to maef-api. */
  async settle(id, status) {
    const event = await (await fetch(`${this.control}/fedapay/transactions/${id}/${status}`, { method: "POST" })).json();
    const response = await fetch(`${BASE_URL}/api/v1/webhooks/fedapay`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-FEDAPAY-SIGNATURE": event.signature },
      body: event.body,
    });
    if (!response.ok) throw new Error(`webhook refused: ${response.status} ${await response.text()}`);
    return response.json();
  },
};

/** A customer account made through the API: its e-mail, password and access token. */
export async function customer(prefix) {
  const unique = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  const email = `${prefix}.${unique}@example.com`;
  const password = "correct-horse-battery-staple";
  await api("/api/v1/auth/register", { method: "POST", body: { email, password, username: `${prefix}${unique}` } });
  const { access_token } = await api("/api/v1/auth/login", { method: "POST", body: { email, password } });
  return { email, password, token: access_token };
}

/** Signs `page` in through the login form. */
export async function signIn(page, { email, password }) {
  await page.goto("/login");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/account$/);
}

/** Headers of a call about an order: a guest's token, if any. */
export function orderHeaders(order) {
  return order.token ? { "X-Order-Token": order.token } : {};
}

/**
 * An order placed through the API, as the storefront places one: a cart in XOF for
 * Senegal, `items` ([{variant_id, quantity}]), the quote's delivery method, checkout
 * with the quoted total — by the customer of `token`, or a guest (the answer then
 * carries the order's `token`). Paid `"cod"` (cash on delivery: confirmed) or not.
 */
export async function placeOrder({ token, items, pay = "cod", email = "guest@example.com" }) {
  const opened = await api("/api/v1/cart", { method: "POST", token, body: { currency: "XOF", shipping_country: "SN" } });
  const headers = token ? {} : { "X-Cart-Session": opened.session };
  for (const item of items) await api("/api/v1/cart/items", { method: "POST", token, headers, body: item });
  const quote = await api("/api/v1/cart", { token, headers });
  if (!quote.shipping_method) throw new Error("the quote has no delivery method");
  const order = await api("/api/v1/checkout", {
    method: "POST",
    token,
    headers: { ...headers, "Idempotency-Key": randomUUID() },
    body: {
      ...(token ? {} : { email }),
      shipping_address: { full_name: "Aminata Fall", line1: "5 avenue Pompidou", city: "Dakar", country: "SN", phone: "77 765 43 21" },
      shipping_method: quote.shipping_method.code,
      expected_total: quote.grand_total,
    },
  });
  if (pay === "cod") {
    await api(`/api/v1/orders/${order.number}/payments`, {
      method: "POST",
      token,
      headers: { ...orderHeaders(order), "Idempotency-Key": randomUUID() },
      body: { provider: "cash_on_delivery" },
    });
  }
  return order;
}

/** A variant of a demo product that is in stock (the last one listed, as the keyboard test picks). */
export async function inStockVariant(slug) {
  const product = await api(`/api/v1/products/${slug}`);
  const variant = product.variants.filter((v) => v.stock_status !== "out_of_stock").at(-1);
  if (!variant) throw new Error(`${slug}: no variant in stock`);
  return variant;
}

/** Staff, through the admin API: the courier brought the cash (the order is paid, its invoice issued). */
export function markPaid(admin, number) {
  return api(`/api/v1/admin/orders/${number}/mark-paid`, { method: "POST", token: admin, body: { note: "browser test" } });
}

/** Staff ship `lines` ([{order_item_id, quantity}]) in one parcel, then move it through `states`. */
export async function ship(admin, number, lines, { carrier = "dhl", tracking, states = ["shipped"] } = {}) {
  const created = await api(`/api/v1/admin/orders/${number}/shipments`, {
    method: "POST",
    token: admin,
    body: { lines, carrier, tracking_number: tracking ?? null },
  });
  let shipment = created.shipment;
  for (const status of states) {
    shipment = (await api(`/api/v1/admin/shipments/${shipment.id}/status`, { method: "POST", token: admin, body: { status } })).shipment;
  }
  return shipment;
}
