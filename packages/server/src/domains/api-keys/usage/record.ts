import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../../http/env.ts";
import { routeTemplate } from "../../../http/route-template.ts";
import { countRequest } from "./service.ts";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]);

/**
 * Counts every request an API key makes, by day, route template and status, once it is answered
 * (refusals included: 403, 429, ...). Mounted after authentication, ahead of the rate limit.
 */
export function recordApiKeyUsage(retentionDays: number) {
  return createMiddleware<AppEnv>(async (c, next) => {
    // Who authenticated, read before the route runs: an open route may then see a key without its
    // scope as anonymous (keysAs), yet the request is still that key's.
    const caller = c.get("caller");
    await next();
    if (caller?.kind !== "api_key") return;
    countRequest(
      c.get("services").shared.counters,
      {
        keyId: caller.keyId,
        method: METHODS.has(c.req.method) ? c.req.method : "OTHER",
        route: publicRoute(routeTemplate(c)),
        status: c.res.status,
        at: Date.now(),
      },
      retentionDays,
    );
  });
}

/** `/api/v1/products/:id` -> `/v1/products/{id}`, as the API reference writes it. */
function publicRoute(template: string): string {
  return template.replace(/^\/api(?=\/)/, "").replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}
