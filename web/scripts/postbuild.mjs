#!/usr/bin/env node
// After `vite build`, in dist/:
//  1. docs/: the interactive API explorer — Swagger UI from the npm package
//     swagger-ui-dist (pinned in the lockfile, nothing from a CDN at run time) over
//     /api/v1/openapi.json, with a button for the bearer token. maef-api serves it
//     at /docs when WEB_DIR points at dist/ (api/src/routes/docs.rs).
//  2. a .gz beside every text file, which maef-api sends to clients that accept gzip.
//  3. the budget: the JavaScript and CSS the first page loads (index.html's script,
//     module preloads and stylesheets), gzipped, must stay within 150 KB; the build
//     fails past it and writes the figures to dist/budget.json.
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");
const BUDGET_BYTES = 150 * 1024;

// 1. The API explorer.
const swagger = join(root, "node_modules/swagger-ui-dist");
const docs = join(dist, "docs");
mkdirSync(docs, { recursive: true });
for (const file of ["swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "LICENSE", "NOTICE"]) {
  copyFileSync(join(swagger, file), join(docs, file));
}
writeFileSync(
  join(docs, "index.html"),
  `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>maef API</title>
  <link rel="icon" href="/docs/favicon-32x32.png">
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/init.js"></script>
</body>
</html>
`,
);
writeFileSync(
  join(docs, "init.js"),
  `// Swagger UI over maef's OpenAPI document: "Authorize" takes a bearer token
// (POST /api/v1/auth/login gives one) and "Try it out" sends real requests.
window.ui = SwaggerUIBundle({
  url: "/api/v1/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  persistAuthorization: true,
  tryItOutEnabled: false,
  displayRequestDuration: true,
  filter: true,
});
`,
);

// 2. Precompressed copies.
const TEXT = new Set([".js", ".css", ".html", ".svg", ".json", ".txt", ".map"]);
function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}
for (const file of walk(dist)) {
  if (!TEXT.has(extname(file)) || statSync(file).size < 1024) continue;
  writeFileSync(`${file}.gz`, gzipSync(readFileSync(file), { level: 9 }));
}

// 3. The first page's budget.
const html = readFileSync(join(dist, "index.html"), "utf8");
const refs = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
const files = [...new Set(refs)].map((ref) => {
  const bytes = readFileSync(join(dist, ref));
  return { file: ref, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
});
const total = files.reduce((sum, f) => sum + f.gzip, 0);
writeFileSync(join(dist, "budget.json"), JSON.stringify({ budget_bytes: BUDGET_BYTES, first_page_gzip_bytes: total, files }, null, 2));
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`first page: ${files.length} files, ${kb(total)} gzipped (budget ${kb(BUDGET_BYTES)})`);
for (const f of files) console.log(`  ${f.file}: ${kb(f.bytes)}, ${kb(f.gzip)} gzipped`);
if (total > BUDGET_BYTES) {
  console.error(`over budget by ${kb(total - BUDGET_BYTES)}: split a page out of the first bundle`);
  process.exit(1);
}
