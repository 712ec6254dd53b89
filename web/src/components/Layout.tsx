// The frame of every page: a skip link, the header (shop name, search, cart with its
// count, account, language and currency), the page, the footer.
import { Link, NavLink, Outlet } from "react-router-dom";
import { Suspense } from "react";
import { useI18n, type Locale } from "../i18n";
import { useCart } from "../state/cart";
import { useSignedIn } from "../state/auth";
import { CURRENCIES, useCurrency } from "../state/currency";
import { session } from "../state/session";
import { SearchBox } from "./SearchBox";

export function Layout() {
  const { t, locale, setLocale } = useI18n();
  const cart = useCart();
  const signedIn = useSignedIn();
  const currency = useCurrency();
  return (
    <>
      <a className="skip-link" href="#main">
        {t.skipToContent}
      </a>
      <header className="site-header">
        <Link to="/" className="brand">
          {t.shopName}
        </Link>
        <SearchBox />
        <nav aria-label={t.nav.mainMenu} className="main-nav">
          <NavLink to="/catalog">{t.nav.catalog}</NavLink>
          <NavLink to={signedIn ? "/account" : "/login"}>{signedIn ? t.nav.account : t.nav.signIn}</NavLink>
          <NavLink to="/cart" className="cart-link">
            {t.nav.cart}
            <span className="badge" aria-label={`(${cart.count})`} data-testid="cart-count">
              {cart.count}
            </span>
          </NavLink>
        </nav>
        <div className="prefs">
          <label>
            <span className="visually-hidden">{t.nav.language}</span>
            <select value={locale} onChange={(e) => setLocale(e.target.value as Locale)} aria-label={t.nav.language}>
              <option value="fr">Français</option>
              <option value="en">English</option>
            </select>
          </label>
          <label>
            <span className="visually-hidden">{t.nav.currency}</span>
            <select
              value={currency}
              onChange={(e) => session.setCurrency(e.target.value)}
              aria-label={t.nav.currency}
              // A cart is priced in one currency: switch before adding, not after.
              disabled={cart.count > 0}
            >
              {CURRENCIES.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p className="loading">{t.catalog.loading}</p>}>
          <Outlet />
        </Suspense>
      </main>
      <footer className="site-footer">
        <p>
          {t.shopName} · <a href="/docs">API</a>
        </p>
      </footer>
    </>
  );
}
