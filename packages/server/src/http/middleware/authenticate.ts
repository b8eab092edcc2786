import { createMiddleware } from "hono/factory";
import { type Access, ANONYMOUS, type AppRole, hasRole } from "../auth.ts";
import type { AppEnv } from "../env.ts";
import { Problem } from "../problems.ts";

/** Reads `Authorization: Bearer <jwt>`; no header means an anonymous caller, a bad token a 401. */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization");
  if (!header) {
    c.set("caller", ANONYMOUS);
    return next();
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw new Problem("unauthenticated", "Authorization must be 'Bearer <token>'");
  c.set("caller", await c.var.services.tokens.verify(match[1]));
  return next();
});

/** Route guard: 401 for anonymous callers, 403 for callers below `minimum`. */
export function requireRole(minimum: AppRole) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const caller = c.var.caller;
    if (caller.kind === "anonymous") throw new Problem("unauthenticated", "this endpoint needs a bearer token");
    if (!hasRole(caller, minimum)) throw new Problem("forbidden", `this endpoint needs role ${minimum} or above`);
    return next();
  });
}

/** Route guard for a route's declared access (see `secured` in http/route.ts). */
export function requireAccess(access: Access) {
  return requireRole(access.role);
}
