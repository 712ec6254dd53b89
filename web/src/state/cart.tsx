// The cart: the API's quote is the only state. Every change answers with the full
// quote (lines, discounts, shipping, tax, totals), which replaces what is shown, so
// the page never adds money itself.
//
// A guest's cart is opened on the first "add to cart" with the shopper's currency
// and the store's default destination; its `session` is kept (session.ts) and sent
// as `X-Cart-Session`. At sign-in the guest cart is merged into the customer's
// (`POST /api/v1/cart` with both the token and the session).
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { api, ApiProblem, unwrap, type Schemas } from "../api/client";
import { session } from "./session";

export type Quote = Schemas["CartQuote"];
type Currency = Schemas["Currency"];

/** The destination a new cart is quoted for until the shopper gives an address. */
export const DEFAULT_COUNTRY = "SN";

interface CartApi {
  quote: Quote | null;
  /** Units in the cart (for the header's badge). */
  count: number;
  loading: boolean;
  reload: () => Promise<Quote | null>;
  add: (variantId: number, quantity: number) => Promise<Quote>;
  setQuantity: (lineId: number, quantity: number) => Promise<Quote>;
  remove: (lineId: number) => Promise<Quote>;
  applyCoupon: (code: string) => Promise<Quote>;
  removeCoupon: () => Promise<Quote>;
  chooseShipping: (code: string) => Promise<Quote>;
  /** Re-quotes the cart for another destination (tax and shipping depend on it). */
  shipTo: (country: string) => Promise<Quote>;
  /** After sign-in: merges the guest cart into the customer's. */
  mergeAfterSignIn: () => Promise<void>;
  /** After checkout: the cart is converted; forget it. */
  forget: () => void;
  replace: (quote: Quote) => void;
}

const Context = createContext<CartApi | null>(null);

function hasCart(): boolean {
  return session.signedIn() || session.cartSession() !== null;
}

export function CartProvider({ children }: { children: ReactNode }) {
  const [quote, setQuote] = useState<Quote | null>(null);
  const [loading, setLoading] = useState(hasCart());

  // Answers can arrive out of order (a reload started by a session change may be
  // answered after the add that followed it): each call takes a number when it
  // starts, and an answer older than the one shown is not shown.
  const issued = useRef(0);
  const shown = useRef(0);
  const track = useCallback(<T,>(call: () => Promise<T>) => {
    const ticket = ++issued.current;
    return call().then((value) => ({ ticket, value }));
  }, []);
  const show = useCallback((ticket: number, next: Quote | null) => {
    if (ticket < shown.current) return false;
    shown.current = ticket;
    if (next?.session) session.setCartSession(next.session);
    setQuote(next);
    return true;
  }, []);
  /** Runs a cart call and shows its quote unless a newer one is already shown. */
  const keep = useCallback(
    async (call: () => Promise<Quote>) => {
      const { ticket, value } = await track(call);
      show(ticket, value);
      return value;
    },
    [track, show],
  );

  const reload = useCallback(async () => {
    if (!hasCart()) {
      setQuote(null);
      setLoading(false);
      return null;
    }
    setLoading(true);
    const ticket = ++issued.current;
    try {
      const quote = await unwrap(() => api.GET("/api/v1/cart", { params: { header: {} } }));
      show(ticket, quote);
      return quote;
    } catch (error) {
      // An expired or converted cart is simply gone: a new one opens on the next add.
      if (error instanceof ApiProblem && (error.status === 404 || error.status === 410)) {
        if (show(ticket, null) && !session.signedIn()) session.setCartSession(null);
        return null;
      }
      throw error;
    } finally {
      setLoading(false);
    }
  }, [show]);

  useEffect(() => {
    reload().catch(() => undefined);
    return session.subscribe(() => {
      // Another tab changed the session (sign-in, sign-out, a new cart).
      reload().catch(() => undefined);
    });
  }, [reload]);

  const open = useCallback(async () => {
    if (quote) return quote;
    return keep(() =>
      unwrap(() =>
        api.POST("/api/v1/cart", {
          body: { currency: session.currency() as Currency, shipping_country: DEFAULT_COUNTRY },
        }),
      ),
    );
  }, [quote, keep]);

  const value = useMemo<CartApi>(
    () => ({
      quote,
      loading,
      count: quote?.lines.reduce((sum, line) => sum + line.quantity, 0) ?? 0,
      reload,
      async add(variantId, quantity) {
        await open();
        return keep(() => unwrap(() => api.POST("/api/v1/cart/items", { body: { variant_id: variantId, quantity } })));
      },
      async setQuantity(lineId, quantity) {
        return keep(() =>
          unwrap(() => api.PATCH("/api/v1/cart/items/{id}", { params: { path: { id: lineId } }, body: { quantity } })),
        );
      },
      async remove(lineId) {
        return keep(() => unwrap(() => api.DELETE("/api/v1/cart/items/{id}", { params: { path: { id: lineId } } })));
      },
      async applyCoupon(code) {
        return keep(() => unwrap(() => api.POST("/api/v1/cart/coupon", { body: { code } })));
      },
      async removeCoupon() {
        return keep(() => unwrap(() => api.DELETE("/api/v1/cart/coupon", {})));
      },
      async chooseShipping(code) {
        return keep(() => unwrap(() => api.PUT("/api/v1/cart/shipping-method", { body: { code } })));
      },
      async shipTo(country) {
        const current = await open();
        return keep(() =>
          unwrap(() =>
            api.POST("/api/v1/cart", {
              body: { currency: current.currency as Currency, shipping_country: country },
            }),
          ),
        );
      },
      async mergeAfterSignIn() {
        const guest = session.cartSession();
        if (guest) {
          await unwrap(() =>
            api.POST("/api/v1/cart", {
              params: { header: { "X-Cart-Session": guest } },
              body: { currency: (quote?.currency ?? session.currency()) as Currency },
            }),
          ).catch(() => undefined);
          session.setCartSession(null);
        }
        await reload().catch(() => undefined);
      },
      forget() {
        shown.current = ++issued.current;
        if (!session.signedIn()) session.setCartSession(null);
        setQuote(null);
      },
      replace(next) {
        show(++issued.current, next);
      },
    }),
    [quote, loading, reload, open, keep, show],
  );

  return <Context.Provider value={value}>{children}</Context.Provider>;
}

export function useCart(): CartApi {
  const value = useContext(Context);
  if (!value) throw new Error("useCart outside CartProvider");
  return value;
}
