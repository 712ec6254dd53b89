// Search results (`GET /api/v1/search`): typo-tolerant full text in French and
// English, best first, with the matched words highlighted and the categories they
// fall in. "Load more" follows `next_cursor`.
//
// The price filter: the search API ranks by relevance and takes no price bounds, so
// the page keeps the hits whose "from" price (in the shopper's currency) is within
// them, and reads further pages until it has a page's worth or the results end —
// the same products a price-filtered search would give, in relevance order.
import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { PriceFilter } from "../components/PriceFilter";
import { ProblemAlert } from "../components/ProblemAlert";
import { ProductCard } from "../components/ProductCard";
import { useI18n } from "../i18n";
import { useCurrency } from "../state/currency";

type Hit = Schemas["SearchHit"];
type SearchPage = Schemas["SearchPage"];
const PAGE = 12;
/** Pages read at most for one "load more" when a price filter leaves few hits. */
const MAX_PAGES_PER_LOAD = 8;

export default function Search() {
  const { t } = useI18n();
  const currency = useCurrency();
  const [params, setParams] = useSearchParams();
  const q = (params.get("q") ?? "").trim();
  const min = params.get("min_price") === null ? null : Number(params.get("min_price"));
  const max = params.get("max_price") === null ? null : Number(params.get("max_price"));
  const [state, setState] = useState<{
    first: SearchPage | null;
    hits: Hit[];
    cursor: string | null;
    loading: boolean;
    error: unknown;
  }>({ first: null, hits: [], cursor: null, loading: false, error: null });

  const inRange = (hit: Hit) => {
    if (min === null && max === null) return true;
    const price = hit.price_from.find((p) => p.currency === currency);
    if (!price) return false;
    return (min === null || price.amount >= min) && (max === null || price.amount <= max);
  };

  async function read(after: string | null, signal?: AbortSignal) {
    let cursor = after;
    const found: Hit[] = [];
    let first: SearchPage | null = null;
    for (let i = 0; i < MAX_PAGES_PER_LOAD; i++) {
      const page = await unwrap(() =>
        api.GET("/api/v1/search", {
          params: { query: { q, currency: currency as Schemas["Currency"], limit: PAGE, after: cursor ?? undefined } },
          signal,
        }),
      );
      first ??= page;
      found.push(...page.items.filter(inRange));
      cursor = page.next_cursor;
      if (!cursor || found.length >= PAGE) break;
    }
    return { first, found, cursor };
  }

  useEffect(() => {
    if (!q) {
      setState({ first: null, hits: [], cursor: null, loading: false, error: null });
      return;
    }
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true, error: null }));
    read(null, controller.signal).then(
      ({ first, found, cursor }) =>
        !controller.signal.aborted && setState({ first, hits: found, cursor, loading: false, error: null }),
      (error) => !controller.signal.aborted && setState((s) => ({ ...s, hits: [], loading: false, error })),
    );
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q, currency, min, max]);

  async function loadMore() {
    setState((s) => ({ ...s, loading: true, error: null }));
    try {
      const { found, cursor } = await read(state.cursor);
      setState((s) => ({ ...s, hits: [...s.hits, ...found], cursor, loading: false }));
    } catch (error) {
      setState((s) => ({ ...s, loading: false, error }));
    }
  }

  const filtered = min !== null || max !== null;
  const first = state.first;
  return (
    <div className="catalog">
      <aside className="filters" aria-label={t.catalog.filters}>
        <PriceFilter
          key={`${currency}-${min}-${max}`}
          currency={currency}
          min={min}
          max={max}
          onApply={(lo, hi) => {
            const next = new URLSearchParams(params);
            for (const [key, value] of [
              ["min_price", lo],
              ["max_price", hi],
            ] as const) {
              if (value === null) next.delete(key);
              else next.set(key, String(value));
            }
            setParams(next);
          }}
        />
        {first && first.facets.categories.length > 0 && (
          <nav aria-label={t.catalog.categories} className="facet">
            <h3>{t.catalog.categories}</h3>
            <ul>
              {first.facets.categories.map((c) => (
                <li key={c.slug}>
                  <Link to={`/catalog/${c.slug}`}>
                    {c.name} <span className="count">{t.catalog.facetCount(c.count)}</span>
                  </Link>
                </li>
              ))}
            </ul>
          </nav>
        )}
      </aside>
      <section className="results" aria-labelledby="search-title" aria-busy={state.loading}>
        <h1 id="search-title">
          {first ? t.search.resultsFor(first.query, first.total, first.total_exact) : t.search.submit}
        </h1>
        {!q && <p>{t.search.typeToSearch}</p>}
        {filtered && first && <p className="note">{t.search.priceFiltered}</p>}
        <ProblemAlert error={state.error} />
        {q && !state.loading && !state.error && state.hits.length === 0 && <p>{t.search.noResults(q)}</p>}
        <ul className="grid" data-testid="search-results">
          {state.hits.map((hit, i) => (
            <ProductCard key={hit.id} product={hit} priority={i < 2} />
          ))}
        </ul>
        {state.cursor && (
          <button type="button" className="load-more" onClick={loadMore} disabled={state.loading}>
            {state.loading ? t.catalog.loading : t.catalog.loadMore}
          </button>
        )}
      </section>
    </div>
  );
}
