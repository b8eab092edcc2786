import type { Context } from "hono";
import type { AppEnv } from "./env.ts";
import { problemResponse } from "./problems.ts";

/**
 * Hono answers an unknown method like an unknown path; this tells them apart (404 vs 405 with
 * `Allow`) by matching the path against the routes the app registered.
 */
export function notFoundHandler(app: { routes: readonly { path: string; method: string }[] }) {
  let table: { pattern: RegExp; method: string }[] | undefined;
  return (c: Context<AppEnv>): Response => {
    table ??= app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => ({ pattern: pathPattern(route.path), method: route.method }));
    const allowed = [...new Set(table.filter((route) => route.pattern.test(c.req.path)).map((route) => route.method))];
    if (allowed.length === 0) return problemResponse(c, "not-found", `no route for ${c.req.path}`);
    c.header("allow", allowed.join(", "));
    return problemResponse(c, "method-not-allowed", `${c.req.method} is not allowed here; use ${allowed.join(", ")}`);
  };
}

function pathPattern(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => (segment.startsWith(":") ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
    .join("/");
  return new RegExp(`^${source}/?$`);
}
