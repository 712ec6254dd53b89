// A product's price in the shopper's currency: the amount, the "was" price struck
// through when on sale, and (product page) the lowest price of the last 30 days,
// which EU rules require beside a reduction.
import { useI18n } from "../i18n";
import { formatMoney } from "../lib/money";

interface PriceLike {
  currency: string;
  amount: number;
  compare_at_amount: number | null;
  lowest_price_30d?: number | null;
}

export function PriceTag({ prices, currency, from }: { prices: PriceLike[]; currency: string; from?: boolean }) {
  const { t, locale } = useI18n();
  const price = prices.find((p) => p.currency === currency);
  if (!price) return <span className="price price-missing">{t.product.notSoldIn(currency)}</span>;
  const onSale = price.compare_at_amount !== null && price.compare_at_amount > price.amount;
  return (
    <span className="price">
      {from && <span className="price-from">{t.product.from} </span>}
      <span className={onSale ? "price-now sale" : "price-now"} data-amount={price.amount}>
        {formatMoney(price.amount, currency, locale)}
      </span>
      {onSale && price.compare_at_amount !== null && (
        <>
          {" "}
          <span className="visually-hidden">{t.product.wasPrice}</span>
          <s className="price-was">{formatMoney(price.compare_at_amount, currency, locale)}</s>
        </>
      )}
      {onSale && price.lowest_price_30d != null && (
        <small className="price-lowest">{t.product.lowest30d(formatMoney(price.lowest_price_30d, currency, locale))}</small>
      )}
    </span>
  );
}
