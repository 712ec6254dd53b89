# syntax=docker/dockerfile:1
# maef-api, maef-worker and maef-demo (the demo shop's loader) in one small image, with
# the storefront's build, which maef-api serves at / (WEB_DIR; docs/storefront.md).
# Build context: the repo root.
#   docker build -f docker/app.Dockerfile -t maef-app .

# ---- build ----
FROM rust:1.95-bookworm AS build
WORKDIR /build
# The whole workspace: the extension crate is a member, so its manifest must exist even
# though only the two binaries (not pgrx) are compiled. migrations/ and sql/ are embedded
# into maef-api at compile time.
COPY . .
# Registry cache mount: faster re-downloads, never in the image. Its own id, because
# compose builds both images at once and cargo's lock file lies outside the mount.
# target/ is deliberately not cached: every image is a clean, reproducible build.
RUN --mount=type=cache,id=maef-app-cargo-registry,target=/usr/local/cargo/registry \
    cargo build --release --locked -p maef-api -p maef-worker -p maef-demo \
 && install -D -m 0755 target/release/maef-api target/release/maef-worker target/release/maef-demo -t /out/

# ---- storefront: web/ built with Vite (npm ci from the lockfile; web/.npmrc runs no
# install scripts) ----
FROM node:22-bookworm-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json web/.npmrc ./
RUN --mount=type=cache,id=maef-web-npm,target=/root/.npm npm ci
COPY web/ ./
RUN npm run build

# ---- runtime ----
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin maef
COPY --from=build /out/maef-api /out/maef-worker /out/maef-demo /usr/local/bin/
COPY --from=web /web/dist /usr/share/maef/web
# maef-api serves the storefront at / and its API explorer at /docs; WEB_DIR="" serves
# the API alone.
ENV WEB_DIR=/usr/share/maef/web
# Numeric, so that a runtime enforcing non-root users can check it without /etc/passwd.
USER 10001
EXPOSE 8000
# No HEALTHCHECK here: the same image also runs `maef-worker` and `maef-api migrate`,
# which listen on no port, and slim has no curl. compose.yaml checks the api service.
CMD ["maef-api", "serve"]
