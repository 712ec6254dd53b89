// A product page (`GET /api/v1/products/{slug}`): gallery with srcset from the
// derivatives, the variant picker (one group per attribute: size, colour…), the price
// with its compare-at and 30-day lowest price, the stock status, add to cart,
// description and specs, reviews (components/Reviews.tsx), related products.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, useParams } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { Picture } from "../components/Picture";
import { PriceTag } from "../components/PriceTag";
import { ProblemAlert } from "../components/ProblemAlert";
import { ProductCard } from "../components/ProductCard";
import { Reviews } from "../components/Reviews";
import { useI18n } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { useCart } from "../state/cart";
import { useCurrency } from "../state/currency";

type Detail = Schemas["ProductDetail"];
type Variant = Schemas["Variant"];

export default function Product() {
  const { slug = "" } = useParams();
  const product = useAsync(
    (signal) => unwrap(() => api.GET("/api/v1/products/{slug}", { params: { path: { slug } }, signal })),
    [slug],
  );
  useEffect(() => {
    if (product.data) document.title = product.data.title;
  }, [product.data]);
  if (product.error) return <ProblemAlert error={product.error} />;
  if (!product.data) return <p className="loading" aria-busy="true" />;
  return <ProductView key={product.data.id} product={product.data} />;
}

function ProductView({ product }: { product: Detail }) {
  const { t } = useI18n();
  const currency = useCurrency();
  const [variant, setVariant] = useState<Variant | undefined>(
    product.variants.find((v) => v.stock_status !== "out_of_stock") ?? product.variants[0],
  );
  return (
    <article className="product">
      <nav aria-label={t.product.breadcrumbs} className="breadcrumbs">
        <ol>
          {product.breadcrumbs.map((c) => (
            <li key={c.slug}>
              <Link to={`/catalog/${c.slug}`}>{c.name}</Link>
            </li>
          ))}
        </ol>
      </nav>
      <div className="product-main">
        <Gallery product={product} />
        <div className="product-buy">
          <h1>{product.title}</h1>
          {product.brand && <p className="card-brand">{product.brand}</p>}
          {product.rating.count > 0 && product.rating.average !== null && (
            <p className="product-rating">
              <a href="#reviews-title">
                ★ {t.reviews.average(product.rating.average.toFixed(1))} · {t.reviews.count(product.rating.count)}
              </a>
            </p>
          )}
          {variant ? (
            <PriceTag prices={variant.prices} currency={currency} />
          ) : (
            <PriceTag prices={product.price_from} currency={currency} from />
          )}
          {variant && <StockStatus status={variant.stock_status} />}
          <VariantPicker variants={product.variants} selected={variant} onSelect={setVariant} />
          <AddToCart variant={variant} currency={currency} />
        </div>
      </div>
      {product.description && (
        <section aria-labelledby="description-title">
          <h2 id="description-title">{t.product.description}</h2>
          <p>{product.description}</p>
          {product.long_description && <p>{product.long_description}</p>}
        </section>
      )}
      {Object.keys(product.specs).length > 0 && (
        <section aria-labelledby="specs-title">
          <h2 id="specs-title">{t.product.specs}</h2>
          <dl className="specs">
            {Object.entries(product.specs).map(([key, value]) => (
              <div key={key}>
                <dt>{key}</dt>
                <dd>{typeof value === "string" ? value : JSON.stringify(value)}</dd>
              </div>
            ))}
          </dl>
        </section>
      )}
      <Reviews slug={product.slug} />
      {product.related.length > 0 && (
        <section aria-labelledby="related-title">
          <h2 id="related-title">{t.product.related}</h2>
          <ul className="grid">
            {product.related.map((p) => (
              <ProductCard key={p.id} product={p} />
            ))}
          </ul>
        </section>
      )}
    </article>
  );
}

function Gallery({ product }: { product: Detail }) {
  const { t } = useI18n();
  const [index, setIndex] = useState(0);
  const media = product.media;
  const current = media[index];
  if (!current) return <div className="gallery placeholder" aria-hidden="true" />;
  return (
    <section className="gallery" aria-label={t.product.gallery}>
      {current.mime_type.startsWith("video/") ? (
        <video src={current.url} controls playsInline preload="metadata" width={current.width ?? undefined} height={current.height ?? undefined} aria-label={current.alt || product.title} />
      ) : (
        <Picture
          url={current.url}
          alt={current.alt || product.title}
          width={current.width}
          height={current.height}
          sizes="(max-width: 800px) 100vw, 50vw"
          priority
          webp
        />
      )}
      {media.length > 1 && (
        <ul className="thumbs">
          {media.map((m, i) => (
            <li key={m.asset_id}>
              <button
                type="button"
                aria-label={t.product.photo(i + 1, media.length)}
                aria-pressed={i === index}
                onClick={() => setIndex(i)}
              >
                <img src={`${m.url}?variant=thumb`} alt="" width={64} height={64} loading="lazy" />
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function StockStatus({ status }: { status: Variant["stock_status"] }) {
  const { t } = useI18n();
  const text = { in_stock: t.product.inStock, low_stock: t.product.lowStock, out_of_stock: t.product.outOfStock }[status];
  return (
    <p className={`stock ${status}`} data-testid="stock-status">
      {text}
    </p>
  );
}

/**
 * One radio group per attribute (size, colour…); a value that no variant in stock has
 * with the other choices is marked. Variants without attributes are picked by name.
 */
function VariantPicker(props: { variants: Variant[]; selected?: Variant; onSelect: (v: Variant) => void }) {
  const { t } = useI18n();
  const { variants, selected, onSelect } = props;
  const names = useMemo(() => {
    const all = new Set<string>();
    for (const v of variants) for (const key of Object.keys(v.attributes)) all.add(key);
    return [...all];
  }, [variants]);
  if (variants.length < 2) return null;
  if (names.length === 0) {
    return (
      <fieldset className="variant-picker">
        <legend>{t.product.variant}</legend>
        {variants.map((v) => (
          <label key={v.id} className="chip">
            <input type="radio" name="variant" checked={selected?.id === v.id} onChange={() => onSelect(v)} />
            {v.name}
          </label>
        ))}
      </fieldset>
    );
  }
  const chosen = (name: string) => String(selected?.attributes[name] ?? "");
  function pick(name: string, value: string) {
    const wanted = { ...(selected?.attributes ?? {}), [name]: value };
    const exact = variants.find((v) => names.every((n) => String(v.attributes[n] ?? "") === String(wanted[n] ?? "")));
    const closest = variants.find((v) => String(v.attributes[name] ?? "") === value);
    const next = exact ?? closest;
    if (next) onSelect(next);
  }
  return (
    <>
      {names.map((name) => {
        const values = [...new Set(variants.map((v) => String(v.attributes[name] ?? "")).filter(Boolean))];
        return (
          <fieldset key={name} className="variant-picker">
            <legend>{name}</legend>
            {values.map((value) => {
              const match = variants.find(
                (v) =>
                  String(v.attributes[name]) === value &&
                  names.every((n) => n === name || String(v.attributes[n] ?? "") === chosen(n)),
              );
              const out = !match || match.stock_status === "out_of_stock";
              return (
                <label key={value} className={`chip${out ? " chip-out" : ""}`}>
                  <input
                    type="radio"
                    name={`attr-${name}`}
                    value={value}
                    checked={chosen(name) === value}
                    onChange={() => pick(name, value)}
                  />
                  {value}
                  {out && <span className="visually-hidden"> ({t.product.outOfStock})</span>}
                </label>
              );
            })}
          </fieldset>
        );
      })}
    </>
  );
}

function AddToCart({ variant, currency }: { variant?: Variant; currency: string }) {
  const { t } = useI18n();
  const cart = useCart();
  const [quantity, setQuantity] = useState(1);
  const [state, setState] = useState<{ busy: boolean; error: unknown; added: boolean }>({
    busy: false,
    error: null,
    added: false,
  });
  const sold = variant?.prices.some((p) => p.currency === (cart.quote?.currency ?? currency));
  const disabled = !variant || variant.stock_status === "out_of_stock" || !sold || state.busy;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!variant) return;
    setState({ busy: true, error: null, added: false });
    try {
      await cart.add(variant.id, quantity);
      setState({ busy: false, error: null, added: true });
    } catch (error) {
      setState({ busy: false, error, added: false });
    }
  }

  return (
    <form className="add-to-cart" onSubmit={submit}>
      <label>
        {t.product.quantity}
        <input
          type="number"
          min={1}
          max={999}
          value={quantity}
          onChange={(e) => setQuantity(Math.max(1, Math.min(999, Number(e.target.value) || 1)))}
        />
      </label>
      <button type="submit" className="primary" disabled={disabled}>
        {state.busy ? t.product.adding : t.product.addToCart}
      </button>
      <div aria-live="polite">
        {state.added && (
          <p className="success">
            {t.product.added} <Link to="/cart">{t.product.viewCart}</Link>
          </p>
        )}
      </div>
      <ProblemAlert error={state.error} />
    </form>
  );
}
