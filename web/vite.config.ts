// Vite configuration of the storefront.
//
// `npm run dev` serves the app with hot reload and proxies the API (`/api`, `/docs`,
// `/healthz`, `/reset-password`) to a running maef-api: MAEF_API, default
// http://127.0.0.1:8000 (`make run`). The build (`npm run build`) goes to `dist/`,
// which maef-api serves at `/` when WEB_DIR points at it (docs/storefront.md).
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const api = process.env.MAEF_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: Object.fromEntries(
      ["/api", "/docs", "/healthz", "/reset-password"].map((path) => [path, { target: api, changeOrigin: false }]),
    ),
  },
  build: {
    target: "es2020",
    // Vite's hashed files land under /assets/, which maef-api caches for a year.
    assetsDir: "assets",
    sourcemap: false,
  },
});
