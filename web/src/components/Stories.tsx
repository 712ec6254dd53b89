// The stories carousel (`GET /api/v1/stories?linked=true`): each story's image or
// video from its `asset_id`, its caption, and the products it shows. A horizontal
// list that scrolls with a finger on phones and with the previous/next buttons or the
// keyboard elsewhere; videos play only when asked (no autoplay data on mobile plans).
import { useRef } from "react";
import { Link } from "react-router-dom";
import { api, unwrap, type Schemas } from "../api/client";
import { useI18n } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { jpegSrcset } from "../lib/media";

type Story = Schemas["Story"];

function StoryMedia({ story }: { story: Story }) {
  const media = story.media;
  if (!media) return null;
  if (media.mime_type.startsWith("video/")) {
    return (
      <video
        className="story-media"
        src={media.url}
        poster={story.poster && story.poster.asset_id !== media.asset_id ? `${story.poster.url}?variant=thumb` : undefined}
        width={media.width ?? undefined}
        height={media.height ?? undefined}
        controls
        muted
        playsInline
        preload="none"
        aria-label={story.caption}
      />
    );
  }
  return (
    <img
      className="story-media"
      src={`${media.url}?variant=thumb`}
      srcSet={jpegSrcset(media.url, media)}
      sizes="(max-width: 600px) 60vw, 200px"
      width={media.width ?? undefined}
      height={media.height ?? undefined}
      alt={story.caption}
      loading="lazy"
      decoding="async"
    />
  );
}

export function Stories() {
  const { t } = useI18n();
  const list = useRef<HTMLUListElement>(null);
  const stories = useAsync(
    (signal) => unwrap(() => api.GET("/api/v1/stories", { params: { query: { linked: true, limit: 12 } }, signal })),
    [],
  );
  const items = stories.data?.items ?? [];
  if (!items.length) return null;
  const scroll = (direction: 1 | -1) => {
    const el = list.current;
    if (el) el.scrollBy({ left: direction * el.clientWidth * 0.8, behavior: "smooth" });
  };
  return (
    <section aria-roledescription="carousel" aria-labelledby="stories-title" className="stories">
      <div className="section-head">
        <h2 id="stories-title">{t.home.stories}</h2>
        <div className="carousel-buttons">
          <button type="button" onClick={() => scroll(-1)} aria-label={t.home.previousStory}>
            ‹
          </button>
          <button type="button" onClick={() => scroll(1)} aria-label={t.home.nextStory}>
            ›
          </button>
        </div>
      </div>
      <ul ref={list} className="story-list" data-testid="stories">
        {items.map((story, i) => (
          <li key={story.id} className="story" aria-roledescription="slide" aria-label={`${i + 1} / ${items.length}`}>
            <StoryMedia story={story} />
            <p className="story-caption">{story.caption}</p>
            {story.products.length > 0 && (
              <ul className="story-products" aria-label={t.home.storyProducts}>
                {story.products.map((p) => (
                  <li key={p.slug}>
                    <Link to={`/products/${p.slug}`}>{p.title}</Link>
                  </li>
                ))}
              </ul>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
