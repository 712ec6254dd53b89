// Images from the media API: `url` serves the original; `?variant=thumb` (fits in
// 320 px), `?variant=medium` and `?variant=webp` (fit in 1024 px) are the worker's
// derivatives, never upscaled. Before a derivative exists the API redirects to the
// original, so these URLs always show something.
export interface Dimensions {
  width: number | null;
  height: number | null;
}

/** The width of a derivative that fits `box` × `box` without upscaling. */
export function fittedWidth(size: Dimensions, box: number): number | null {
  if (!size.width || !size.height) return null;
  const scale = Math.min(1, box / Math.max(size.width, size.height));
  return Math.round(size.width * scale);
}

/** `srcset` of the JPEG derivatives (and the original when it is larger). */
export function jpegSrcset(url: string, size: Dimensions): string | undefined {
  const thumb = fittedWidth(size, 320);
  const medium = fittedWidth(size, 1024);
  if (thumb === null || medium === null) return undefined;
  const entries = [`${url}?variant=thumb ${thumb}w`];
  if (medium > thumb) entries.push(`${url}?variant=medium ${medium}w`);
  return entries.join(", ");
}

/** `srcset` of the WebP derivative. */
export function webpSrcset(url: string, size: Dimensions): string | undefined {
  const width = fittedWidth(size, 1024);
  return width === null ? undefined : `${url}?variant=webp ${width}w`;
}
