// The totals of a quote (cart, checkout) or an order, exactly as the API computed
// them: subtotal, discounts, shipping, tax, total. Nothing is added up here: each
// amount is the API's integer, formatted exactly (money.ts) in the shopper's language.
import { useI18n } from "../i18n";
import { formatMoney } from "../lib/money";

export interface Totals {
  currency: string;
  exponent: number;
  subtotal: number;
  discount_total: number;
  shipping_total: number;
  tax_total: number;
  grand_total: number;
  tax_inclusive: boolean;
  /** Null: no shipping method quoted (nothing charged for shipping). */
  hasShipping: boolean;
}

export function QuoteSummary({ totals }: { totals: Totals }) {
  const { t, locale } = useI18n();
  const money = (amount: number) => formatMoney(amount, totals.currency, locale, totals.exponent);
  return (
    <dl className="totals" data-testid="totals">
      <div>
        <dt>{t.cart.subtotal}</dt>
        <dd data-amount={totals.subtotal}>{money(totals.subtotal)}</dd>
      </div>
      {totals.discount_total > 0 && (
        <div className="discount">
          <dt>{t.cart.discounts}</dt>
          <dd data-testid="discount-total" data-amount={totals.discount_total}>
            −{money(totals.discount_total)}
          </dd>
        </div>
      )}
      {totals.hasShipping && (
        <div>
          <dt>{t.cart.shipping}</dt>
          <dd data-amount={totals.shipping_total}>
            {totals.shipping_total === 0 ? t.cart.shippingFree : money(totals.shipping_total)}
          </dd>
        </div>
      )}
      {!totals.tax_inclusive && totals.tax_total > 0 && (
        <div>
          <dt>{t.cart.tax}</dt>
          <dd data-amount={totals.tax_total}>{money(totals.tax_total)}</dd>
        </div>
      )}
      <div className="grand-total">
        <dt>{t.cart.total}</dt>
        <dd data-testid="grand-total" data-amount={totals.grand_total}>
          {money(totals.grand_total)}
          {totals.tax_inclusive && totals.tax_total > 0 && (
            <small className="tax-note"> {t.cart.taxIncluded(money(totals.tax_total))}</small>
          )}
        </dd>
      </div>
    </dl>
  );
}
