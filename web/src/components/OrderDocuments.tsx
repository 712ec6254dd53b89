// The order's invoice and credit notes (docs/fulfilment.md): `GET …/documents` lists
// them; each is fetched through the typed client — so it carries the customer's bearer
// token or the guest's `X-Order-Token`, which a plain link could not — and opened from
// a blob URL: the HTML in a new tab, the PDF (`Accept: application/pdf`) downloaded
// under the API's file name. Before payment the API answers `invoice_not_found`, shown
// as it says.
import { useEffect, useRef, useState } from "react";
import { api, unwrap, unwrapResponse, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { formatMoney } from "../lib/money";
import { useAsync } from "../lib/useAsync";
import { orderParams, type OrderRef } from "../payments";
import { ProblemAlert } from "./ProblemAlert";

type Order = Schemas["Order"];
type DocumentSummary = Schemas["DocumentSummary"];

/** `filename="F-2026-000001.pdf"` of a Content-Disposition header. */
function fileName(disposition: string | null, fallback: string): string {
  const match = disposition?.match(/filename="([^"]+)"/);
  return match?.[1] ?? fallback;
}

/** One document's bytes: the order's invoice (`number` null) or a document by number. */
async function fetchDocument(order: OrderRef, number: string | null, pdf: boolean) {
  const params = orderParams(order);
  const header = { ...params.header, Accept: pdf ? "application/pdf" : "text/html" };
  const { data, response } =
    number === null
      ? await unwrapResponse(() =>
          api.GET("/api/v1/orders/{number}/invoice", { params: { path: params.path, header }, parseAs: "blob" }),
        )
      : await unwrapResponse(() =>
          api.GET("/api/v1/orders/{number}/documents/{document}", {
            params: { path: { ...params.path, document: number }, header },
            parseAs: "blob",
          }),
        );
  const name = fileName(response.headers.get("Content-Disposition"), `${number ?? "invoice"}.${pdf ? "pdf" : "html"}`);
  return { blob: data as Blob, name };
}

interface Props {
  order: Order;
  orderRef: OrderRef;
}

export function OrderDocuments({ order, orderRef }: Props) {
  const { t, locale, dateTime } = useI18n();
  // Reloaded when the order's payment changes (paid: an invoice; refunded: a credit note).
  const documents = useAsync(
    (signal) => unwrap(() => api.GET("/api/v1/orders/{number}/documents", { params: orderParams(orderRef), signal })),
    [orderRef, order.payment_status, order.status],
  );
  const [state, setState] = useState<{ busy: string | null; error: unknown; blocked: { url: string; name: string } | null }>({
    busy: null,
    error: null,
    blocked: null,
  });
  // Blob URLs live until the page goes (a tab opened from one keeps its document).
  const urls = useRef<string[]>([]);
  useEffect(() => () => urls.current.forEach((url) => URL.revokeObjectURL(url)), []);

  const items = documents.data?.items ?? [];
  // A cancelled order that was never paid has no invoice, and never will.
  if (order.status === "cancelled" && (!documents.data || items.length === 0) && documents.error === null) return null;
  const invoice = items.find((d) => d.kind === "invoice") ?? null;
  const creditNotes = items.filter((d) => d.kind === "credit_note");
  const label = (d: DocumentSummary | null) =>
    d === null ? t.documents.invoice : d.kind === "invoice" ? t.documents.invoiceNumbered(d.number) : t.documents.creditNote(d.number);

  async function open(d: DocumentSummary | null, pdf: boolean) {
    const key = `${d?.number ?? "invoice"}:${pdf}`;
    setState({ busy: key, error: null, blocked: null });
    try {
      // The invoice by its own route until the list names it: that route is the one
      // that says why there is none yet.
      const { blob, name } = await fetchDocument(orderRef, d && d.kind === "credit_note" ? d.number : null, pdf);
      const url = URL.createObjectURL(blob);
      urls.current.push(url);
      if (pdf) {
        const a = document.createElement("a");
        a.href = url;
        a.download = name;
        document.body.append(a);
        a.click();
        a.remove();
      } else {
        const tab = window.open(url, "_blank");
        if (tab) tab.opener = null;
        else {
          // A popup blocker: the shopper opens it with a click of their own.
          setState({ busy: null, error: null, blocked: { url, name: label(d) } });
          return;
        }
      }
      setState({ busy: null, error: null, blocked: null });
    } catch (error) {
      setState({ busy: null, error, blocked: null });
    }
  }

  const row = (d: DocumentSummary | null) => {
    const name = label(d);
    const key = d?.number ?? "invoice";
    return (
      <li key={key} className="document" data-testid="document" data-number={d?.number ?? ""} data-kind={d?.kind ?? "invoice"}>
        <span>
          <strong>{name}</strong>
          {d && <small> {t.documents.issuedOn(dateTime(d.issued_at), formatMoney(d.total, d.currency, locale, order.exponent))}</small>}
        </span>
        <span className="document-actions">
          <button type="button" aria-label={t.documents.viewLabel(name)} disabled={state.busy !== null} onClick={() => open(d, false)}>
            {t.documents.view}
          </button>
          <button type="button" aria-label={t.documents.pdfLabel(name)} disabled={state.busy !== null} onClick={() => open(d, true)}>
            {t.documents.pdf}
          </button>
        </span>
      </li>
    );
  };

  return (
    <section aria-labelledby="documents-title" data-testid="documents">
      <h2 id="documents-title">{t.documents.title}</h2>
      <ul className="documents">
        {row(invoice)}
        {creditNotes.map(row)}
      </ul>
      <div aria-live="polite">
        {state.busy !== null && <p className="loading">{t.documents.opening}</p>}
        {state.blocked && (
          <p>
            {t.documents.blocked}{" "}
            <a href={state.blocked.url} target="_blank" rel="noopener">
              {t.documents.openHere(state.blocked.name)}
            </a>
          </p>
        )}
      </div>
      {documents.error !== null && <ProblemAlert error={documents.error} />}
      {state.error !== null && (
        <div data-testid="documents-error">
          <ProblemAlert error={state.error} />
        </div>
      )}
    </section>
  );
}
