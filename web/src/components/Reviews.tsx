// A product's reviews (docs/reviews.md): the rating summary (average and the count of
// each star, from `GET /products/{slug}/reviews`), the approved reviews sorted and
// filtered, one keyset page at a time ("more reviews"), helpful votes, and the
// signed-in customer's own review — its moderation state, and the form to write or
// edit it. Review text is plain text (the API strips HTML); React escapes it.
import { useEffect, useId, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { api, ApiProblem, unwrap, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { useSignedIn } from "../state/auth";
import { problemField, ProblemAlert, useProblemText } from "./ProblemAlert";

type Review = Schemas["Review"];
type Page = Schemas["ReviewPage"];
type Summary = Schemas["RatingWithHistogram"];
type OwnReview = Schemas["OwnReview"];
type Sort = "recent" | "helpful" | "rating_desc" | "rating_asc";

interface Filters {
  sort: Sort;
  rating: number | null;
  verified: boolean;
  withMedia: boolean;
}

const PAGE_SIZE = 5;
const SORTS: Sort[] = ["recent", "helpful", "rating_desc", "rating_asc"];

function query(filters: Filters, after?: string) {
  return {
    sort: filters.sort,
    limit: PAGE_SIZE,
    ...(filters.rating ? { rating: filters.rating } : {}),
    ...(filters.verified ? { verified: true } : {}),
    ...(filters.withMedia ? { with_media: true } : {}),
    ...(after ? { after } : {}),
  };
}

export function Reviews({ slug }: { slug: string }) {
  const { t } = useI18n();
  const ids = useId();
  const [filters, setFilters] = useState<Filters>({ sort: "recent", rating: null, verified: false, withMedia: false });
  const [list, setList] = useState<{ items: Review[]; next: string | null; summary: Summary | null }>({
    items: [],
    next: null,
    summary: null,
  });
  const [more, setMore] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  const first = useAsync(
    (signal) =>
      unwrap(() =>
        api.GET("/api/v1/products/{slug}/reviews", { params: { path: { slug }, query: query(filters) }, signal }),
      ),
    [slug, filters],
  );
  useEffect(() => {
    if (first.data) setList({ items: first.data.items, next: first.data.next_cursor, summary: first.data.rating });
  }, [first.data]);

  async function loadMore() {
    if (!list.next) return;
    setMore({ busy: true, error: null });
    try {
      const page: Page = await unwrap(() =>
        api.GET("/api/v1/products/{slug}/reviews", { params: { path: { slug }, query: query(filters, list.next!) } }),
      );
      setList((l) => ({ items: [...l.items, ...page.items], next: page.next_cursor, summary: page.rating }));
      setMore({ busy: false, error: null });
    } catch (error) {
      setMore({ busy: false, error });
    }
  }

  const summary = list.summary;
  const filtered = filters.rating !== null || filters.verified || filters.withMedia;
  return (
    <section aria-labelledby="reviews-title" className="reviews" data-testid="reviews">
      <h2 id="reviews-title">{t.reviews.title}</h2>
      {first.error !== null && <ProblemAlert error={first.error} />}
      {summary && <RatingSummary summary={summary} onPick={(rating) => setFilters((f) => ({ ...f, rating }))} />}
      <OwnReviewPanel slug={slug} onPublished={first.reload} />
      {summary && summary.count > 0 && (
        <div className="review-filters">
          <label htmlFor={`${ids}-sort`}>{t.reviews.sort}</label>
          <select
            id={`${ids}-sort`}
            value={filters.sort} onChange={(e) => setFilters((f) => ({ ...f, sort: e.target.value as Sort }))}
          >
            {SORTS.map((s) => (
              <option key={s} value={s}>
                {t.reviews.sorts[s]}
              </option>
            ))}
          </select>
          <label htmlFor={`${ids}-rating`}>{t.reviews.rating}</label>
          <select
            id={`${ids}-rating`}
            value={filters.rating ?? ""}
            onChange={(e) => setFilters((f) => ({ ...f, rating: e.target.value ? Number(e.target.value) : null }))}
          >
            <option value="">{t.reviews.allRatings}</option>
            {[5, 4, 3, 2, 1].map((n) => (
              <option key={n} value={n}>
                {t.reviews.stars(n)}
              </option>
            ))}
          </select>
          <label>
            <input
              type="checkbox"
              checked={filters.verified}
              onChange={(e) => setFilters((f) => ({ ...f, verified: e.target.checked }))}
            />{" "}
            {t.reviews.verifiedOnly}
          </label>
          <label>
            <input
              type="checkbox"
              checked={filters.withMedia}
              onChange={(e) => setFilters((f) => ({ ...f, withMedia: e.target.checked }))}
            />{" "}
            {t.reviews.withMedia}
          </label>
        </div>
      )}
      {first.data && list.items.length === 0 && <p>{filtered ? t.reviews.noneMatch : t.reviews.none}</p>}
      <ul className="review-list" data-testid="review-list" aria-busy={first.loading}>
        {list.items.map((review) => (
          <ReviewItem key={review.id} review={review} />
        ))}
      </ul>
      <ProblemAlert error={more.error} />
      {list.next && (
        <button type="button" onClick={loadMore} disabled={more.busy}>
          {more.busy ? t.catalog.loading : t.reviews.loadMore}
        </button>
      )}
    </section>
  );
}

function Stars({ rating }: { rating: number }) {
  const { t } = useI18n();
  return (
    <span className="stars" role="img" aria-label={t.reviews.average(String(rating))}>
      {"★".repeat(rating)}
      {"☆".repeat(5 - rating)}
    </span>
  );
}

/** The average and the histogram; a star's bar filters the list by it. */
function RatingSummary({ summary, onPick }: { summary: Summary; onPick: (rating: number) => void }) {
  const { t, locale } = useI18n();
  if (summary.count === 0) return null;
  const average = (summary.average ?? 0).toLocaleString(locale, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  return (
    <div className="rating-summary" data-testid="rating-summary">
      <p className="rating-average">
        <strong data-testid="rating-average">{t.reviews.average(average)}</strong>{" "}
        <span data-testid="rating-count">{t.reviews.count(summary.count)}</span>
      </p>
      <ul className="histogram">
        {([5, 4, 3, 2, 1] as const).map((n) => {
          const count = summary.histogram[n];
          return (
            <li key={n}>
              <button type="button" className="link" onClick={() => onPick(n)} aria-label={t.reviews.starsCount(n, count)}>
                <span>{t.reviews.stars(n)}</span>
                <meter min={0} max={summary.count} value={count} />
                <span data-testid={`histogram-${n}`}>{count}</span>
              </button>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function ReviewItem({ review }: { review: Review }) {
  const { t, dateTime } = useI18n();
  return (
    <li className="review" data-testid="review" data-review-id={review.id}>
      <p>
        <Stars rating={review.rating} /> {review.title && <strong>{review.title}</strong>}
      </p>
      <p className="review-body">{review.body}</p>
      {review.media.length > 0 && (
        <ul className="review-media">
          {review.media.map((m, i) =>
            m.mime_type.startsWith("image/") ? (
              <li key={m.asset_id}>
                <a href={m.url}>
                  <img src={`${m.url}?variant=thumb`} alt={t.reviews.photo(i + 1)} width={96} height={96} loading="lazy" />
                </a>
              </li>
            ) : (
              <li key={m.asset_id}>
                <video src={m.url} controls preload="none" width={160} aria-label={t.reviews.photo(i + 1)} />
              </li>
            ),
          )}
        </ul>
      )}
      <small>
        {review.author ?? t.reviews.anonymous} · <time dateTime={review.submitted_at}>{dateTime(review.submitted_at)}</time>
        {review.edited_at && ` · ${t.reviews.edited}`}
        {review.verified_purchase && <span className="badge"> · {t.reviews.verified}</span>}
      </small>
      {review.reply && (
        <blockquote className="review-reply">
          <strong>{t.reviews.reply}</strong>
          <p>{review.reply.body}</p>
        </blockquote>
      )}
      <HelpfulVote review={review} />
    </li>
  );
}

/**
 * "Helpful" for signed-in customers: a vote, or its withdrawal. The list does not say
 * whom a vote is from, so a vote already cast shows as such once the API says so
 * (409 `review_vote_exists`); one's own review is refused (403 `own_review_vote`).
 */
function HelpfulVote({ review }: { review: Review }) {
  const { t } = useI18n();
  const signedIn = useSignedIn();
  const [vote, setVote] = useState<{ voted: boolean; count: number; busy: boolean; error: unknown }>({
    voted: false,
    count: review.helpful_count,
    busy: false,
    error: null,
  });
  if (!signedIn) {
    return (
      <p className="helpful">
        <span>{t.reviews.helpful(vote.count)}</span> · <Link to="/login">{t.reviews.signInToVote}</Link>
      </p>
    );
  }
  async function toggle() {
    setVote((v) => ({ ...v, busy: true, error: null }));
    const path = { params: { path: { id: review.id } } };
    try {
      const answer = await unwrap(() =>
        vote.voted ? api.DELETE("/api/v1/reviews/{id}/helpful", path) : api.POST("/api/v1/reviews/{id}/helpful", path),
      );
      setVote({ voted: answer.voted, count: answer.helpful_count, busy: false, error: null });
    } catch (error) {
      if (error instanceof ApiProblem && error.code === "review_vote_exists") {
        setVote((v) => ({ ...v, voted: true, busy: false }));
      } else {
        setVote((v) => ({ ...v, busy: false, error }));
      }
    }
  }
  return (
    <div className="helpful">
      <button type="button" aria-pressed={vote.voted} onClick={toggle} disabled={vote.busy} data-testid="helpful">
        {vote.voted ? t.reviews.voted(vote.count) : t.reviews.helpful(vote.count)}
      </button>
      <ProblemAlert error={vote.error} />
    </div>
  );
}

/** The signed-in customer's review of this product: its state, and the form. */
function OwnReviewPanel({ slug, onPublished }: { slug: string; onPublished: () => void }) {
  const { t } = useI18n();
  const signedIn = useSignedIn();
  const mine = useAsync(
    (signal) =>
      signedIn
        ? unwrap(() => api.GET("/api/v1/users/me/reviews", { signal })).then(
            (all) => all.find((r) => r.product.slug === slug) ?? null,
          )
        : Promise.resolve(null),
    [slug, signedIn],
  );
  const [open, setOpen] = useState(false);
  if (!signedIn) {
    return (
      <p>
        <Link to="/login" state={{ from: window.location.pathname }}>
          {t.reviews.signInToWrite}
        </Link>
      </p>
    );
  }
  const own = mine.data ?? null;
  return (
    <div className="own-review">
      {own && <OwnStatus review={own} />}
      {open ? (
        <ReviewForm
          slug={slug}
          current={own}
          onSaved={(saved) => {
            setOpen(false);
            mine.reload();
            if (saved.status === "approved") onPublished();
          }}
        />
      ) : (
        <button type="button" onClick={() => setOpen(true)} data-testid="write-review">
          {own ? t.reviews.edit : t.reviews.write}
        </button>
      )}
    </div>
  );
}

function OwnStatus({ review }: { review: OwnReview }) {
  const { t } = useI18n();
  const text =
    review.status === "pending"
      ? t.reviews.pending
      : review.status === "approved"
        ? t.reviews.approved
        : t.reviews.rejected(review.moderation_reason ?? "");
  return (
    <p className={review.status === "rejected" ? "alert" : "success"} role="status" data-testid="own-review-status" data-status={review.status}>
      {text}
    </p>
  );
}

function ReviewForm(props: { slug: string; current: OwnReview | null; onSaved: (review: { status: string }) => void }) {
  const { slug, current, onSaved } = props;
  const { t } = useI18n();
  const problemText = useProblemText();
  const ids = useId();
  const [rating, setRating] = useState<number>(current?.rating ?? 0);
  const [title, setTitle] = useState(current?.title ?? "");
  const [body, setBody] = useState(current?.body ?? "");
  const [state, setState] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  const field = problemField(state.error);
  const errorFor = (name: string) => (field === name ? problemText(state.error) : null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setState({ busy: true, error: null });
    try {
      const saved = await unwrap(() =>
        api.POST("/api/v1/products/{slug}/reviews", {
          params: { path: { slug } },
          body: { rating, title: title.trim() || null, body },
        }),
      );
      setState({ busy: false, error: null });
      onSaved(saved);
    } catch (error) {
      setState({ busy: false, error });
    }
  }

  const ratingError = errorFor("rating");
  const titleError = errorFor("title");
  const bodyError = errorFor("body");
  return (
    <form className="review-form" onSubmit={submit} noValidate data-testid="review-form">
      <fieldset aria-describedby={ratingError ? `${ids}-rating-error` : undefined} aria-invalid={ratingError ? true : undefined}>
        <legend>{t.reviews.yourRating}</legend>
        {[1, 2, 3, 4, 5].map((n) => (
          <label key={n} className="chip">
            <input type="radio" name="rating" value={n} checked={rating === n} onChange={() => setRating(n)} />
            {t.reviews.stars(n)}
          </label>
        ))}
        {ratingError && (
          <small id={`${ids}-rating-error`} className="field-error" role="alert">
            {ratingError}
          </small>
        )}
      </fieldset>
      <div className={`field${titleError ? " field-invalid" : ""}`}>
        <label htmlFor={`${ids}-title`}>{t.reviews.titleLabel}</label>
        <input
          id={`${ids}-title`}
          value={title}
          maxLength={200}
          onChange={(e) => setTitle(e.target.value)}
          aria-invalid={titleError ? true : undefined}
          aria-describedby={titleError ? `${ids}-title-error` : undefined}
        />
        {titleError && (
          <small id={`${ids}-title-error`} className="field-error" role="alert">
            {titleError}
          </small>
        )}
      </div>
      <div className={`field${bodyError ? " field-invalid" : ""}`}>
        <label htmlFor={`${ids}-body`}>{t.reviews.bodyLabel}</label>
        <textarea
          id={`${ids}-body`}
          value={body}
          rows={5}
          onChange={(e) => setBody(e.target.value)}
          aria-invalid={bodyError ? true : undefined}
          aria-describedby={bodyError ? `${ids}-body-error` : undefined}
        />
        {bodyError && (
          <small id={`${ids}-body-error`} className="field-error" role="alert">
            {bodyError}
          </small>
        )}
      </div>
      {state.error !== null && !field && <ProblemAlert error={state.error} />}
      <button type="submit" className="primary" disabled={state.busy}>
        {state.busy ? t.reviews.sending : t.reviews.submit}
      </button>
    </form>
  );
}
