// The storefront in a real browser (Debian's Chromium) against the real maef-api and
// maef-worker on a database with the demo shop (scripts/test-web.sh starts them).
// Each scenario is what a shopper does, on a phone unless said otherwise; what the
// page shows is checked against what the API computed.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { after, before, test } from "node:test";
import {
  adminToken,
  api,
  BASE_URL,
  createCoupon,
  customer,
  DESKTOP,
  fakeFedapay,
  inStockVariant,
  launch,
  markPaid,
  orderHeaders,
  placeOrder,
  quoteOf,
  record,
  scenario,
  screenshot,
  setAvailable,
  ship,
  shopper,
  signIn,
} from "./lib.mjs";

/** Per scenario: each waits at most 30 s for any one thing (Playwright's default). */
const TIMEOUT = 120_000;

let browser;
let admin;
let coupon;

before(async () => {
  browser = await launch();
  admin = await adminToken();
  coupon = await createCoupon(admin, 10);
});

after(async () => {
  await browser?.close();
});

/** The problem JSON the API answers for a call that is meant to be refused. */
async function problemOf(path, headers = {}) {
  const response = await fetch(`${BASE_URL}${path}`, { headers });
  assert.ok(response.status >= 400, `${path} answered ${response.status}`);
  return response.json();
}

function assertNoErrors(context) {
  assert.deepEqual(context.errors, [], "the pages logged errors");
}

/** Adds `quantity` of the chosen variant on the open product page. */
async function addToCart(page, quantity) {
  await page.getByLabel("Quantity", { exact: true }).fill(String(quantity));
  await page.getByRole("button", { name: "Add to cart" }).click();
  await page.getByText("Added to your cart.").waitFor();
}

/** Fills the checkout's contact and Senegalese address (line1, city, phone required). */
async function fillAddress(page, { email, name }) {
  if (email) await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Country").selectOption("SN");
  await page.getByLabel("Full name").fill(name);
  await page.getByLabel("Address", { exact: true }).fill("12 rue Carnot");
  await page.getByLabel("City").fill("Dakar");
  await page.getByLabel("Phone").fill("77 123 45 67");
}

test("a shopper browses, searches with a typo, buys with cash on delivery and finds the order in their history", { timeout: TIMEOUT }, scenario("checkout", async () => {
  const context = await shopper(browser);
  const page = await context.newPage();
  const email = `awa.${Date.now()}@example.com`;
  const password = "correct-horse-battery-staple";

  // An account first (register), then signed out: the shopping is done as a guest.
  await page.goto("/register");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByTestId("account-email").filter({ hasText: email }).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(`${BASE_URL}/`);

  // Home: featured products and the stories carousel, with their images loaded.
  await page.goto("/");
  await page.getByTestId("featured").getByRole("listitem").first().waitFor();
  const featured = await api("/api/v1/products?featured=true&limit=8");
  assert.equal(await page.getByTestId("featured").getByRole("listitem").count(), featured.items.length);
  // Alt text from the media API's `alt`, on every product image.
  const alts = await page.getByTestId("featured").locator("img").evaluateAll((imgs) => imgs.map((i) => i.alt));
  assert.deepEqual(alts, featured.items.map((p) => p.image?.alt || p.title));
  await page.getByTestId("stories").getByRole("listitem").first().waitFor();
  const storyImage = page.getByTestId("stories").locator("img").first();
  await storyImage.scrollIntoViewIfNeeded();
  await page.waitForFunction((img) => img.complete && img.naturalWidth > 0, await storyImage.elementHandle());
  await screenshot(page, "home");

  // Autocomplete, then a search with a typo: "chemsie" finds the shirts.
  const search = page.getByRole("combobox", { name: "Search products" });
  await search.fill("chem");
  await page.getByRole("option", { name: /Chemise en lin blanc/ }).waitFor();
  await search.fill("chemsie");
  await search.press("Enter");
  await page.waitForURL(/\/search\?q=chemsie/);
  const results = page.getByTestId("search-results");
  await results.getByRole("link", { name: /Chemise en lin blanc/ }).waitFor();
  await results.getByRole("link", { name: /Chemise en wax manches courtes/ }).waitFor();
  await screenshot(page, "search-typo");

  // The price filter (30 000 XOF and up) keeps the linen shirt only.
  await page.getByLabel("Minimum price").fill("30 000");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL(/min_price=30000/);
  await results.getByRole("link", { name: /Chemise en wax manches courtes/ }).waitFor({ state: "detached" });
  assert.equal(await results.getByRole("listitem").count(), 1);
  await results.getByRole("link", { name: /Chemise en lin blanc/ }).click();

  // Product page: the gallery's srcset comes from the derivatives; pick white, L.
  await page.waitForURL(/\/products\/chemise-en-lin-blanc/);
  await page.getByRole("heading", { name: "Chemise en lin blanc" }).waitFor();
  const srcset = await page.locator(".gallery img").getAttribute("srcset");
  assert.match(srcset, /\?variant=thumb \d+w/);
  const webp = await page.locator(".gallery source[type='image/webp']").getAttribute("srcset");
  assert.match(webp, /\?variant=webp \d+w/);
  const product = await api("/api/v1/products/chemise-en-lin-blanc");
  const white = product.variants.find((v) => v.name === "Blanc / L");
  await page.getByRole("radio", { name: white.attributes.color, exact: true }).check();
  await page.getByRole("radio", { name: white.attributes.size, exact: true }).check();
  await page.getByTestId("stock-status").waitFor();
  await addToCart(page, 2);
  await page.getByTestId("cart-count").filter({ hasText: "2" }).waitFor();
  await screenshot(page, "product");

  // Cart: the line, a coupon, the totals exactly as the API quotes them.
  await page.goto("/cart");
  await page.getByRole("row", { name: /Chemise en lin blanc/ }).waitFor();
  await page.getByLabel("Coupon code").fill(coupon.toLowerCase());
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByTestId("coupon-applied").waitFor();
  await page.getByTestId("discount-total").waitFor();
  const quote = await quoteOf(page);
  assert.equal(quote.lines.length, 1);
  assert.equal(quote.lines[0].variant_id, white.id);
  assert.equal(quote.lines[0].quantity, 2);
  assert.ok(quote.discount_total > 0, "the coupon gives a discount");
  assert.equal(Number(await page.getByTestId("grand-total").getAttribute("data-amount")), quote.grand_total);
  assert.equal(Number(await page.getByTestId("discount-total").getAttribute("data-amount")), quote.discount_total);
  await screenshot(page, "cart");

  // Checkout: sign in from the checkout (the guest cart merges into the account's),
  // then the address, cash on delivery, and the order.
  await page.getByTestId("to-checkout").click();
  await page.getByRole("link", { name: "Have an account? Sign in" }).click();
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/checkout$/);
  await page.getByText(`Signed in as ${email}`).waitFor();
  await fillAddress(page, { name: "Awa Diop" });
  const merged = await quoteOf(page);
  assert.equal(merged.grand_total, quote.grand_total, "the merged cart keeps the lines and the coupon");
  await screenshot(page, "checkout");
  await page.getByTestId("place-order").click();

  // The order is placed (awaiting payment); its payment step lists what the API
  // offers for it, and cash on delivery through the payments route confirms it.
  await page.waitForURL(/\/orders\/\d{4}-\d{6}\?placed=1/);
  await page.getByTestId("order-placed").waitFor();
  const number = (await page.getByTestId("order-number").textContent()).replace("Order ", "");
  const token = await page.evaluate(() => localStorage.getItem("maef.access_token"));
  const options = await api(`/api/v1/orders/${number}/payment-options`, { token });
  const step = page.getByTestId("payment-step");
  await step.getByRole("radio").first().waitFor();
  assert.equal(await step.getByRole("radio").count(), options.providers.length, "one choice per option the API lists");
  await step.getByRole("radio", { name: /Cash on delivery/ }).check();
  await screenshot(page, "payment-step");
  await step.getByRole("button", { name: "Confirm the order, pay on delivery" }).click();

  // Confirmed, with the total the shopper saw, and the order's timeline.
  await page.getByTestId("order-status").filter({ hasText: "Confirmed" }).waitFor();
  await page.getByText("You pay in cash on delivery.").waitFor();
  const order = await api(`/api/v1/orders/${number}`, { token });
  assert.equal(order.status, "confirmed");
  assert.equal(order.grand_total, quote.grand_total);
  const payments = await api(`/api/v1/orders/${number}/payments`, { token });
  assert.deepEqual(payments.payments.map((p) => [p.provider, p.status]), [["cash_on_delivery", "pending"]]);
  assert.equal(Number(await page.getByTestId("grand-total").getAttribute("data-amount")), quote.grand_total);
  assert.ok((await page.getByTestId("timeline").getByRole("listitem").count()) >= 1);
  assert.equal(await page.getByTestId("payment-step").count(), 0, "a confirmed order has no payment step");
  await screenshot(page, "order-confirmation");

  // Signed out and in again: the order is in the account's history.
  await page.goto("/account");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.goto("/login");
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/account$/);
  await page.getByTestId("order-history").getByRole("link", { name: number }).click();
  await page.waitForURL(new RegExp(`/orders/${number}$`));
  await page.getByTestId("order-status").waitFor();
  await screenshot(page, "order-history");
  assertNoErrors(context);
  await context.close();
}));

test("the last unit bought in another tab: the checkout says which line is short", { timeout: TIMEOUT }, scenario("out-of-stock", async () => {
  const product = await api("/api/v1/products/kimono-imprime-pagne");
  const variant = product.variants[0];
  await setAvailable(admin, variant.id, 1);

  const context = await shopper(browser, DESKTOP);
  const page = await context.newPage();
  await page.goto(`/products/${product.slug}`);
  await page.getByRole("radio", { name: variant.attributes.color }).check();
  await page.getByRole("radio", { name: variant.attributes.size, exact: true }).check();
  await addToCart(page, 1);
  // A second line, in stock, which must not be blamed.
  await page.goto("/products/dashiki-brode-en-coton");
  await addToCart(page, 1);
  await page.goto("/checkout");
  await fillAddress(page, { email: "first@example.com", name: "Fatou Sow" });

  // Meanwhile another shopper, in another tab, buys the last unit.
  const other = await shopper(browser, DESKTOP);
  const tab = await other.newPage();
  await tab.goto(`/products/${product.slug}`);
  await tab.getByRole("radio", { name: variant.attributes.color }).check();
  await tab.getByRole("radio", { name: variant.attributes.size, exact: true }).check();
  await addToCart(tab, 1);
  await tab.goto("/checkout");
  await fillAddress(tab, { email: "second@example.com", name: "Moussa Ba" });
  await tab.getByTestId("place-order").click();
  await tab.getByTestId("order-placed").waitFor();

  // The first shopper places the order: refused, and the kimono's line says why.
  await page.getByTestId("place-order").click();
  await page.getByTestId("checkout-notice").waitFor();
  const shortLine = page.getByRole("row").filter({ has: page.getByTestId("line-shortage") });
  assert.equal(await shortLine.count(), 1, "exactly one line is marked short");
  assert.equal(await shortLine.getAttribute("data-sku"), variant.sku);
  assert.match(await shortLine.getByTestId("line-shortage").textContent(), /Out of stock: you asked for 1, none is left/);
  assert.match(page.url(), /\/checkout$/, "no order was placed");
  await screenshot(page, "out-of-stock-line");
  assertNoErrors(context);
  assertNoErrors(other);
  await context.close();
  await other.close();
}));

test("in French: labels, prices in F CFA, the typo'd 'robbe' finds the dress, API errors translated next to their field", { timeout: TIMEOUT }, scenario("french", async () => {
  const context = await shopper(browser, { locale: "fr-FR" });
  const page = await context.newPage();
  await page.goto("/");
  await page.getByRole("heading", { name: "Produits à la une" }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), "fr");

  const search = page.getByRole("combobox", { name: "Rechercher des produits" });
  await search.fill("robbe");
  await search.press("Enter");
  await page.getByTestId("search-results").getByRole("link", { name: /Robe d'été en wax/ }).waitFor();
  await page.getByRole("heading", { name: /1 résultat pour « robbe »/ }).waitFor();
  await page.getByTestId("search-results").getByRole("link").first().click();
  await page.getByRole("button", { name: "Ajouter au panier" }).waitFor();
  assert.match(await page.locator(".product-buy .price-now").textContent(), /29\s500\sF\sCFA/);
  await screenshot(page, "product-fr");

  await page.getByRole("button", { name: "Ajouter au panier" }).click();
  await page.getByText("Ajouté à votre panier.").waitFor();
  await page.goto("/cart");
  await page.getByLabel("Code promo").fill("N-EXISTE-PAS");
  await page.getByRole("button", { name: "Appliquer" }).click();
  const couponError = page.locator("#coupon-error");
  await couponError.waitFor();
  assert.equal(await couponError.getAttribute("data-code"), "coupon_not_found");
  assert.match(await couponError.textContent(), /Ce code promo n’existe pas/);

  // A French address with a malformed postal code: the API's 422 names the field.
  await page.getByTestId("to-checkout").click();
  await page.getByLabel("E-mail").fill("claire@example.com");
  await page.getByLabel("Pays").selectOption("FR");
  await page.getByLabel("Nom complet").fill("Claire Martin");
  await page.getByLabel("Adresse", { exact: true }).fill("3 rue de la Paix");
  await page.getByLabel("Ville").fill("Paris");
  await page.getByLabel("Code postal").fill("75A01");
  await page.getByTestId("place-order").click();
  const postal = page.getByLabel("Code postal");
  await page.locator(".field-invalid").filter({ has: postal }).waitFor();
  assert.equal(await postal.getAttribute("aria-invalid"), "true");
  await screenshot(page, "checkout-field-error-fr");
  assertNoErrors(context);
  await context.close();
}));

test("the API explorer at /docs: authorise with a token and run an operation", { timeout: TIMEOUT }, scenario("explorer", async () => {
  const email = `docs.${Date.now()}@example.com`;
  const password = "correct-horse-battery-staple";
  await api("/api/v1/auth/register", { method: "POST", body: { email, password } });
  const { access_token } = await api("/api/v1/auth/login", { method: "POST", body: { email, password } });

  const context = await shopper(browser, DESKTOP);
  const page = await context.newPage();
  await page.goto("/docs");
  await page.getByRole("button", { name: /Authorize/ }).first().click();
  await page.locator(".modal-ux input").first().fill(access_token);
  await page.locator(".modal-ux button.authorize").click();
  await page.locator(".modal-ux button.btn-done").click();

  // Swagger UI renders only the operations near the viewport, so an operation is
  // reached by its deep link (deepLinking is on), as a reader following a shared link
  // would; the token survives the new page load (persistAuthorization).
  await page.goto("about:blank");
  await page.goto("/docs#/users/me");
  const operation = page.locator("#operations-users-me.is-open");
  await operation.waitFor();
  await operation.getByRole("button", { name: "Try it out" }).click();
  await operation.getByRole("button", { name: "Execute" }).click();
  const status = operation.locator(".live-responses-table tbody .response-col_status").first();
  await status.waitFor();
  assert.equal((await status.textContent()).trim(), "200");
  assert.match(await operation.locator(".live-responses-table .microlight").first().textContent(), new RegExp(email));
  await screenshot(page, "api-explorer");
  await context.close();
}));

test("the catalog: category tree, sort by price, keyset pages without a repeat or a gap", { timeout: TIMEOUT }, scenario("catalog", async () => {
  const context = await shopper(browser, DESKTOP);
  const page = await context.newPage();
  await page.goto("/catalog");
  const tree = page.getByRole("navigation", { name: "Categories" });
  await tree.getByRole("link", { name: /^Mode \(/ }).click();
  await page.waitForURL(/\/catalog\/mode$/);
  await page.getByLabel("Sort by").selectOption("price_asc");
  await page.waitForURL(/sort=price_asc/);
  const expected = await api("/api/v1/products?category=mode&sort=price_asc&currency=XOF&limit=100");
  const grid = page.getByTestId("product-grid");
  const titles = () => grid.locator(".card-title").allTextContents();
  await page.waitForFunction(() => document.querySelectorAll("[data-testid=product-grid] .card-title").length === 12);
  while (await page.getByRole("button", { name: "Load more" }).isVisible()) {
    const before = (await titles()).length;
    await page.getByRole("button", { name: "Load more" }).click();
    await page.waitForFunction((n) => document.querySelectorAll("[data-testid=product-grid] .card-title").length > n, before);
  }
  assert.deepEqual(await titles(), expected.items.map((p) => p.title));
  assert.equal(await tree.getByRole("link", { name: /^Mode \(/ }).getAttribute("aria-current"), "page");
  await screenshot(page, "catalog");
  assertNoErrors(context);
  await context.close();
}));

test("with the keyboard alone: skip link, autocomplete with the arrows, add to cart", { timeout: TIMEOUT }, scenario("keyboard", async () => {
  const context = await shopper(browser, DESKTOP);
  const page = await context.newPage();
  await page.goto("/");
  // The page is rendered by script: wait for it before the first key.
  await page.getByTestId("featured").getByRole("listitem").first().waitFor();
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "main");

  await page.getByRole("combobox", { name: "Search products" }).focus();
  await page.keyboard.type("dashi");
  const option = page.getByRole("option", { name: /Dashiki brodé en coton/ });
  await option.waitFor();
  await page.keyboard.press("ArrowDown");
  assert.equal(await option.getAttribute("aria-selected"), "true");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/products\/dashiki-brode-en-coton/);

  // The variant radios and the button work by keys.
  const product = await api("/api/v1/products/dashiki-brode-en-coton");
  const inStock = product.variants.filter((v) => v.stock_status !== "out_of_stock").at(-1);
  // (A value without a variant in stock under the other choices says so in its name.)
  const radio = page.getByRole("radio", { name: new RegExp(`^${inStock.attributes.color}`) });
  await radio.focus();
  await page.keyboard.press("Space");
  assert.ok(await radio.isChecked());
  const add = page.getByRole("button", { name: "Add to cart" });
  await add.focus();
  await page.keyboard.press("Enter");
  await page.getByText("Added to your cart.").waitFor();
  assertNoErrors(context);
  await context.close();
}));

test("the home page's Largest Contentful Paint and first-page weight (figures, not assertions)", { timeout: TIMEOUT }, scenario("lcp", async () => {
  const context = await shopper(browser, { ...DESKTOP, locale: "fr-FR" });
  const page = await context.newPage();
  const transferred = [];
  page.on("response", async (response) => {
    const type = response.request().resourceType();
    if (type === "script" || type === "stylesheet") {
      transferred.push(Number((await response.headerValue("content-length")) ?? 0));
    }
  });
  await page.goto("/", { waitUntil: "networkidle" });
  const lcp = await page.evaluate(
    () =>
      new Promise((resolve) => {
        new PerformanceObserver((list) => {
          const entries = list.getEntries();
          resolve(entries[entries.length - 1].startTime);
        }).observe({ type: "largest-contentful-paint", buffered: true });
      }),
  );
  record("home_lcp_ms", Math.round(lcp));
  record(
    "home_js_css_transferred_bytes",
    transferred.reduce((a, b) => a + b, 0),
  );
  // A measurement, not a timed assertion: it only has to exist.
  assert.ok(lcp > 0);
  await context.close();
}));

test("a guest pays with FedaPay: the API's hosted page, back to the order page, paid once the webhook lands", { timeout: TIMEOUT }, scenario("fedapay", async () => {
  const context = await shopper(browser, DESKTOP);
  // FedaPay's hosted page is on the internet, which the test cannot reach: the browser
  // is answered locally for it, as FedaPay's page would be, and the test then does
  // what FedaPay does — settles the transaction (in the fake) and sends the webhook.
  const hosted = [];
  await context.route("https://process.fedapay.com/**", (route) => {
    hosted.push(route.request().url());
    return route.fulfill({ contentType: "text/html", body: "<!doctype html><title>FedaPay</title><h1>FedaPay (local stand-in)</h1>" });
  });
  const page = await context.newPage();
  await page.goto("/products/dashiki-brode-en-coton");
  await addToCart(page, 1);
  await page.goto("/checkout");
  await fillAddress(page, { email: "kofi@example.com", name: "Kofi Mensah" });
  await page.getByTestId("place-order").click();
  await page.waitForURL(/\/orders\/\d{4}-\d{6}\?placed=1/);
  const number = (await page.getByTestId("order-number").textContent()).replace("Order ", "");
  const orderToken = await page.evaluate((n) => JSON.parse(localStorage.getItem("maef.order_tokens") ?? "{}")[n], number);
  assert.ok(orderToken, "the guest's order token is kept by the browser");

  const step = page.getByTestId("payment-step");
  await step.getByRole("radio", { name: /FedaPay/ }).check();
  await step.getByRole("button", { name: "Pay now" }).click();
  await page.waitForURL(/^https:\/\/process\.fedapay\.com\//);
  await page.getByRole("heading", { name: "FedaPay (local stand-in)" }).waitFor();

  // The page followed is the one the API returned, for a transaction of the order's
  // amount whose callback is this storefront's return page.
  const headers = { "X-Order-Token": orderToken };
  const payments = await api(`/api/v1/orders/${number}/payments`, { headers });
  const payment = payments.payments.at(-1);
  assert.equal(payment.provider, "fedapay");
  assert.equal(payment.status, "pending");
  assert.equal(hosted.length, 1);
  const transactionId = Number(new URL(hosted[0]).pathname.split("/").pop());
  const transaction = await fakeFedapay.transaction(transactionId);
  assert.equal(transaction.callback_url, `${BASE_URL}/orders/${number}/paid`);
  const order = await api(`/api/v1/orders/${number}`, { headers });
  assert.equal(transaction.amount, order.grand_total);

  // FedaPay sends the shopper back before its webhook: the page waits for it…
  await page.goto(transaction.callback_url);
  await page.getByTestId("payment-waiting").waitFor();
  assert.equal(await page.getByTestId("order-status").textContent(), "Awaiting payment");
  await screenshot(page, "payment-waiting");
  // …which arrives; maef re-fetches the transaction from FedaPay (maef-worker), and
  // the page shows the order paid without a reload.
  const outcome = await fakeFedapay.settle(transactionId, "approved");
  assert.equal(outcome.outcome, "verification_enqueued");
  await page.getByTestId("order-status").filter({ hasText: "Paid" }).waitFor();
  const paid = await api(`/api/v1/orders/${number}`, { headers });
  assert.equal(paid.status, "paid");
  assert.equal(paid.payment_status, "paid");
  await screenshot(page, "payment-paid");
  assertNoErrors(context);
  await context.close();
}));

test("reviews: one written and shown once approved, sorted, filtered and paged, voted helpful; field errors from the API", { timeout: TIMEOUT }, scenario("reviews", async () => {
  const slug = "robe-d-ete-en-wax";
  // Other customers' reviews, approved, so the list has more than one page (5).
  const ratings = [5, 3, 4, 5, 2, 5];
  for (const [i, rating] of ratings.entries()) {
    const other = await customer(`reviewer${i}`);
    const review = await api(`/api/v1/products/${slug}/reviews`, {
      method: "POST",
      token: other.token,
      body: { rating, title: `Avis ${i}`, body: `Review number ${i}: the fabric is ${rating >= 4 ? "lovely" : "thin"}.` },
    });
    await api(`/api/v1/admin/reviews/${review.id}/moderation`, { method: "POST", token: admin, body: { status: "approved" } });
  }

  const author = await customer("awa");
  const context = await shopper(browser, DESKTOP);
  const page = await context.newPage();
  await signIn(page, author);
  await page.goto(`/products/${slug}`);
  const reviews = page.getByTestId("reviews");
  await reviews.getByTestId("rating-summary").waitFor();

  // The summary is the API's: average and histogram.
  const first = await api(`/api/v1/products/${slug}/reviews?limit=5`);
  assert.equal(await reviews.getByTestId("rating-count").textContent(), `${first.rating.count} reviews`);
  for (const n of [1, 2, 3, 4, 5]) {
    assert.equal(Number(await reviews.getByTestId(`histogram-${n}`).textContent()), first.rating.histogram[n]);
  }
  // "More reviews" until the end: every approved review, newest first, none twice.
  const list = reviews.getByTestId("review");
  await list.first().waitFor();
  while (await reviews.getByRole("button", { name: "More reviews" }).isVisible()) {
    const before = await list.count();
    await reviews.getByRole("button", { name: "More reviews" }).click();
    await page.waitForFunction((n) => document.querySelectorAll("[data-testid=review]").length > n, before);
  }
  const all = await api(`/api/v1/products/${slug}/reviews?limit=100`);
  assert.deepEqual(await list.evaluateAll((items) => items.map((li) => Number(li.dataset.reviewId))), all.items.map((r) => r.id));

  // Sorted by the lowest rating, then only the 5-star ones.
  await reviews.getByLabel("Sort by").selectOption("rating_asc");
  const lowest = await api(`/api/v1/products/${slug}/reviews?sort=rating_asc&limit=5`);
  await page.waitForFunction((id) => document.querySelector("[data-testid=review]")?.dataset.reviewId === String(id), lowest.items[0].id);
  await reviews.getByLabel("Rating", { exact: true }).selectOption("5");
  const fives = await api(`/api/v1/products/${slug}/reviews?sort=rating_asc&rating=5&limit=5`);
  await page.waitForFunction((n) => document.querySelectorAll("[data-testid=review]").length === n, fives.items.length);
  assert.deepEqual(await list.evaluateAll((items) => items.map((li) => Number(li.dataset.reviewId))), fives.items.map((r) => r.id));

  // The form: a body too short is refused next to its field, then the review is sent.
  await reviews.getByTestId("write-review").click();
  const form = reviews.getByTestId("review-form");
  await form.getByRole("radio", { name: "4 stars" }).check();
  await form.getByLabel("Your review").fill("Nice");
  await form.getByRole("button", { name: "Send the review" }).click();
  const body = form.getByLabel("Your review");
  await page.locator(".field-invalid").filter({ has: page.getByLabel("Your review") }).waitFor();
  assert.equal(await body.getAttribute("aria-invalid"), "true");
  await screenshot(page, "review-field-error");
  await form.getByLabel("Title (optional)").fill("Belle coupe");
  await body.fill("Beautiful colours, the cut is right and the fabric holds after washing.");
  await form.getByRole("button", { name: "Send the review" }).click();
  const status = reviews.getByTestId("own-review-status");
  await status.filter({ hasText: "will appear once a moderator" }).waitFor();
  assert.equal(await status.getAttribute("data-status"), "pending");

  // A moderator approves it (admin API): on the next visit it is in the list.
  const queue = await api(`/api/v1/admin/reviews?status=pending&product=${slug}`, { token: admin });
  const mine = queue.items.find((r) => r.body.startsWith("Beautiful colours"));
  assert.ok(mine, "the review waits in the moderation queue");
  await api(`/api/v1/admin/reviews/${mine.id}/moderation`, { method: "POST", token: admin, body: { status: "approved" } });
  await page.reload();
  const published = reviews.locator(`[data-review-id="${mine.id}"]`);
  await published.waitFor();
  assert.match(await published.textContent(), /Belle coupe/);
  await status.filter({ hasText: "Your review is published." }).waitFor();
  await screenshot(page, "reviews");

  // Another customer finds it helpful; the count is the API's.
  const voter = await customer("moussa");
  const other = await shopper(browser, DESKTOP);
  const tab = await other.newPage();
  await signIn(tab, voter);
  await tab.goto(`/products/${slug}`);
  const vote = tab.locator(`[data-review-id="${mine.id}"]`).getByTestId("helpful");
  await vote.click();
  await vote.filter({ hasText: "You found this helpful (1)" }).waitFor();
  assert.equal(await vote.getAttribute("aria-pressed"), "true");
  const after = await api(`/api/v1/products/${slug}/reviews?limit=100`);
  assert.equal(after.items.find((r) => r.id === mine.id).helpful_count, 1);
  assertNoErrors(context);
  assertNoErrors(other);
  await context.close();
  await other.close();
}));

test("after-sales: a paid order shipped by staff shows its parcel, tracking link and invoice; cancelling it is refused once shipped", { timeout: TIMEOUT }, scenario("shipped", async () => {
  const shopperAccount = await customer("kadi");
  const dashiki = await inStockVariant("dashiki-brode-en-coton");
  const robe = await inStockVariant("robe-d-ete-en-wax");
  const placed = await placeOrder({ token: shopperAccount.token, items: [{ variant_id: dashiki.id, quantity: 2 }, { variant_id: robe.id, quantity: 1 }] });
  await markPaid(admin, placed.number);
  const documents = await api(`/api/v1/orders/${placed.number}/documents`, { token: shopperAccount.token });
  const invoice = documents.items.find((d) => d.kind === "invoice");
  assert.ok(invoice, "paying the order issued its invoice");

  const context = await shopper(browser);
  const page = await context.newPage();
  await signIn(page, shopperAccount);
  await page.goto(`/orders/${placed.number}`);
  await page.getByTestId("order-status").filter({ hasText: "Paid" }).waitFor();
  await page.getByTestId("document").and(page.locator(`[data-number="${invoice.number}"]`)).waitFor();
  // Paid, nothing shipped: the page offers the cancellation.
  await page.getByTestId("cancel-start").waitFor();

  // Meanwhile staff ship the dashikis (admin API) with DHL: the robe stays to ship.
  const dashikiLine = placed.lines.find((l) => l.variant_id === dashiki.id);
  const tracking = `JD${Date.now()}`;
  const shipment = await ship(admin, placed.number, [{ order_item_id: dashikiLine.id, quantity: 2 }], { tracking });

  // The page was loaded before: the shopper asks to cancel, the API refuses (shipped)
  // and the page shows its message, then the order as it now is.
  await page.getByTestId("cancel-start").click();
  await page.getByRole("button", { name: "Yes, cancel the order" }).click();
  const cancelError = page.getByTestId("cancel-error").locator(".alert");
  await cancelError.waitFor();
  assert.equal(await cancelError.getAttribute("data-code"), "order_already_shipped");
  await page.getByTestId("parcel").waitFor();
  assert.equal(await page.getByTestId("cancel-start").count(), 0, "a shipped order offers no cancellation");
  const after = await api(`/api/v1/orders/${placed.number}`, { token: shopperAccount.token });
  assert.equal(after.status, "partially_fulfilled", "the refused cancellation changed nothing");

  // The parcel: carrier, state, the tracking link to the API's URL in a new tab, its lines.
  const apiShipment = after.shipments.find((s) => s.id === shipment.id);
  const parcel = page.getByTestId("parcel");
  assert.equal(await parcel.count(), 1);
  assert.match(await parcel.getByTestId("parcel-carrier").textContent(), /DHL Express/);
  assert.equal(await parcel.getByTestId("parcel-status").getAttribute("data-status"), "shipped");
  assert.equal(await parcel.getByTestId("parcel-status").textContent(), "Shipped");
  const link = parcel.getByTestId("tracking-link");
  assert.ok(apiShipment.tracking_url.includes(tracking));
  assert.equal(await link.getAttribute("href"), apiShipment.tracking_url);
  assert.equal(await link.getAttribute("target"), "_blank");
  assert.match(await link.getAttribute("rel"), /\bnoopener\b/);
  assert.match(await link.textContent(), new RegExp(tracking));
  const parcelLines = parcel.getByTestId("parcel-line");
  assert.deepEqual(
    await parcelLines.evaluateAll((items) => items.map((li) => [li.dataset.sku, Number(li.dataset.quantity)])),
    [[dashiki.sku, 2]],
  );
  // Each line says what shipped: both dashikis, not the robe.
  const dashikiRow = page.locator(`.lines tr[data-sku="${dashiki.sku}"]`);
  assert.equal(await dashikiRow.getByTestId("line-counts").getAttribute("data-shipped"), "2");
  assert.match(await dashikiRow.getByTestId("line-counts").textContent(), /2 shipped/);
  assert.equal(await page.locator(`.lines tr[data-sku="${robe.sku}"]`).getByTestId("line-counts").count(), 0);
  assert.equal(await page.getByTestId("order-status").textContent(), "Partly shipped");
  await screenshot(page, "order-shipped", { at: page.getByTestId("shipments") });

  // The invoice, fetched with the customer's token: the HTML in a new tab…
  const row = page.getByTestId("document").and(page.locator(`[data-number="${invoice.number}"]`));
  const [tab] = await Promise.all([context.waitForEvent("page"), row.getByRole("button", { name: `View Invoice ${invoice.number}` }).click()]);
  await tab.waitForLoadState();
  assert.match(tab.url(), /^blob:/);
  assert.match(await tab.locator("body").textContent(), new RegExp(invoice.number));
  await screenshot(tab, "invoice");
  await tab.close();
  // …and the PDF downloaded under the API's file name.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    row.getByRole("button", { name: `Download Invoice ${invoice.number} as PDF` }).click(),
  ]);
  assert.equal(download.suggestedFilename(), `${invoice.number}.pdf`);
  const pdf = await readFile(await download.path());
  assert.equal(pdf.subarray(0, 5).toString("latin1"), "%PDF-");

  // Staff cancel the robe, not shipped (admin API): refunded (cash: recorded at once),
  // so a credit note is issued; the page lists it and opens it the same way.
  const robeLine = placed.lines.find((l) => l.variant_id === robe.id);
  await api(`/api/v1/admin/orders/${placed.number}/cancellations`, {
    method: "POST",
    token: admin,
    headers: { "Idempotency-Key": randomUUID() },
    body: { lines: [{ order_item_id: robeLine.id, quantity: 1 }], reason: "out of stock at the warehouse" },
  });
  const withNote = await api(`/api/v1/orders/${placed.number}/documents`, { token: shopperAccount.token });
  const creditNote = withNote.items.find((d) => d.kind === "credit_note");
  assert.ok(creditNote, "the refund issued a credit note");
  await page.reload();
  const noteRow = page.getByTestId("document").and(page.locator(`[data-number="${creditNote.number}"]`));
  await noteRow.waitFor();
  assert.deepEqual(
    await page.getByTestId("document").evaluateAll((items) => items.map((li) => li.dataset.number)),
    withNote.items.map((d) => d.number),
  );
  const [noteTab] = await Promise.all([
    context.waitForEvent("page"),
    noteRow.getByRole("button", { name: `View Credit note ${creditNote.number}` }).click(),
  ]);
  await noteTab.waitForLoadState();
  assert.match(await noteTab.locator("body").textContent(), new RegExp(creditNote.number));
  await noteTab.close();
  assert.equal(await page.locator(`.lines tr[data-sku="${robe.sku}"]`).getByTestId("line-counts").getAttribute("data-cancelled"), "1");

  // In French: the parcel and the lines in words of the shopper's language.
  await page.getByLabel("Language").selectOption("fr");
  await page.getByRole("heading", { name: "Colis · DHL Express" }).waitFor();
  assert.equal(await parcel.getByTestId("parcel-status").textContent(), "Expédié");
  assert.match(await dashikiRow.getByTestId("line-counts").textContent(), /2 expédiés/);
  assert.match(await link.textContent(), /s’ouvre dans un nouvel onglet/);
  assertNoErrors(context);
  await context.close();
}));

test("after-sales: a guest cancels an order confirmed for cash on delivery (no invoice yet: the API says why)", { timeout: TIMEOUT }, scenario("cancel", async () => {
  const dashiki = await inStockVariant("dashiki-brode-en-coton");
  const placed = await placeOrder({ items: [{ variant_id: dashiki.id, quantity: 1 }], email: "binta@example.com" });
  assert.ok(placed.token, "a guest's order comes with its token");

  const context = await shopper(browser);
  const page = await context.newPage();
  // The order e-mail's link carries the token; the page keeps it for later calls.
  await page.goto(`/orders/${placed.number}?token=${encodeURIComponent(placed.token)}`);
  await page.getByTestId("order-status").filter({ hasText: "Confirmed" }).waitFor();

  // Not paid yet: no invoice, in the API's words (fetched with the guest's token).
  const noInvoice = await problemOf(`/api/v1/orders/${placed.number}/invoice`, orderHeaders(placed));
  assert.equal(noInvoice.code, "invoice_not_found");
  await page.getByRole("button", { name: "View Invoice", exact: true }).click();
  const invoiceError = page.getByTestId("documents-error").locator(".alert");
  await invoiceError.waitFor();
  assert.equal(await invoiceError.getAttribute("data-code"), "invoice_not_found");
  assert.match(await invoiceError.textContent(), new RegExp(noInvoice.message.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));

  // Cancel: a confirmation first; "keep" sends nothing.
  await page.getByTestId("cancel-start").click();
  const confirm = page.getByTestId("cancel-confirm");
  await confirm.waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Cancel this order? This cannot be undone.");
  await screenshot(page, "cancel-confirm", { at: page.getByTestId("documents") });
  await confirm.getByRole("button", { name: "Keep the order" }).click();
  assert.equal((await api(`/api/v1/orders/${placed.number}`, { headers: orderHeaders(placed) })).status, "confirmed");
  await page.getByTestId("cancel-start").click();
  await confirm.getByLabel("Why? (optional)").fill("Ordered the wrong colour");
  await confirm.getByRole("button", { name: "Yes, cancel the order" }).click();

  await page.getByTestId("cancel-result").filter({ hasText: "Your order is cancelled." }).waitFor();
  await page.getByTestId("order-status").filter({ hasText: "Cancelled" }).waitFor();
  // Nothing was paid: no refund to announce.
  assert.equal(await page.getByTestId("cancel-refund").count(), 0);
  const cancelled = await api(`/api/v1/orders/${placed.number}`, { headers: orderHeaders(placed) });
  assert.equal(cancelled.status, "cancelled");
  assert.equal(cancelled.lines[0].quantity_cancelled, 1);
  await page.getByTestId("timeline").getByText("Cancellation").first().waitFor();
  assert.match(await page.getByTestId("line-counts").textContent(), /1 cancelled/);
  // A cancelled order that was never paid has no invoice to offer.
  assert.equal(await page.getByTestId("documents").count(), 0);
  await screenshot(page, "order-cancelled", { at: page.getByTestId("cancel-result") });
  assertNoErrors(context);
  await context.close();
}));

test("after-sales: a delivered order: a return refused next to its field, then requested and listed", { timeout: TIMEOUT }, scenario("returns", async () => {
  const shopperAccount = await customer("ousmane");
  const dashiki = await inStockVariant("dashiki-brode-en-coton");
  const robe = await inStockVariant("robe-d-ete-en-wax");
  const placed = await placeOrder({ token: shopperAccount.token, items: [{ variant_id: dashiki.id, quantity: 2 }, { variant_id: robe.id, quantity: 1 }] });
  await markPaid(admin, placed.number);
  await ship(admin, placed.number, placed.lines.map((l) => ({ order_item_id: l.id, quantity: l.quantity })), {
    carrier: "colissimo",
    tracking: `6A${Date.now()}`,
    states: ["shipped", "in_transit", "delivered"],
  });
  const delivered = await api(`/api/v1/orders/${placed.number}`, { token: shopperAccount.token });
  assert.equal(delivered.status, "delivered");
  const dashikiLine = placed.lines.find((l) => l.variant_id === dashiki.id);

  const context = await shopper(browser);
  const page = await context.newPage();
  await signIn(page, shopperAccount);
  await page.goto(`/orders/${placed.number}`);
  await page.getByTestId("parcel-status").filter({ hasText: "Delivered" }).waitFor();
  const returns = page.getByTestId("returns");
  await returns.getByText("No return yet.").waitFor();
  await returns.getByTestId("return-start").click();
  const form = returns.getByTestId("return-form");
  const dashikiChoice = form.getByTestId("return-choice").and(page.locator(`[data-sku="${dashiki.sku}"]`));
  const robeChoice = form.getByTestId("return-choice").and(page.locator(`[data-sku="${robe.sku}"]`));
  assert.match(await dashikiChoice.textContent(), /2 can be returned/);
  // The reasons are the API's, in the page's language.
  const reasons = await api("/api/v1/return-reasons");
  await robeChoice.getByRole("checkbox").check();
  assert.deepEqual(
    (await robeChoice.getByLabel("Reason").locator("option").allTextContents()).slice(1),
    reasons.items.map((r) => r.label_en),
  );

  // No reason for the robe: the API's 422 names the line's reason, shown next to it.
  await form.getByRole("button", { name: "Request the return" }).click();
  const robeReason = robeChoice.getByLabel("Reason");
  await robeChoice.locator(".field-invalid").filter({ has: page.getByLabel("Reason") }).waitFor();
  assert.equal(await robeReason.getAttribute("aria-invalid"), "true");
  assert.match(await robeChoice.locator(".field-error").textContent(), /no such return reason/);
  await screenshot(page, "return-field-error", { at: form });
  await robeChoice.getByRole("checkbox").uncheck();

  // Meanwhile, in another tab, one dashiki is already being returned (API): the page
  // still offers two, and asking for both is refused next to the quantity.
  await api(`/api/v1/orders/${placed.number}/returns`, {
    method: "POST",
    token: shopperAccount.token,
    body: { lines: [{ order_item_id: dashikiLine.id, quantity: 1, reason: "changed_mind" }] },
  });
  await dashikiChoice.getByRole("checkbox").check();
  await dashikiChoice.getByLabel("Quantity").selectOption("2");
  await dashikiChoice.getByLabel("Reason").selectOption("wrong_size");
  await form.getByRole("button", { name: "Request the return" }).click();
  const quantity = dashikiChoice.getByLabel("Quantity");
  await dashikiChoice.locator(".field-invalid").filter({ has: page.getByLabel("Quantity") }).waitFor();
  assert.equal(await quantity.getAttribute("aria-invalid"), "true");
  assert.match(await dashikiChoice.locator(".field-error").textContent(), /2 delivered, 1 already in returns/);
  // The list was read again: the other tab's return is there, one dashiki is left.
  await dashikiChoice.getByText("1 can be returned").waitFor();
  await returns.getByTestId("return").first().waitFor();
  await screenshot(page, "return-quantity-refused", { at: form });

  // One dashiki, wrong size, with a note: requested.
  await dashikiChoice.getByLabel("Quantity").selectOption("1");
  await form.getByLabel("A note for the shop (optional)").fill("Too small, I need an XL.");
  await form.getByRole("button", { name: "Request the return" }).click();
  await returns.getByTestId("return-requested").waitFor();
  const listed = await api(`/api/v1/orders/${placed.number}/returns`, { token: shopperAccount.token });
  assert.equal(listed.items.length, 2);
  const mine = listed.items.at(-1);
  assert.equal(mine.status, "requested");
  assert.deepEqual(mine.lines.map((l) => [l.order_item_id, l.quantity, l.reason]), [[dashikiLine.id, 1, "wrong_size"]]);
  assert.match(await returns.getByTestId("return-requested").textContent(), new RegExp(mine.rma_number));
  const shown = returns.locator(`[data-testid="return"][data-rma="${mine.rma_number}"]`);
  assert.equal(await shown.getByTestId("return-status").textContent(), "Requested");
  assert.match(await shown.getByTestId("return-line").textContent(), /1 × .*Wrong size/);
  assert.deepEqual(
    await returns.getByTestId("return").evaluateAll((items) => items.map((li) => li.dataset.rma)),
    listed.items.map((r) => r.rma_number),
  );
  await screenshot(page, "return-requested", { at: returns });
  // Both dashikis are now in returns; only the robe may still go back.
  await returns.getByTestId("return-start").click();
  assert.deepEqual(await form.getByTestId("return-choice").evaluateAll((items) => items.map((d) => d.dataset.sku)), [robe.sku]);
  assertNoErrors(context);
  await context.close();
}));
