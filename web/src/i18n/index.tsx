// French and English. The language is the one the shopper picked (kept in
// localStorage), else the browser's first language if it is French, else English.
// Messages are plain functions of their parameters, so a missing key or a wrong
// parameter is a type error; both dictionaries have the same keys (`Messages`).
import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { en } from "./en";
import { fr } from "./fr";

export type Locale = "fr" | "en";
export type Messages = typeof en;

const dictionaries: Record<Locale, Messages> = { en, fr };
const KEY = "maef.locale";

function initialLocale(): Locale {
  try {
    const saved = localStorage.getItem(KEY);
    if (saved === "fr" || saved === "en") return saved;
  } catch {
    // no storage: fall through
  }
  return navigator.language.toLowerCase().startsWith("fr") ? "fr" : "en";
}

interface I18n {
  locale: Locale;
  t: Messages;
  setLocale: (locale: Locale) => void;
  /** A date and time as the shopper reads them. */
  dateTime: (iso: string) => string;
}

const Context = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [locale, setLocaleState] = useState<Locale>(initialLocale);
  useEffect(() => {
    document.documentElement.lang = locale;
  }, [locale]);
  const value = useMemo<I18n>(() => {
    const format = new Intl.DateTimeFormat(locale === "fr" ? "fr-FR" : "en-GB", {
      dateStyle: "medium",
      timeStyle: "short",
    });
    return {
      locale,
      t: dictionaries[locale],
      setLocale: (next) => {
        try {
          localStorage.setItem(KEY, next);
        } catch {
          // the choice lasts as long as the page
        }
        setLocaleState(next);
      },
      dateTime: (iso) => format.format(new Date(iso)),
    };
  }, [locale]);
  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(Context);
  if (!value) throw new Error("useI18n outside I18nProvider");
  return value;
}
