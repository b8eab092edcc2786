import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { type Access, ANONYMOUS, type AppRole, hasRole } from "../auth.ts";
import { clientAddress } from "../client-address.ts";
import type { AppEnv } from "../env.ts";
import { Problem } from "../problems.ts";
import type { Scope } from "../scopes.ts";
import { isSigned, SIGNED_METHODS, verifySignedRequest } from "../signed-request.ts";

/**
 * Reads `Authorization: Bearer <jwt>` or `X-Api-Key: sk_…` (never both); neither means an anonymous
 * caller, a bad credential a 401. A key must sign every write (and any request it sends signature
 * headers with): see http/signed-request.ts.
 */
export const authenticate = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("authorization");
  const apiKey = c.req.header("x-api-key");
  if (apiKey !== undefined) {
    if (header) throw new Problem("unauthenticated", "send either Authorization or X-Api-Key, not both");
    await authenticateKey(c, apiKey);
    return next();
  }
  if (!header) {
    c.set("caller", ANONYMOUS);
    return next();
  }
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) throw new Problem("unauthenticated", "Authorization must be 'Bearer <token>'");
  c.set("caller", await c.get("services").tokens.verify(match[1]));
  return next();
});

type KeyOutcome = "accepted" | "key_refused" | "signature_refused" | "replayed";

/** Authenticates an API key and, for a write (or any signed request), its signature. */
async function authenticateKey(c: Context<AppEnv>, apiKey: string) {
  const { apiKeys, shared, metrics } = c.get("services");
  const outcomes = metrics.counter(
    "storekeep_api_key_requests_total",
    "Requests made with an API key, by outcome: accepted, key_refused, signature_refused, replayed",
    ["outcome"],
  );
  let outcome: KeyOutcome = "key_refused";
  try {
    const { caller, signingSecret } = await apiKeys.verify(apiKey, clientAddress(c));
    if (SIGNED_METHODS.has(c.req.method) || isSigned(c)) {
      outcome = "signature_refused";
      await verifySignedRequest(c, caller.keyId, signingSecret, shared.kv);
    }
    c.set("caller", caller);
    outcome = "accepted";
  } catch (error) {
    if (error instanceof Problem && error.code === "nonce-replayed") outcome = "replayed";
    throw error;
  } finally {
    outcomes.inc({ outcome });
  }
}

/** Route guard: 401 for anonymous callers, 403 for callers below `minimum`. */
export function requireRole(minimum: AppRole) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const caller = c.get("caller");
    if (caller.kind === "anonymous") throw new Problem("unauthenticated", "this endpoint needs a bearer token");
    // Keys pass only through requireAccess, which checks their scope too.
    if (caller.kind === "api_key") throw new Problem("forbidden", "this endpoint is not open to API keys");
    if (!hasRole(caller, minimum)) throw new Problem("forbidden", `this endpoint needs role ${minimum} or above`);
    return next();
  });
}

/**
 * Route guard for a route's declared access (see `secured` in http/route.ts): the role for every
 * caller, and for an API key also the route's scope.
 */
export function requireAccess(access: Access) {
  const byRole = requireRole(access.role);
  return createMiddleware<AppEnv>(async (c, next) => {
    const caller = c.get("caller");
    if (caller.kind === "api_key") {
      if (!caller.scopes.includes(access.scope)) {
        throw new Problem("forbidden", `this API key lacks scope ${access.scope}`, { required_scope: access.scope });
      }
      if (!hasRole(caller, access.role)) {
        throw new Problem(
          "forbidden",
          `this endpoint needs role ${access.role} or above; the key acts as ${caller.appRole}`,
        );
      }
      return next();
    }
    return byRole(c, next);
  });
}

/**
 * On an open route (see `open` in http/route.ts): an API key acts as itself only when it holds
 * `scope`; otherwise it is seen as an anonymous caller, so its role never widens what it reads.
 */
export function keysAs(scope?: Scope) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const caller = c.get("caller");
    if (caller.kind === "api_key" && !(scope && caller.scopes.includes(scope))) c.set("caller", ANONYMOUS);
    return next();
  });
}
