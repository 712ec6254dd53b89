// Checkout: contact, delivery address (a saved one for customers), delivery method
// and the order summary; then `POST /api/v1/checkout` with the total the shopper sees
// (`expected_total`) and an Idempotency-Key, so a double click or a retry after a
// network error places one order. The order page then takes the payment: which ways
// to pay exist depends on the order (its currency, address and total), so the API
// lists them for the placed order (components/PaymentStep.tsx).
//
// What the API can refuse, shown where it belongs:
// - 422 `invalid_field` (details: the JSON path) → next to that field;
// - 409 `insufficient_stock` (details: the short lines) → on each short line;
// - 409 `price_changed` (details: the new quote) → the new totals, to confirm again;
// - anything else → the problem's message above the button.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, Navigate, useNavigate } from "react-router-dom";
import { api, ApiProblem, idempotencyKey, unwrap, type Schemas } from "../api/client";
import { Field } from "../components/Field";
import { problemField, ProblemAlert, useProblemText } from "../components/ProblemAlert";
import { QuoteSummary } from "../components/QuoteSummary";
import { useI18n } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { formatMoney } from "../lib/money";
import { useProfile } from "../state/auth";
import { useCart, DEFAULT_COUNTRY, type Quote } from "../state/cart";
import { session } from "../state/session";
import { CartLines, Messages, ShippingMethods, totalsOf } from "./Cart";

type Address = Schemas["InlineAddress"];
type CheckoutRequest = Schemas["CheckoutRequest"];
type AddressField = "full_name" | "company" | "line1" | "line2" | "city" | "region" | "postal_code" | "phone";

interface Shortage {
  sku: string;
  variant_id: number;
  requested: number;
  available: number;
}

function parseJson<T>(text: string | null): T | null {
  if (!text) return null;
  try {
    return JSON.parse(text) as T;
  } catch {
    return null;
  }
}

export default function Checkout() {
  const { t, locale } = useI18n();
  const cart = useCart();
  const navigate = useNavigate();
  const { profile } = useProfile();
  const problemText = useProblemText();
  const quote = cart.quote;
  const formats = useAsync((signal) => unwrap(() => api.GET("/api/v1/address-formats", { signal })), []);
  const saved = useAsync(
    (signal) =>
      session.signedIn() ? unwrap(() => api.GET("/api/v1/users/me/addresses", { signal })) : Promise.resolve([]),
    [profile?.id],
  );
  const [email, setEmail] = useState("");
  const [address, setAddress] = useState<Address>({ country: quote?.shipping_country ?? DEFAULT_COUNTRY });
  const [savedId, setSavedId] = useState<number | null>(null);
  const [note, setNote] = useState("");
  const [state, setState] = useState<{ busy: boolean; error: unknown; notice: string | null }>({
    busy: false,
    error: null,
    notice: null,
  });
  const [shortages, setShortages] = useState<Map<number, string>>(new Map());
  // One key per attempt at this exact order: a retry of the same request reuses it
  // (the API answers the stored order), any change to what is sent makes a new one.
  const key = useRef({ body: "", value: idempotencyKey() });

  const defaultSaved = saved.data?.find((a) => a.is_default_shipping) ?? saved.data?.[0];
  useEffect(() => {
    if (defaultSaved && savedId === null) setSavedId(defaultSaved.id);
  }, [defaultSaved, savedId]);

  if (!cart.loading && (!quote || quote.lines.length === 0)) return <Navigate to="/cart" replace />;
  if (!quote) return <p className="loading">{t.catalog.loading}</p>;

  const format = formats.data?.find((f) => f.country === address.country);
  const required = new Set(format?.required_fields ?? ["line1", "city"]);
  const fieldError = problemField(state.error);
  const errorFor = (name: string) => (fieldError === name ? problemText(state.error) : null);
  const usingSaved = savedId !== null && savedId !== -1 && (saved.data?.length ?? 0) > 0;
  const pickup = quote.shipping_method?.kind === "pickup";

  async function changeCountry(country: string) {
    setAddress((a) => ({ ...a, country }));
    try {
      await cart.shipTo(country);
    } catch (error) {
      setState((s) => ({ ...s, error }));
    }
  }

  function setField(name: AddressField, value: string) {
    setAddress((a) => ({ ...a, [name]: value }));
  }

  async function placeOrder(event: FormEvent) {
    event.preventDefault();
    if (!quote) return;
    const body: CheckoutRequest = {
      shipping_method: quote.shipping_method?.code ?? "",
      expected_total: quote.grand_total,
      note: note.trim() || null,
    };
    if (!session.signedIn()) body.email = email.trim();
    if (usingSaved) body.shipping_address_id = savedId;
    else if (!pickup || address.line1) body.shipping_address = clean(address);
    const text = JSON.stringify(body);
    if (key.current.body !== text) key.current = { body: text, value: idempotencyKey() };
    setState({ busy: true, error: null, notice: null });
    setShortages(new Map());
    try {
      const order = await unwrap(() =>
        api.POST("/api/v1/checkout", {
          params: { header: { "Idempotency-Key": key.current.value } },
          body,
        }),
      );
      if (order.token) session.rememberOrderToken(order.number, order.token);
      cart.forget();
      navigate(`/orders/${order.number}?placed=1`);
    } catch (error) {
      handle(error);
    }
  }

  function handle(error: unknown) {
    if (error instanceof ApiProblem && error.code === "insufficient_stock") {
      const lines = parseJson<Shortage[]>(error.problem.details) ?? [];
      setShortages(new Map(lines.map((l) => [l.variant_id, t.checkout.shortLine(l.requested, l.available)])));
      setState({ busy: false, error: null, notice: t.checkout.fixLines });
      return;
    }
    if (error instanceof ApiProblem && error.code === "price_changed") {
      const fresh = parseJson<Quote>(error.problem.details);
      if (fresh) cart.replace(fresh);
      else cart.reload().catch(() => undefined);
      setState({ busy: false, error: null, notice: t.checkout.priceChanged });
      return;
    }
    setState({ busy: false, error, notice: null });
  }

  const total = formatMoney(quote.grand_total, quote.currency, locale, quote.exponent);
  return (
    <form className="checkout" onSubmit={placeOrder} noValidate aria-labelledby="checkout-title">
      <h1 id="checkout-title">{t.checkout.title}</h1>
      <div className="checkout-steps">
        <fieldset>
          <legend>{t.checkout.contact}</legend>
          {profile ? (
            <p>{t.checkout.signedInAs(profile.email)}</p>
          ) : (
            <>
            <p>
              <Link to="/login" state={{ from: "/checkout" }}>
                {t.checkout.signInPrompt}
              </Link>
            </p>
            <Field
              label={t.checkout.email}
              type="email"
              name="email"
              autoComplete="email"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              error={errorFor("email")}
            />
            </>
          )}
        </fieldset>

        <fieldset>
          <legend>{t.checkout.address}</legend>
          {(saved.data?.length ?? 0) > 0 && (
            <div className="saved-addresses">
              {saved.data!.map((a) => (
                <label key={a.id} className="radio-card">
                  <input type="radio" name="saved-address" checked={savedId === a.id} onChange={() => setSavedId(a.id)} />
                  <span className="radio-card-body">
                    <strong>{a.full_name}</strong>
                    <small>{[a.line1, a.city, a.country].filter(Boolean).join(", ")}</small>
                  </span>
                </label>
              ))}
              <label className="radio-card">
                <input type="radio" name="saved-address" checked={savedId === -1} onChange={() => setSavedId(-1)} />
                <span className="radio-card-body">{t.checkout.newAddress}</span>
              </label>
            </div>
          )}
          {!usingSaved && (
            <div className="address-form">
              <div className="field">
                <label htmlFor="country">{t.checkout.country}</label>
                <select
                  id="country"
                  name="country"
                  autoComplete="country"
                  value={address.country ?? ""}
                  onChange={(e) => changeCountry(e.target.value)}
                >
                  {(formats.data ?? []).map((f) => (
                    <option key={f.country} value={f.country}>
                      {f.name}
                    </option>
                  ))}
                </select>
              </div>
              {(
                [
                  ["full_name", t.checkout.fullName, "name"],
                  ["company", t.checkout.company, "organization"],
                  ["line1", t.checkout.line1, "address-line1"],
                  ["line2", t.checkout.line2, "address-line2"],
                  ["city", t.checkout.city, "address-level2"],
                  ["region", t.checkout.region, "address-level1"],
                  ["postal_code", t.checkout.postalCode, "postal-code"],
                  ["phone", t.checkout.phone, "tel"],
                ] as const
              )
                .filter(([name]) => name !== "region" || format?.region_pattern)
                .filter(([name]) => name !== "postal_code" || format?.postal_code_pattern || required.has("postal_code"))
                .map(([name, label, autoComplete]) => {
                  const isRequired = required.has(name) || name === "full_name";
                  return (
                    <Field
                      key={name}
                      name={name}
                      label={label}
                      autoComplete={autoComplete}
                      type={name === "phone" ? "tel" : "text"}
                      required={isRequired}
                      value={address[name] ?? ""}
                      placeholder={name === "postal_code" ? format?.postal_code_example ?? undefined : undefined}
                      help={name === "phone" && format ? format.phone_code : undefined}
                      onChange={(e) => setField(name, e.target.value)}
                      error={errorFor(name)}
                    />
                  );
                })}
            </div>
          )}
        </fieldset>

        <ShippingMethods quote={quote} />

        <div className="field">
          <label htmlFor="note">{t.checkout.note}</label>
          <textarea id="note" maxLength={500} value={note} onChange={(e) => setNote(e.target.value)} />
        </div>
      </div>

      <aside className="checkout-summary" aria-labelledby="summary-title">
        <h2 id="summary-title">{t.checkout.summary}</h2>
        <CartLines quote={quote} shortages={shortages} editable={shortages.size > 0} />
        <Messages quote={quote} />
        <QuoteSummary totals={totalsOf(quote)} />
        <div aria-live="assertive">
          {state.notice && (
            <p className="alert" role="alert" data-testid="checkout-notice">
              {state.notice}
            </p>
          )}
        </div>
        {state.error !== null && !fieldError && <ProblemAlert error={state.error} />}
        <button type="submit" className="primary" disabled={state.busy} data-testid="place-order">
          {state.busy ? t.checkout.placing : t.checkout.placeOrder(total)}
        </button>
        <p>
          <Link to="/cart">{t.cart.title}</Link>
        </p>
      </aside>
    </form>
  );
}

/** The address without empty fields (the API validates what is sent). */
function clean(address: Address): Address {
  const out: Address = {};
  for (const [k, v] of Object.entries(address)) {
    if (typeof v === "string" && v.trim()) (out as Record<string, unknown>)[k] = v.trim();
  }
  return out;
}
