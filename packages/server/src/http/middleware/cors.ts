import type { MiddlewareHandler } from "hono";
import { cors as honoCors } from "hono/cors";
import type { AppEnv } from "../env.ts";

export interface CorsOptions {
  origins: readonly string[];
  allowHeaders: string[];
  allowMethods: string[];
  exposeHeaders: string[];
  maxAge: number;
}

/**
 * CORS: a preflight (OPTIONS) is answered 204 by hono's cors; any other request gets its
 * Access-Control-Allow-Origin (an allowed Origin only), Access-Control-Expose-Headers and
 * `Vary: Origin` once the route has answered, set on that response in place. (hono's cors makes a
 * Response before the route and another after it to add Vary: three Responses built per request
 * where one does.)
 */
export function cors(options: CorsOptions): MiddlewareHandler<AppEnv> {
  const preflight = honoCors({
    origin: [...options.origins],
    allowHeaders: options.allowHeaders,
    allowMethods: options.allowMethods,
    exposeHeaders: options.exposeHeaders,
    maxAge: options.maxAge,
  });
  const origins = new Set(options.origins);
  const expose = options.exposeHeaders.join(",");
  return async (c, next) => {
    if (c.req.method === "OPTIONS") return preflight(c, next);
    const origin = c.req.header("origin");
    await next();
    const headers = c.res.headers;
    if (origin && origins.has(origin)) headers.set("Access-Control-Allow-Origin", origin);
    headers.set("Access-Control-Expose-Headers", expose);
    headers.append("Vary", "Origin");
  };
}
