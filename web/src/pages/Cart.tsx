// The cart: lines with their quantities, discounts and totals, the coupon, the
// shipping methods offered for the destination (each priced for this cart), and the
// totals — all from the quote the API answers to each change.
import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { ProblemAlert } from "../components/ProblemAlert";
import { QuoteSummary } from "../components/QuoteSummary";
import { useI18n } from "../i18n";
import { formatMoney } from "../lib/money";
import { useCart, type Quote } from "../state/cart";

type Line = Quote["lines"][number];

export default function Cart() {
  const { t } = useI18n();
  const cart = useCart();
  const quote = cart.quote;
  if (cart.loading && !quote) return <p className="loading">{t.catalog.loading}</p>;
  if (!quote || quote.lines.length === 0) {
    return (
      <section>
        <h1>{t.cart.title}</h1>
        <p>{t.cart.empty}</p>
        <Link to="/catalog">{t.cart.continueShopping}</Link>
      </section>
    );
  }
  return (
    <section className="cart" aria-labelledby="cart-title">
      <h1 id="cart-title">{t.cart.title}</h1>
      <CartLines quote={quote} editable />
      <Messages quote={quote} />
      <div className="cart-side">
        <CouponForm quote={quote} />
        <ShippingMethods quote={quote} />
        <QuoteSummary totals={totalsOf(quote)} />
        <Link to="/checkout" className="button primary" data-testid="to-checkout">
          {t.cart.checkout}
        </Link>
      </div>
    </section>
  );
}

export function totalsOf(quote: Quote) {
  return {
    currency: quote.currency,
    exponent: quote.exponent,
    subtotal: quote.subtotal,
    discount_total: quote.discount_total,
    shipping_total: quote.shipping_total,
    tax_total: quote.tax_total,
    grand_total: quote.grand_total,
    tax_inclusive: quote.tax_inclusive,
    hasShipping: quote.shipping_method !== null,
  };
}

/** The quote's messages (a coupon whose conditions are not met, an item no longer sold). */
export function Messages({ quote }: { quote: Quote }) {
  if (!quote.messages.length) return null;
  return (
    <ul className="messages" aria-live="polite">
      {quote.messages.map((m, i) => (
        <li key={i} data-code={m.code}>
          {m.text}
        </li>
      ))}
    </ul>
  );
}

/**
 * The lines; `shortages` (checkout's 409 `insufficient_stock`) puts the reason on the
 * line it concerns, so the shopper sees which item to change.
 */
export function CartLines({
  quote,
  editable,
  shortages,
}: {
  quote: Quote;
  editable?: boolean;
  shortages?: Map<number, string>;
}) {
  const { t } = useI18n();
  return (
    <table className="lines">
      <caption className="visually-hidden">{t.cart.title}</caption>
      <thead>
        <tr>
          <th scope="col">{t.cart.item}</th>
          <th scope="col">{t.cart.unitPrice}</th>
          <th scope="col">{t.cart.quantity}</th>
          <th scope="col">{t.cart.lineTotal}</th>
        </tr>
      </thead>
      <tbody>
        {quote.lines.map((line) => (
          <LineRow key={line.line_id} quote={quote} line={line} editable={editable} shortage={shortages?.get(line.variant_id)} />
        ))}
      </tbody>
    </table>
  );
}

function LineRow(props: { quote: Quote; line: Line; editable?: boolean; shortage?: string }) {
  const { t, locale } = useI18n();
  const cart = useCart();
  const { quote, line, editable, shortage } = props;
  const [quantity, setQuantity] = useState(line.quantity);
  const [state, setState] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  useEffect(() => setQuantity(line.quantity), [line.quantity]);
  const money = (amount: number) => formatMoney(amount, quote.currency, locale, quote.exponent);
  const name = `${line.label.product_title} (${line.label.variant_name})`;
  const errorId = `line-${line.line_id}-error`;

  async function run(action: () => Promise<unknown>) {
    setState({ busy: true, error: null });
    try {
      await action();
      setState({ busy: false, error: null });
    } catch (error) {
      setState({ busy: false, error });
      setQuantity(line.quantity);
    }
  }

  return (
    <tr className={shortage ? "line line-short" : "line"} data-sku={line.label.sku}>
      <th scope="row">
        <Link to={`/products/${line.label.product_slug}`}>{line.label.product_title}</Link>
        <span className="variant-name">{line.label.variant_name}</span>
        {line.discounts.map((d) => (
          <small key={d.promotion_id} className="line-discount">
            {d.name}: −{money(d.amount)}
          </small>
        ))}
        {shortage && (
          <p className="line-problem" role="alert" id={errorId} data-testid="line-shortage">
            {shortage}
          </p>
        )}
        <ProblemAlert error={state.error} id={`line-${line.line_id}-api-error`} />
      </th>
      <td data-label={t.cart.unitPrice}>
        {money(line.unit_price)}
        {line.compare_at !== null && line.compare_at > line.unit_price && (
          <s className="price-was"> {money(line.compare_at)}</s>
        )}
      </td>
      <td data-label={t.cart.quantity}>
        {editable ? (
          <form
            className="quantity"
            onSubmit={(e: FormEvent) => {
              e.preventDefault();
              if (quantity !== line.quantity) run(() => cart.setQuantity(line.line_id, quantity));
            }}
          >
            <input
              type="number"
              min={1}
              max={999}
              value={quantity}
              aria-label={t.cart.quantityOf(name)}
              aria-invalid={shortage ? true : undefined}
              aria-describedby={shortage ? errorId : undefined}
              onChange={(e) => setQuantity(Math.max(1, Math.min(999, Number(e.target.value) || 1)))}
            />
            <button type="submit" disabled={state.busy || quantity === line.quantity}>
              {t.cart.update}
            </button>
            <button
              type="button"
              className="link-button"
              aria-label={t.cart.removeItem(name)}
              disabled={state.busy}
              onClick={() => run(() => cart.remove(line.line_id))}
            >
              {t.cart.remove}
            </button>
          </form>
        ) : (
          line.quantity
        )}
      </td>
      <td data-label={t.cart.lineTotal} data-amount={line.total}>
        {money(line.total)}
      </td>
    </tr>
  );
}

function CouponForm({ quote }: { quote: Quote }) {
  const { t } = useI18n();
  const cart = useCart();
  const [code, setCode] = useState("");
  const [state, setState] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });

  async function run(action: () => Promise<unknown>) {
    setState({ busy: true, error: null });
    try {
      await action();
      setState({ busy: false, error: null });
      setCode("");
    } catch (error) {
      setState({ busy: false, error });
    }
  }

  if (quote.coupon_code) {
    return (
      <div className="coupon" aria-live="polite">
        <p data-testid="coupon-applied">{t.cart.couponApplied(quote.coupon_code)}</p>
        <button type="button" className="link-button" onClick={() => run(() => cart.removeCoupon())} disabled={state.busy}>
          {t.cart.removeCoupon}
        </button>
        <ProblemAlert error={state.error} />
      </div>
    );
  }
  return (
    <form
      className="coupon"
      onSubmit={(e) => {
        e.preventDefault();
        if (code.trim()) run(() => cart.applyCoupon(code.trim()));
      }}
    >
      <label htmlFor="coupon-code">{t.cart.coupon}</label>
      <div className="inline">
        <input
          id="coupon-code"
          value={code}
          maxLength={64}
          autoComplete="off"
          autoCapitalize="characters"
          onChange={(e) => setCode(e.target.value)}
          aria-invalid={state.error ? true : undefined}
          aria-describedby={state.error ? "coupon-error" : undefined}
        />
        <button type="submit" disabled={state.busy}>
          {t.cart.applyCoupon}
        </button>
      </div>
      <ProblemAlert error={state.error} id="coupon-error" />
    </form>
  );
}

/** The methods offered for the cart's destination, each with its price for this cart. */
export function ShippingMethods({ quote }: { quote: Quote }) {
  const { t, locale } = useI18n();
  const cart = useCart();
  const [options, setOptions] = useState<Schemas["ShippingOptions"] | null>(null);
  const [error, setError] = useState<unknown>(null);
  // Re-read when what prices shipping changes: destination, lines, coupon, total.
  const key = `${quote.shipping_country}|${quote.grand_total}|${quote.shipping_method?.code}`;
  useEffect(() => {
    const controller = new AbortController();
    unwrap(() => api.GET("/api/v1/cart/shipping-methods", { params: { header: {} }, signal: controller.signal }))
      .then(setOptions, (e) => !controller.signal.aborted && setError(e));
    return () => controller.abort();
  }, [key]);
  if (!options) return <ProblemAlert error={error} />;
  const money = (amount: number) => formatMoney(amount, quote.currency, locale, quote.exponent);
  return (
    <fieldset className="shipping-methods">
      <legend>
        {t.cart.shippingMethod} ({options.country})
      </legend>
      {options.methods.map((m) => (
        <label key={m.code} className="radio-card">
          <input
            type="radio"
            name="shipping-method"
            value={m.code}
            checked={quote.shipping_method?.code === m.code}
            onChange={() => cart.chooseShipping(m.code).catch(setError)}
          />
          <span className="radio-card-body">
            <strong>{m.name}</strong> — {m.price === 0 ? t.cart.shippingFree : money(m.price)}
            <small>
              {[t.cart.days(m.min_days, m.max_days), m.free_over !== null && m.price > 0 ? t.cart.freeOver(money(m.free_over)) : "", m.description]
                .filter(Boolean)
                .join(" · ")}
            </small>
          </span>
        </label>
      ))}
      <ProblemAlert error={error} />
    </fieldset>
  );
}
