// A product in a grid: image (320 px thumb on phones), title, brand, price, stock.
import { Link } from "react-router-dom";
import type { Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { useCurrency } from "../state/currency";
import { Picture } from "./Picture";
import { PriceTag } from "./PriceTag";

type Summary = Pick<Schemas["ProductSummary"], "slug" | "title" | "brand" | "price_from" | "in_stock" | "image"> & {
  highlight?: string;
};

/** The image's size is not in summaries; the demo's and most shops' are square. */
const CARD_SIZE = { width: 640, height: 640 };

export function ProductCard({ product, priority }: { product: Summary; priority?: boolean }) {
  const { t } = useI18n();
  const currency = useCurrency();
  return (
    <li className="card">
      <Link to={`/products/${product.slug}`} className="card-link">
        {product.image ? (
          <Picture
            className="card-image"
            url={product.image.url}
            alt={product.image.alt || product.title}
            {...CARD_SIZE}
            sizes="(max-width: 600px) 50vw, 240px"
            priority={priority}
          />
        ) : (
          <div className="card-image placeholder" aria-hidden="true" />
        )}
        <span className="card-title">{product.title}</span>
      </Link>
      {product.highlight && <Highlight html={product.highlight} />}
      {product.brand && <span className="card-brand">{product.brand}</span>}
      <PriceTag prices={product.price_from} currency={currency} from />
      {!product.in_stock && <span className="stock out">{t.product.outOfStock}</span>}
    </li>
  );
}

/** A search hit's highlight: the API's `<mark>` kept, every other character text. */
function Highlight({ html }: { html: string }) {
  const parts = html.split(/(<mark>.*?<\/mark>)/g);
  return (
    <span className="highlight">
      {parts.map((part, i) =>
        part.startsWith("<mark>") ? <mark key={i}>{part.slice(6, -7)}</mark> : <span key={i}>{part}</span>,
      )}
    </span>
  );
}
