// Money: integers of minor units with their currency's exponent (XOF 0, EUR 2), as
// the API sends them. Formatting goes through a decimal string, never a float, so
// 1999 EUR-cents is "19.99" exactly; Intl only adds the grouping and the symbol.
import type { Locale } from "../i18n";

const EXPONENTS: Record<string, number> = { XOF: 0, EUR: 2, USD: 2, GBP: 2, NGN: 2, GHS: 2 };

/** The currency's exponent (the quote and the order carry theirs; lists do not). */
export function exponentOf(currency: string): number {
  return EXPONENTS[currency] ?? 2;
}

/** `amount` minor units as an exact decimal string: (1999, 2) → "19.99". */
export function toDecimal(amount: number, exponent: number): string {
  const negative = amount < 0;
  const digits = Math.abs(amount).toString().padStart(exponent + 1, "0");
  const whole = exponent === 0 ? digits : digits.slice(0, -exponent);
  const fraction = exponent === 0 ? "" : `.${digits.slice(-exponent)}`;
  return `${negative ? "-" : ""}${whole}${fraction}`;
}

const formats = new Map<string, Intl.NumberFormat>();

/** `amount` minor units of `currency` as the shopper reads it: "29 500 F CFA", "45,00 €". */
export function formatMoney(amount: number, currency: string, locale: Locale, exponent = exponentOf(currency)): string {
  const key = `${locale}|${currency}|${exponent}`;
  let format = formats.get(key);
  if (!format) {
    format = new Intl.NumberFormat(locale === "fr" ? "fr-FR" : "en-GB", {
      style: "currency",
      currency,
      minimumFractionDigits: exponent,
      maximumFractionDigits: exponent,
    });
    formats.set(key, format);
  }
  // Intl formats a decimal string exactly (no binary rounding).
  return format.format(toDecimal(amount, exponent) as unknown as number);
}

/**
 * A price the shopper typed ("45", "45.5", "45,50", "29 500") in minor units, or null
 * when it is not a price in this currency (too many decimals, not a number).
 */
export function fromDecimal(text: string, exponent: number): number | null {
  const cleaned = text.replace(/[\s\u00a0\u202f]/g, "").replace(",", ".");
  const match = /^(\d{1,12})(?:\.(\d*))?$/.exec(cleaned);
  if (!match) return null;
  const fraction = match[2] ?? "";
  if (fraction.length > exponent) return null;
  return Number(match[1]) * 10 ** exponent + Number(fraction.padEnd(exponent, "0") || "0");
}
