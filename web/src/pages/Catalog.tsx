// The catalog: `GET /api/v1/products` with the category (from the path), brand, tag,
// attribute, price, stock and text filters and the sort, all kept in the URL so a
// filtered page can be shared and the back button works. Pages come by keyset
// ("load more" passes `next_cursor` as `after`): none repeats or skips a product
// while the catalog changes. The category tree carries product counts; with a text
// filter, the facets of `GET /api/v1/search` (brands, tags, attributes) narrow it.
import { useEffect, useState } from "react";
import { useParams, useSearchParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import type { paths } from "../api/schema";
import { CategoryTree } from "../components/CategoryTree";
import { PriceFilter } from "../components/PriceFilter";
import { ProblemAlert } from "../components/ProblemAlert";
import { ProductCard } from "../components/ProductCard";
import { useI18n } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { useCurrency } from "../state/currency";

type Summary = Schemas["ProductSummary"];
type ProductsQuery = NonNullable<paths["/api/v1/products"]["get"]["parameters"]["query"]>;
type Sort = NonNullable<ProductsQuery["sort"]>;
const SORTS: Exclude<Sort, "relevance">[] = ["price_asc", "price_desc", "newest", "popular", "rating"];

export default function Catalog() {
  const { t } = useI18n();
  const currency = useCurrency();
  const { category } = useParams();
  const [params, setParams] = useSearchParams();
  const [items, setItems] = useState<Summary[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [more, setMore] = useState<{ loading: boolean; error: unknown }>({ loading: false, error: null });

  const tree = useAsync((signal) => unwrap(() => api.GET("/api/v1/categories", { signal })), []);
  const q = params.get("q") ?? "";
  const facets = useAsync(
    (signal) =>
      q
        ? unwrap(() =>
            api.GET("/api/v1/search", { params: { query: { q, currency: currency as Schemas["Currency"], limit: 1 } }, signal }),
          ).then((page) => page.facets)
        : Promise.resolve(null),
    [q, currency],
  );

  // The API's query: the URL's filters, plus the category and the currency. The
  // attribute filters (`attr.<name>=<value>`) are open-ended, so the document cannot
  // name them: they are added beside the typed parameters.
  function query(after?: string): ProductsQuery {
    const get = (key: string) => params.get(key) ?? undefined;
    const number = (key: string) => (params.get(key) === null ? undefined : Number(params.get(key)));
    const out: ProductsQuery = {
      limit: 12,
      currency: currency as Schemas["Currency"],
      category,
      brand: get("brand"),
      tag: get("tag"),
      q: get("q"),
      sort: get("sort") as Sort | undefined,
      min_price: number("min_price"),
      max_price: number("max_price"),
      in_stock: params.get("in_stock") === "true" ? true : undefined,
      after,
    };
    for (const [key, value] of params) if (key.startsWith("attr.")) Object.assign(out, { [key]: value });
    return out;
  }

  const first = useAsync(
    (signal) =>
      unwrap(() =>
        api.GET("/api/v1/products", { params: { query: query() }, signal }),
      ),
    [category, params.toString(), currency],
  );
  useEffect(() => {
    setItems(first.data?.items ?? []);
    setCursor(first.data?.next_cursor ?? null);
    setMore({ loading: false, error: null });
  }, [first.data]);

  async function loadMore() {
    if (!cursor) return;
    setMore({ loading: true, error: null });
    try {
      const page = await unwrap(() => api.GET("/api/v1/products", { params: { query: query(cursor) } }));
      setItems((current) => [...current, ...page.items]);
      setCursor(page.next_cursor);
      setMore({ loading: false, error: null });
    } catch (error) {
      setMore({ loading: false, error });
    }
  }

  function update(changes: Record<string, string | null>) {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === "") next.delete(key);
      else next.set(key, value);
    }
    setParams(next);
  }

  const num = (key: string) => (params.get(key) === null ? null : Number(params.get(key)));
  const search = params.toString() ? `?${params.toString()}` : "";
  const title = findName(tree.data ?? [], category) ?? t.catalog.title;

  return (
    <div className="catalog">
      <aside className="filters" aria-label={t.catalog.filters}>
        {tree.data && <CategoryTree tree={tree.data} current={category} search={search} />}
        <PriceFilter
          key={`${currency}-${params.get("min_price")}-${params.get("max_price")}`}
          currency={currency}
          min={num("min_price")}
          max={num("max_price")}
          onApply={(min, max) => update({ min_price: min?.toString() ?? null, max_price: max?.toString() ?? null })}
        />
        <label className="checkbox">
          <input
            type="checkbox"
            checked={params.get("in_stock") === "true"}
            onChange={(e) => update({ in_stock: e.target.checked ? "true" : null })}
          />
          {t.catalog.inStockOnly}
        </label>
        {facets.data && (
          <>
            <FacetList
              title={t.catalog.brands}
              items={facets.data.brands.map((b) => ({ key: b.brand, label: b.brand, count: b.count }))}
              active={params.get("brand")}
              onPick={(brand) => update({ brand })}
            />
            <FacetList
              title={t.catalog.tags}
              items={facets.data.tags.map((tag) => ({ key: tag.slug, label: tag.name, count: tag.count }))}
              active={params.get("tag")}
              onPick={(tag) => update({ tag })}
            />
            <FacetList
              title={t.catalog.attributes}
              items={facets.data.attributes.map((a) => ({
                key: `${a.name}=${a.value}`,
                label: `${a.name}: ${a.value}`,
                count: a.count,
              }))}
              active={[...params].filter(([k]) => k.startsWith("attr.")).map(([k, v]) => `${k.slice(5)}=${v}`)[0] ?? null}
              onPick={(pair) => {
                const [name, value] = (pair ?? "").split("=");
                const cleared = Object.fromEntries([...params.keys()].filter((k) => k.startsWith("attr.")).map((k) => [k, null]));
                update(pair && name ? { ...cleared, [`attr.${name}`]: value ?? "" } : cleared);
              }}
            />
          </>
        )}
        {search && (
          <button type="button" className="link-button" onClick={() => setParams(new URLSearchParams(q ? { q } : {}))}>
            {t.catalog.clear}
          </button>
        )}
      </aside>
      <section className="results" aria-labelledby="catalog-title" aria-busy={first.loading}>
        <div className="section-head">
          <h1 id="catalog-title">{q ? `${title} · “${q}”` : title}</h1>
          <label className="sort">
            {t.catalog.sort}{" "}
            <select value={params.get("sort") ?? ""} onChange={(e) => update({ sort: e.target.value || null })}>
              <option value="">{t.catalog.sorts.default}</option>
              {q && <option value="relevance">{t.catalog.sorts.relevance}</option>}
              {SORTS.map((s) => (
                <option key={s} value={s}>
                  {t.catalog.sorts[s]}
                </option>
              ))}
            </select>
          </label>
        </div>
        <ProblemAlert error={first.error} />
        {!first.loading && !first.error && items.length === 0 && <p>{t.catalog.empty}</p>}
        <ul className="grid" data-testid="product-grid">
          {items.map((p, i) => (
            <ProductCard key={p.id} product={p} priority={i < 2} />
          ))}
        </ul>
        <ProblemAlert error={more.error} />
        {cursor && (
          <button type="button" className="load-more" onClick={loadMore} disabled={more.loading}>
            {more.loading ? t.catalog.loading : t.catalog.loadMore}
          </button>
        )}
      </section>
    </div>
  );
}

function findName(nodes: Schemas["CategoryNode"][], slug?: string): string | null {
  if (!slug) return null;
  for (const node of nodes) {
    if (node.slug === slug) return node.name;
    const found = findName(node.children, slug);
    if (found) return found;
  }
  return null;
}

interface Facet {
  key: string;
  label: string;
  count: number;
}

function FacetList(props: { title: string; items: Facet[]; active: string | null; onPick: (key: string | null) => void }) {
  const { t } = useI18n();
  if (!props.items.length) return null;
  return (
    <fieldset className="facet">
      <legend>{props.title}</legend>
      {props.items.map((item) => (
        <label key={item.key} className="checkbox">
          <input
            type="checkbox"
            checked={props.active === item.key}
            onChange={(e) => props.onPick(e.target.checked ? item.key : null)}
          />
          {item.label} <span className="count">{t.catalog.facetCount(item.count)}</span>
        </label>
      ))}
    </fieldset>
  );
}
