import type { Context } from "hono";
import { matchedRoutes } from "hono/route";

/**
 * The registered path of the route a request matched (`/api/v1/products/:id`), never the raw path,
 * so metrics and logs group by route and carry no ids. `unmatched` when no route took it (a 404).
 */
export function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i];
    // Middleware is registered with `use` (method ALL); a route has its own method.
    if (route && route.method !== "ALL") return route.path;
  }
  return "unmatched";
}
