import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";
import { Problem } from "../problems.ts";

const METHODS = new Set(["get", "put", "post", "delete", "patch", "head", "options"]);

interface Documented {
  method: string;
  pattern: RegExp;
  /** Path parameters: the fewer, the more literal the path (`/products/export` before `/products/{id}`). */
  params: number;
  query: Set<string>;
}

/** The part of an OpenAPI document this reads (`paths`, each operation's `parameters`). */
interface OpenApiDocument {
  paths?: object;
}

type Operation = { parameters?: { in?: string; name?: string }[] };

/**
 * Refuses query parameters a route does not declare (422 naming each), for every route the OpenAPI
 * document describes: a misspelt or unsupported filter must not silently answer the unfiltered
 * list. The document is the route list, so a new route is covered the day it is declared.
 */
export function rejectUnknownQuery(document: () => OpenApiDocument) {
  let routes: Documented[] | undefined;
  return createMiddleware<AppEnv>(async (c, next) => {
    if (!c.req.url.includes("?")) return next();
    const given = [...new Set(new URL(c.req.url).searchParams.keys())];
    if (given.length === 0) return next();
    routes ??= documentedRoutes(document());
    const method = c.req.method === "HEAD" ? "GET" : c.req.method;
    const route = routes
      .filter((candidate) => candidate.method === method && candidate.pattern.test(c.req.path))
      .sort((a, b) => a.params - b.params)[0];
    if (!route) return next();
    const unknown = given.filter((name) => !route.query.has(name));
    if (unknown.length > 0) {
      const takes = route.query.size > 0 ? `it takes ${[...route.query].join(", ")}` : "it takes none";
      throw new Problem("validation-failed", `unknown query parameter ${unknown.join(", ")}`, {
        errors: unknown.map((name) => ({
          field: `query.${name}`,
          code: "unknown",
          message: `not a parameter of this route; ${takes}`,
        })),
      });
    }
    return next();
  });
}

function documentedRoutes(document: OpenApiDocument): Documented[] {
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>;
  return Object.entries(paths).flatMap(([path, operations]) =>
    Object.entries(operations)
      .filter(([method]) => METHODS.has(method))
      .map(([method, operation]) => ({
        method: method.toUpperCase(),
        pattern: new RegExp(
          `^${path
            .split("/")
            .map((segment) => (/^\{.+\}$/.test(segment) ? "[^/]+" : segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")))
            .join("/")}/?$`,
        ),
        params: (path.match(/\{/g) ?? []).length,
        query: new Set(
          (operation.parameters ?? [])
            .filter((parameter) => parameter.in === "query")
            .map((parameter) => parameter.name ?? ""),
        ),
      })),
  );
}
