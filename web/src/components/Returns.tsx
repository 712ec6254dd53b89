// Returns (docs/fulfilment.md): once something is delivered, the shopper asks to send
// delivered units back (`POST /api/v1/orders/{number}/returns`), each line with a
// quantity and a reason (`GET /api/v1/return-reasons`), and follows the order's returns
// (`GET …/returns`). What may be returned is what the API counts: units in delivered
// parcels minus units in returns not rejected. The API checks it again (another tab,
// the return window), and its refusal is shown next to the line's field it names.
import { useEffect, useId, useMemo, useRef, useState, type FormEvent } from "react";
import { api, ApiProblem, unwrap, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { formatMoney } from "../lib/money";
import { useAsync } from "../lib/useAsync";
import { orderParams, type OrderRef } from "../payments";
import { ProblemAlert, useProblemText } from "./ProblemAlert";

type Order = Schemas["Order"];
type Return = Schemas["Return"];
type Reason = Schemas["ReturnReason"];

/** Units of each order line in delivered parcels. */
function deliveredByLine(order: Order): Map<number, number> {
  const delivered = new Map<number, number>();
  for (const s of order.shipments) {
    if (s.status !== "delivered") continue;
    for (const l of s.lines) delivered.set(l.order_item_id, (delivered.get(l.order_item_id) ?? 0) + l.quantity);
  }
  return delivered;
}

/** Units of each order line in returns that were not rejected. */
function returningByLine(returns: Return[]): Map<number, number> {
  const returning = new Map<number, number>();
  for (const r of returns) {
    if (r.status === "rejected") continue;
    for (const l of r.lines) returning.set(l.order_item_id, (returning.get(l.order_item_id) ?? 0) + l.quantity);
  }
  return returning;
}

interface Props {
  order: Order;
  orderRef: OrderRef;
  /** A return was requested: the order's timeline has a new entry. */
  onChanged: () => void;
}

export function Returns(props: Props) {
  const delivered = useMemo(() => deliveredByLine(props.order), [props.order]);
  if (delivered.size === 0) return null;
  return <ReturnsSection {...props} delivered={delivered} />;
}

function ReturnsSection({ order, orderRef, onChanged, delivered }: Props & { delivered: Map<number, number> }) {
  const { t, locale, dateTime } = useI18n();
  const returns = useAsync(
    (signal) => unwrap(() => api.GET("/api/v1/orders/{number}/returns", { params: orderParams(orderRef), signal })),
    [orderRef],
  );
  const reasons = useAsync((signal) => unwrap(() => api.GET("/api/v1/return-reasons", { signal })), []);
  const [open, setOpen] = useState(false);
  const [requested, setRequested] = useState<Return | null>(null);

  const items = returns.data?.items ?? [];
  const returning = returningByLine(items);
  const returnable = order.lines
    .map((line) => ({ line, max: (delivered.get(line.id) ?? 0) - (returning.get(line.id) ?? 0) }))
    // Past its return window (`returnable_until`, RETURN_WINDOW_DAYS after delivery) a
    // line is no longer offered.
    .filter((r) => r.max > 0 && r.line.returnable_until !== null && Date.parse(r.line.returnable_until) > Date.now());
  const reasonList = reasons.data?.items ?? [];
  const reasonLabel = (code: string, fallback: string) => {
    const reason = reasonList.find((r) => r.code === code);
    return reason ? (locale === "fr" ? reason.label_fr : reason.label_en) : fallback;
  };
  const money = (amount: number, currency: string) => formatMoney(amount, currency, locale, order.exponent);

  return (
    <section aria-labelledby="returns-title" data-testid="returns">
      <h2 id="returns-title">{t.returns.title}</h2>
      {requested && (
        <p className="success" role="status" data-testid="return-requested">
          {t.returns.requested(requested.rma_number)}
        </p>
      )}
      <ProblemAlert error={returns.error ?? reasons.error} />
      {returns.data && items.length === 0 && !open && <p>{t.returns.none}</p>}
      {items.length > 0 && (
        <ol className="return-list" data-testid="return-list">
          {items.map((r) => (
            <li key={r.id} data-testid="return" data-rma={r.rma_number} data-status={r.status}>
              <h3>{t.returns.heading(r.rma_number)}</h3>
              <p>
                <strong className={`status return-${r.status}`} data-testid="return-status">
                  {t.returns.statuses[r.status] ?? r.status}
                </strong>{" "}
                <time dateTime={r.requested_at}>{t.returns.requestedOn(dateTime(r.requested_at))}</time>
              </p>
              <ul>
                {r.lines.map((l) => (
                  <li key={l.order_item_id} data-testid="return-line" data-sku={l.sku}>
                    {l.quantity} × {l.product_title} <span className="variant-name">{l.variant_name}</span>
                    <small> {reasonLabel(l.reason, l.reason_label)}</small>
                  </li>
                ))}
              </ul>
              {r.note && <p className="note">{r.note}</p>}
              {r.status === "rejected" && r.staff_note && <p>{t.returns.shopNote(r.staff_note)}</p>}
              {r.refund && <p>{t.returns.refund(money(r.refund.amount, r.refund.currency))}</p>}
            </li>
          ))}
        </ol>
      )}
      {returns.data && returnable.length > 0 && !open && (
        <button
          type="button"
          onClick={() => {
            setRequested(null);
            setOpen(true);
          }}
          data-testid="return-start"
        >
          {t.returns.request}
        </button>
      )}
      {open && returns.data && (
        <ReturnForm
          orderRef={orderRef}
          returnable={returnable}
          reasons={reasonList}
          onClose={() => setOpen(false)}
          onRefused={returns.reload}
          onRequested={(r) => {
            setRequested(r);
            setOpen(false);
            returns.reload();
            onChanged();
          }}
        />
      )}
    </section>
  );
}

type OrderLine = Order["lines"][number];

interface Choice {
  chosen: boolean;
  quantity: number;
  reason: string;
}

/**
 * Where a refusal of the API belongs: a line's field (`<order line id>.<field>`), the
 * note, the list of lines, or nowhere in particular (null: shown above the button).
 * `sent` is the order line ids in the order they were sent: `details` names a line by
 * its index in the request (`$.lines[1].reason`), `return_quantity_exceeds` by its id.
 */
function refusedField(error: unknown, sent: number[]): string | null {
  if (!(error instanceof ApiProblem)) return null;
  const details = error.problem.details ?? "";
  if (error.code === "return_quantity_exceeds") {
    try {
      const id = (JSON.parse(details) as { order_item_id?: number }).order_item_id;
      if (typeof id === "number") return `${id}.quantity`;
    } catch {
      return null;
    }
  }
  const line = /^\$\.lines\[(\d+)\]\.(\w+)$/.exec(details);
  if (line) {
    const id = sent[Number(line[1])];
    if (id === undefined) return null;
    return `${id}.${line[2] === "order_item_id" ? "line" : line[2]}`;
  }
  if (details === "$.lines") return "lines";
  if (details === "$.note") return "note";
  return null;
}

interface FormProps {
  orderRef: OrderRef;
  returnable: { line: OrderLine; max: number }[];
  reasons: Reason[];
  onClose: () => void;
  onRefused: () => void;
  onRequested: (r: Return) => void;
}

function ReturnForm({ orderRef, returnable, reasons, onClose, onRefused, onRequested }: FormProps) {
  const { t, locale } = useI18n();
  const problemText = useProblemText();
  const ids = useId();
  const [choices, setChoices] = useState<Record<number, Choice>>({});
  const [note, setNote] = useState("");
  const [state, setState] = useState<{ busy: boolean; error: unknown; sent: number[] }>({ busy: false, error: null, sent: [] });
  const legend = useRef<HTMLLegendElement>(null);
  useEffect(() => legend.current?.focus(), []);

  const choice = (id: number): Choice => choices[id] ?? { chosen: false, quantity: 1, reason: "" };
  // The field the refusal names, if the form still shows it (a line nothing is left of
  // after the list was reloaded is gone: its refusal is then shown above the button).
  const named = refusedField(state.error, state.sent);
  const shown = (name: string) => {
    if (name === "lines" || name === "note") return true;
    const id = Number(name.split(".")[0]);
    return returnable.some(({ line }) => line.id === id) && (name.endsWith(".line") || choice(id).chosen);
  };
  const field = named !== null && shown(named) ? named : null;
  const errorFor = (name: string) => (field === name ? problemText(state.error) : null);
  const update = (id: number, change: Partial<Choice>) => setChoices((c) => ({ ...c, [id]: { ...choice(id), ...change } }));

  async function submit(event: FormEvent) {
    event.preventDefault();
    // In the order of the page; a quantity above what is now returnable (the list was
    // reloaded after a refusal) is sent as chosen: the API says what is left.
    const lines = returnable
      .filter(({ line }) => choice(line.id).chosen)
      .map(({ line }) => ({ order_item_id: line.id, quantity: choice(line.id).quantity, reason: choice(line.id).reason }));
    const sent = lines.map((l) => l.order_item_id);
    setState({ busy: true, error: null, sent });
    try {
      const created = await unwrap(() =>
        api.POST("/api/v1/orders/{number}/returns", {
          params: orderParams(orderRef),
          body: { lines, note: note.trim() || null },
        }),
      );
      onRequested(created);
    } catch (error) {
      setState({ busy: false, error, sent });
      if (error instanceof ApiProblem && error.code === "return_quantity_exceeds") onRefused();
    }
  }

  const linesError = errorFor("lines");
  const noteError = errorFor("note");
  return (
    <form className="return-form" onSubmit={submit} noValidate data-testid="return-form">
      <fieldset aria-describedby={linesError ? `${ids}-lines-error` : undefined}>
        <legend tabIndex={-1} ref={legend}>
          {t.returns.formTitle}
        </legend>
        {linesError && (
          <small id={`${ids}-lines-error`} className="field-error" role="alert">
            {linesError}
          </small>
        )}
        {returnable.map(({ line, max }) => {
          const c = choice(line.id);
          const name = line.variant_name && line.variant_name !== "Default" ? `${line.product_title} — ${line.variant_name}` : line.product_title;
          const base = `${ids}-${line.id}`;
          const lineError = errorFor(`${line.id}.line`);
          const quantityError = errorFor(`${line.id}.quantity`);
          const reasonError = errorFor(`${line.id}.reason`);
          return (
            <div key={line.id} className={`return-line${lineError ? " field-invalid" : ""}`} data-testid="return-choice" data-sku={line.sku}>
              <label className="checkbox">
                <input
                  type="checkbox"
                  checked={c.chosen}
                  onChange={(e) => update(line.id, { chosen: e.target.checked })}
                  aria-invalid={lineError ? true : undefined}
                  aria-describedby={[`${base}-max`, lineError ? `${base}-line-error` : ""].filter(Boolean).join(" ")}
                />
                {t.returns.returnThis(name)}
              </label>
              <small id={`${base}-max`} className="help">
                {t.returns.returnable(max)}
              </small>
              {lineError && (
                <small id={`${base}-line-error`} className="field-error" role="alert">
                  {lineError}
                </small>
              )}
              {c.chosen && (
                <div className="return-line-fields">
                  <div className={`field${quantityError ? " field-invalid" : ""}`}>
                    <label htmlFor={`${base}-quantity`}>
                      {t.returns.quantity} <span className="visually-hidden">{t.returns.forItem(name)}</span>
                    </label>
                    <select
                      id={`${base}-quantity`}
                      value={c.quantity}
                      onChange={(e) => update(line.id, { quantity: Number(e.target.value) })}
                      aria-invalid={quantityError ? true : undefined}
                      aria-describedby={quantityError ? `${base}-quantity-error` : undefined}
                    >
                      {/* What the page counted as returnable, and the quantity already chosen. */}
                      {Array.from({ length: Math.max(max, c.quantity) }, (_, i) => i + 1).map((n) => (
                        <option key={n} value={n}>
                          {n}
                        </option>
                      ))}
                    </select>
                    {quantityError && (
                      <small id={`${base}-quantity-error`} className="field-error" role="alert">
                        {quantityError}
                      </small>
                    )}
                  </div>
                  <div className={`field${reasonError ? " field-invalid" : ""}`}>
                    <label htmlFor={`${base}-reason`}>
                      {t.returns.reason} <span className="visually-hidden">{t.returns.forItem(name)}</span>
                    </label>
                    <select
                      id={`${base}-reason`}
                      value={c.reason}
                      onChange={(e) => update(line.id, { reason: e.target.value })}
                      aria-invalid={reasonError ? true : undefined}
                      aria-describedby={reasonError ? `${base}-reason-error` : undefined}
                    >
                      <option value="">{t.returns.chooseReason}</option>
                      {reasons.map((r) => (
                        <option key={r.code} value={r.code}>
                          {locale === "fr" ? r.label_fr : r.label_en}
                        </option>
                      ))}
                    </select>
                    {reasonError && (
                      <small id={`${base}-reason-error`} className="field-error" role="alert">
                        {reasonError}
                      </small>
                    )}
                  </div>
                </div>
              )}
            </div>
          );
        })}
      </fieldset>
      <div className={`field${noteError ? " field-invalid" : ""}`}>
        <label htmlFor={`${ids}-note`}>{t.returns.note}</label>
        <textarea
          id={`${ids}-note`}
          value={note}
          rows={3}
          maxLength={2000}
          onChange={(e) => setNote(e.target.value)}
          aria-invalid={noteError ? true : undefined}
          aria-describedby={noteError ? `${ids}-note-error` : undefined}
        />
        {noteError && (
          <small id={`${ids}-note-error`} className="field-error" role="alert">
            {noteError}
          </small>
        )}
      </div>
      {state.error !== null && !field && <ProblemAlert error={state.error} />}
      <div className="inline">
        <button type="submit" className="primary" disabled={state.busy}>
          {state.busy ? t.returns.sending : t.returns.submit}
        </button>
        <button type="button" onClick={onClose} disabled={state.busy}>
          {t.returns.close}
        </button>
      </div>
    </form>
  );
}
