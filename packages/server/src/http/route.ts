import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { Access, AppRole } from "./auth.ts";
import { keysAs, requireAccess } from "./middleware/authenticate.ts";
import { bearerAuth, commonErrors } from "./openapi.ts";
import type { Scope } from "./scopes.ts";

const WHO: Record<AppRole, string> = {
  owner: "owner only",
  admin: "admin and up",
  manager: "manager and up",
  staff: "staff and up",
  viewer: "viewer and up",
};

/** The sentence a route's summary ends with, from its access: `staff and up`. */
export function accessSentence(access: Access): string {
  return WHO[access.role];
}

type SecuredConfig = Omit<RouteConfig, "tags" | "security"> & { summary: string };
type OpenConfig = Omit<RouteConfig, "tags">;

/**
 * The route definers of one OpenAPI tag (a domain). `secured(access, config)` states who may call
 * a route once — its role, and the scope an API key needs for it — and adds the rest every staff
 * route repeats: the security requirements (a bearer token, or an API key holding the scope), the
 * access guard ahead of any middleware of its own, the common error answers, and the role in its
 * summary. `open(config, keyScope?)` is a route anyone may call; it may still read the caller, and
 * an API key is seen there as itself only when it holds `keyScope` (otherwise as anonymous).
 *
 *     const { secured } = routesFor("inventory");
 *     const adjustStockRoute = secured({ role: "staff", scope: "inventory:write" }, { operationId: "adjustStock", ... });
 *     stockRoutes.openapi(adjustStockRoute, async (c) => ...);
 */
export function routesFor(tag: string) {
  return {
    secured<const R extends SecuredConfig>(access: Access, config: R) {
      return createRoute({
        ...config,
        tags: [tag],
        summary: `${config.summary} (${accessSentence(access)})`,
        security: [...bearerAuth, { apiKey: [access.scope] }],
        middleware: [requireAccess(access), ...middlewareOf(config)],
        responses: { ...config.responses, ...commonErrors },
      });
    },
    open<const R extends OpenConfig>(config: R, keyScope?: Scope) {
      return createRoute({ ...config, tags: [tag], middleware: [keysAs(keyScope), ...middlewareOf(config)] });
    },
  };
}

function middlewareOf(config: RouteConfig) {
  const { middleware } = config;
  if (!middleware) return [];
  return Array.isArray(middleware) ? middleware : [middleware];
}
