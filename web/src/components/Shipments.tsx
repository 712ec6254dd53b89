// The order's parcels (`shipments` of `GET /api/v1/orders/{number}`, docs/fulfilment.md):
// carrier, state and since when, the tracking number as a link to the carrier's page
// (the API's `tracking_url`), and what each parcel holds.
import type { Schemas } from "../api/client";
import { useI18n } from "../i18n";

type Shipment = Schemas["Shipment"];

/** When the parcel reached its current state (the API keeps one time per state). */
function reachedAt(s: Shipment): string | null {
  switch (s.status) {
    case "pending":
      return s.created_at;
    case "shipped":
      return s.shipped_at;
    case "in_transit":
      return s.in_transit_at;
    case "delivered":
      return s.delivered_at;
    case "failed_delivery":
      return s.failed_at;
    case "returned_to_sender":
      return s.returned_at;
  }
}

export function Shipments({ shipments }: { shipments: Shipment[] }) {
  const { t, dateTime } = useI18n();
  if (shipments.length === 0) return null;
  return (
    <section aria-labelledby="shipments-title" data-testid="shipments">
      <h2 id="shipments-title">{t.shipments.title}</h2>
      <ol className="parcels">
        {shipments.map((s, i) => {
          const since = reachedAt(s);
          return (
            <li key={s.id} className="parcel" data-testid="parcel" data-shipment-id={s.id} aria-labelledby={`parcel-${s.id}`}>
              <h3 id={`parcel-${s.id}`} data-testid="parcel-carrier">
                {t.shipments.parcel(i + 1, shipments.length, s.carrier.name)}
              </h3>
              <p>
                {t.shipments.status}:{" "}
                <strong className={`status shipment-${s.status}`} data-testid="parcel-status" data-status={s.status}>
                  {t.shipments.statuses[s.status] ?? s.status}
                </strong>{" "}
                {since && <time dateTime={since}>{t.shipments.since(dateTime(since))}</time>}
              </p>
              <p>
                {t.shipments.tracking}:{" "}
                {s.tracking_number === null ? (
                  <span className="note">{t.shipments.noTracking}</span>
                ) : s.tracking_url ? (
                  // A new tab keeps the order page; no opener and no referrer: the
                  // carrier's page learns nothing of this one (a guest's URL has a token).
                  <a href={s.tracking_url} target="_blank" rel="noopener noreferrer" data-testid="tracking-link">
                    {s.tracking_number}
                    <span className="visually-hidden"> {t.shipments.newTab}</span>
                  </a>
                ) : (
                  <span data-testid="tracking-number">{s.tracking_number}</span>
                )}
              </p>
              <h4 className="parcel-contents">{t.shipments.contents}</h4>
              <ul className="parcel-lines">
                {s.lines.map((line) => (
                  <li key={line.order_item_id} data-testid="parcel-line" data-sku={line.sku} data-quantity={line.quantity}>
                    {line.quantity} × {line.product_title}
                    <span className="variant-name">{line.variant_name}</span>
                  </li>
                ))}
              </ul>
            </li>
          );
        })}
      </ol>
    </section>
  );
}
