import type { Env, Hono } from "hono";

// The interactive API reference at /v1/docs, served entirely by this function (no CDN: it works
// offline and behind any firewall). Every URL in the page is relative to the page, so it works
// wherever the function is mounted: /functions/v1/api/v1/docs locally and on Supabase, where the
// function itself sees /api/v1/docs. The assets are swagger-ui-dist's, generated into a module
// (scripts/docs-assets.ts) and loaded on first use, so the API's cold start does not parse them.

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Storekeep API reference</title>
    <link rel="stylesheet" href="docs/swagger-ui.css" />
  </head>
  <body>
    <div id="docs"></div>
    <script src="docs/swagger-ui-bundle.js"></script>
    <script src="docs/init.js"></script>
  </body>
</html>
`;

// A file, not an inline script, so a Content-Security-Policy of script-src 'self' allows it.
const INIT = `window.ui = SwaggerUIBundle({
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#docs",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;

const loadAssets = () => import("./docs-assets.gen.ts");

/** Mounts GET /v1/docs and its assets on the app. */
export function mountDocs<E extends Env>(app: Hono<E>): void {
  app.get("/v1/docs", (c) => c.html(PAGE));
  app.get("/v1/docs/init.js", (c) => asset(c.req.raw, INIT, "text/javascript", "storekeep-init-1"));
  app.get("/v1/docs/swagger-ui-bundle.js", async (c) => {
    const { script, version } = await loadAssets();
    return asset(c.req.raw, script, "text/javascript", version);
  });
  app.get("/v1/docs/swagger-ui-bundle.js.LICENSE.txt", async (c) => {
    const { license, version } = await loadAssets();
    return asset(c.req.raw, license, "text/plain", version);
  });
  app.get("/v1/docs/swagger-ui.css", async (c) => {
    const { stylesheet, version } = await loadAssets();
    return asset(c.req.raw, stylesheet, "text/css", version);
  });
}

function asset(request: Request, body: string, type: string, version: string): Response {
  const etag = `"${version}"`;
  const headers = { etag, "cache-control": "public, max-age=3600", "content-type": `${type}; charset=utf-8` };
  if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
  return new Response(body, { headers });
}
