// Who the shopper is, kept in localStorage so a reload or a second tab keeps it:
// the customer's tokens after login, the guest cart's session, the currency and the
// guest orders' tokens (a guest reads their order with it).
//
// Tokens in localStorage are readable by any script of this origin: the storefront
// loads no third-party script and maef-api serves it with a Content-Security-Policy
// allowing only its own (api/src/web.rs). A shop that embeds other scripts should keep
// the refresh token in an HttpOnly cookie behind its own server instead.

const KEYS = {
  access: "maef.access_token",
  refresh: "maef.refresh_token",
  cart: "maef.cart_session",
  currency: "maef.currency",
  orders: "maef.order_tokens",
} as const;

type Listener = () => void;
const listeners = new Set<Listener>();

function read(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function write(key: string, value: string | null) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Private browsing without storage: the session lasts as long as the page.
  }
}

function changed() {
  for (const listener of listeners) listener();
}

// Another tab signing in or out, or placing an order, changes this tab too.
if (typeof window !== "undefined") {
  window.addEventListener("storage", (event) => {
    if (event.key?.startsWith("maef.")) changed();
  });
}

let refreshing: Promise<boolean> | null = null;

/** Trades a refresh token for new tokens, or null when the API refuses it. */
export type Refresher = (refreshToken: string) => Promise<{ access_token: string; refresh_token: string } | null>;
let refresher: Refresher | null = null;

export const session = {
  accessToken: () => read(KEYS.access),
  cartSession: () => read(KEYS.cart),
  currency: () => read(KEYS.currency) ?? "XOF",

  signedIn: () => read(KEYS.access) !== null,

  setTokens(access: string, refresh: string) {
    write(KEYS.access, access);
    write(KEYS.refresh, refresh);
    changed();
  },

  /** Forgets the tokens without calling the API (after a refused refresh). */
  signOutLocally() {
    if (read(KEYS.access) === null && read(KEYS.refresh) === null) return;
    write(KEYS.access, null);
    write(KEYS.refresh, null);
    changed();
  },

  refreshToken: () => read(KEYS.refresh),

  setCartSession(value: string | null) {
    // Only a real change notifies: the cart reloads on notifications.
    if (read(KEYS.cart) === value) return;
    write(KEYS.cart, value);
    changed();
  },

  setCurrency(value: string) {
    if (read(KEYS.currency) === value) return;
    write(KEYS.currency, value);
    changed();
  },

  /** The token a guest reads order `number` with (returned once, at checkout). */
  orderToken(number: string): string | undefined {
    try {
      const tokens = JSON.parse(read(KEYS.orders) ?? "{}") as Record<string, string>;
      return tokens[number];
    } catch {
      return undefined;
    }
  },

  rememberOrderToken(number: string, token: string) {
    let tokens: Record<string, string> = {};
    try {
      tokens = JSON.parse(read(KEYS.orders) ?? "{}") as Record<string, string>;
    } catch {
      tokens = {};
    }
    tokens[number] = token;
    write(KEYS.orders, JSON.stringify(tokens));
  },

  /**
   * Trades the refresh token for new tokens (the client registers how, with the typed
   * `POST /api/v1/auth/refresh`); one at a time however many calls got a 401
   * together. False when there is none or it is refused (then the customer is signed
   * out).
   */
  refresh(): Promise<boolean> {
    const token = read(KEYS.refresh);
    if (!token || !refresher) return Promise.resolve(false);
    refreshing ??= refresher(token)
      .then((tokens) => {
        if (!tokens) {
          session.signOutLocally();
          return false;
        }
        session.setTokens(tokens.access_token, tokens.refresh_token);
        return true;
      })
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
    return refreshing;
  },

  /** Sets how refresh tokens are traded (see `refresh`). */
  setRefresher(fn: Refresher) {
    refresher = fn;
  },

  subscribe(listener: Listener): () => void {
    listeners.add(listener);
    return () => listeners.delete(listener);
  },
};
