// Minimum and maximum price, typed in the currency's units ("29 500", "45,50") and
// kept in the URL in minor units (`min_price`, `max_price`), as the API takes them.
import { useState, type FormEvent } from "react";
import { useI18n } from "../i18n";
import { exponentOf, fromDecimal, toDecimal } from "../lib/money";

interface Props {
  currency: string;
  min: number | null;
  max: number | null;
  onApply: (min: number | null, max: number | null) => void;
}

export function PriceFilter({ currency, min, max, onApply }: Props) {
  const { t } = useI18n();
  const exponent = exponentOf(currency);
  const [minText, setMinText] = useState(min === null ? "" : toDecimal(min, exponent));
  const [maxText, setMaxText] = useState(max === null ? "" : toDecimal(max, exponent));
  const [invalid, setInvalid] = useState<"min" | "max" | null>(null);

  function submit(event: FormEvent) {
    event.preventDefault();
    const lo = minText.trim() ? fromDecimal(minText, exponent) : null;
    const hi = maxText.trim() ? fromDecimal(maxText, exponent) : null;
    if (minText.trim() && lo === null) return setInvalid("min");
    if (maxText.trim() && hi === null) return setInvalid("max");
    setInvalid(null);
    onApply(lo, hi);
  }

  return (
    <form className="price-filter" onSubmit={submit} aria-labelledby="price-filter-title">
      <h3 id="price-filter-title">
        {t.catalog.price} ({currency})
      </h3>
      <div className="price-inputs">
        <label>
          {t.catalog.minPrice}
          <input
            inputMode="decimal"
            name="min_price"
            value={minText}
            onChange={(e) => setMinText(e.target.value)}
            aria-invalid={invalid === "min" || undefined}
          />
        </label>
        <label>
          {t.catalog.maxPrice}
          <input
            inputMode="decimal"
            name="max_price"
            value={maxText}
            onChange={(e) => setMaxText(e.target.value)}
            aria-invalid={invalid === "max" || undefined}
          />
        </label>
      </div>
      {invalid && (
        <small className="field-error" role="alert">
          {t.errors.field}
        </small>
      )}
      <button type="submit">{t.catalog.apply}</button>
    </form>
  );
}
