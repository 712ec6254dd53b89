// The customer's account: who they are, their order history (`GET /api/v1/orders`,
// newest first, keyset pages) and sign-out.
import { useState } from "react";
import { Link, Navigate, useNavigate } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { ProblemAlert } from "../components/ProblemAlert";
import { useI18n } from "../i18n";
import { formatMoney, exponentOf } from "../lib/money";
import { useAsync } from "../lib/useAsync";
import { signOut, useProfile, useSignedIn } from "../state/auth";

type Summary = Schemas["OrderSummary"];

export default function Account() {
  const { t, locale, dateTime } = useI18n();
  const signedIn = useSignedIn();
  const navigate = useNavigate();
  const { profile } = useProfile();
  const [extra, setExtra] = useState<{ items: Summary[]; cursor: string | null | undefined; error: unknown }>({
    items: [],
    cursor: undefined,
    error: null,
  });
  const first = useAsync(
    (signal) => (signedIn ? unwrap(() => api.GET("/api/v1/orders", { params: { query: { limit: 10 } }, signal })) : Promise.resolve(null)),
    [signedIn],
  );
  if (!signedIn) return <Navigate to="/login" state={{ from: "/account" }} replace />;

  const orders = [...(first.data?.items ?? []), ...extra.items];
  const cursor = extra.cursor === undefined ? first.data?.next_cursor : extra.cursor;

  async function loadMore() {
    if (!cursor) return;
    try {
      const page = await unwrap(() => api.GET("/api/v1/orders", { params: { query: { limit: 10, after: cursor } } }));
      setExtra((e) => ({ items: [...e.items, ...page.items], cursor: page.next_cursor, error: null }));
    } catch (error) {
      setExtra((e) => ({ ...e, error }));
    }
  }

  return (
    <section aria-labelledby="account-title">
      <h1 id="account-title">{t.account.title}</h1>
      {profile && (
        <p>
          <strong data-testid="account-email">{profile.email}</strong> · {t.account.memberSince(dateTime(profile.created_at))}
        </p>
      )}
      <h2>{t.account.orders}</h2>
      <ProblemAlert error={first.error ?? extra.error} />
      {first.data && orders.length === 0 && <p>{t.account.noOrders}</p>}
      <ul className="order-list" data-testid="order-history">
        {orders.map((o) => (
          <li key={o.id}>
            <Link to={`/orders/${o.number}`}>{o.number}</Link> · {o.placed_at ? dateTime(o.placed_at) : ""} ·{" "}
            {t.account.itemCount(o.items)} · {formatMoney(o.grand_total, o.currency, locale, exponentOf(o.currency))} ·{" "}
            <span className={`status status-${o.status}`}>{t.order.statuses[o.status] ?? o.status}</span>
          </li>
        ))}
      </ul>
      {cursor && (
        <button type="button" className="load-more" onClick={loadMore}>
          {t.catalog.loadMore}
        </button>
      )}
      <button
        type="button"
        onClick={async () => {
          await signOut();
          navigate("/", { replace: true });
        }}
      >
        {t.account.signOut}
      </button>
    </section>
  );
}
