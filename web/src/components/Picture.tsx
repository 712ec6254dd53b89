// An image from the media API with its derivatives: WebP for browsers that take it,
// JPEG thumb/medium otherwise, `width`/`height` from the API so the page does not
// shift while it loads, and the product's `alt` text.
import { jpegSrcset, webpSrcset, type Dimensions } from "../lib/media";

interface PictureProps extends Dimensions {
  url: string;
  alt: string;
  /** Which width the image takes on the page, for the browser's choice of file. */
  sizes: string;
  /** The page's main image: fetched first, not lazily. */
  priority?: boolean;
  className?: string;
  /** Offer the 1024 px WebP (large images); small ones take the 320 px JPEG thumb. */
  webp?: boolean;
}

export function Picture({ url, alt, width, height, sizes, priority, className, webp: offerWebp }: PictureProps) {
  const size = { width, height };
  const webp = offerWebp ? webpSrcset(url, size) : undefined;
  return (
    <picture className={className}>
      {webp && <source type="image/webp" srcSet={webp} sizes={sizes} />}
      <img
        src={`${url}?variant=medium`}
        srcSet={jpegSrcset(url, size)}
        sizes={sizes}
        alt={alt}
        width={width ?? undefined}
        height={height ?? undefined}
        loading={priority ? "eager" : "lazy"}
        decoding="async"
        // React 18 does not know the attribute's camel-case name yet.
        {...{ fetchpriority: priority ? "high" : "auto" }}
      />
    </picture>
  );
}
