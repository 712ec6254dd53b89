// Home: featured products (`GET /api/v1/products?featured=true`) and the stories
// carousel. The first row of product images loads first (the page's largest paint).
import { Link } from "react-router-dom";
import { api, unwrap } from "../api/client";
import { ProductCard } from "../components/ProductCard";
import { ProblemAlert } from "../components/ProblemAlert";
import { Stories } from "../components/Stories";
import { useI18n } from "../i18n";
import { useAsync } from "../lib/useAsync";

export function Home() {
  const { t } = useI18n();
  const featured = useAsync(
    (signal) => unwrap(() => api.GET("/api/v1/products", { params: { query: { featured: true, limit: 8 } }, signal })),
    [],
  );
  return (
    <>
      <h1 className="hero">{t.home.title}</h1>
      <section aria-labelledby="featured-title">
        <h2 id="featured-title">{t.home.featured}</h2>
        <ProblemAlert error={featured.error} />
        <ul className="grid" data-testid="featured">
          {featured.data?.items.map((p, i) => <ProductCard key={p.id} product={p} priority={i < 2} />)}
        </ul>
        <p>
          <Link to="/catalog">{t.home.seeAll}</Link>
        </p>
      </section>
      <Stories />
    </>
  );
}
