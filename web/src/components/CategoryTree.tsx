// The category tree (`GET /api/v1/categories`) with each category's product count;
// the current one is marked for screen readers too (aria-current).
import { Link } from "react-router-dom";
import type { Schemas } from "../api/client";
import { useI18n } from "../i18n";

type Node = Schemas["CategoryNode"];

function Branch({ nodes, current, search }: { nodes: Node[]; current?: string; search: string }) {
  const { t } = useI18n();
  return (
    <ul>
      {nodes.map((node) => (
        <li key={node.slug}>
          <Link to={`/catalog/${node.slug}${search}`} aria-current={node.slug === current ? "page" : undefined}>
            {node.name} <span className="count">{t.catalog.facetCount(node.product_count)}</span>
          </Link>
          {node.children.length > 0 && <Branch nodes={node.children} current={current} search={search} />}
        </li>
      ))}
    </ul>
  );
}

export function CategoryTree({ tree, current, search }: { tree: Node[]; current?: string; search: string }) {
  const { t } = useI18n();
  return (
    <nav aria-label={t.catalog.categories} className="category-tree">
      <h2>{t.catalog.categories}</h2>
      <ul>
        <li>
          <Link to={`/catalog${search}`} aria-current={current ? undefined : "page"}>
            {t.catalog.allProducts}
          </Link>
        </li>
      </ul>
      <Branch nodes={tree} current={current} search={search} />
    </nav>
  );
}
