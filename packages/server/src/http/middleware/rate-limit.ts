import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Config } from "../../platform/config.ts";
import { type RateDecision, type RateRule, StoreUnavailableError } from "../../platform/kv/index.ts";
import type { Metrics } from "../../platform/metrics.ts";
import { clientAddress } from "../client-address.ts";
import type { AppEnv } from "../env.ts";
import { problemResponse } from "../problems.ts";
import { routeTemplate } from "../route-template.ts";

/**
 * Route groups, each with its own limit per caller (RATE_LIMIT_READ, _WRITE, _CHECKOUT):
 * `checkout` is every write to reservations and orders (they hold stock), `write` every other
 * POST/PUT/PATCH/DELETE, `read` the rest.
 */
export type RateGroup = "read" | "write" | "checkout";

const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const CHECKOUT_ROUTES = /^\/api\/v1\/(inventory\/reservations|orders)(\/|$)/;
/** Probes call these every few seconds from a few addresses; they touch no data. */
const EXEMPT_ROUTES = new Set(["/api/v1/health", "/api/v1/ready"]);

export function rateGroupOf(method: string, route: string): RateGroup {
  if (!WRITE_METHODS.has(method)) return "read";
  return CHECKOUT_ROUTES.test(route) ? "checkout" : "write";
}

/**
 * Whose counter a request uses: an API key's, a user's, or (anonymous) the client address's.
 * The service role (trusted backends) is not limited.
 */
export function rateIdentityOf(c: Context<AppEnv>): string | null {
  const caller = c.get("caller");
  switch (caller.kind) {
    case "service":
      return null;
    case "api_key":
      return `key:${caller.keyId}`;
    case "user":
      return `user:${caller.userId}`;
    case "anonymous":
      return `ip:${clientAddress(c) ?? "unknown"}`;
  }
}

/**
 * Sliding-window rate limits per caller and route group (see `rateGroupOf`), through the shared
 * store (@upstash/ratelimit on Upstash, or in process). Every limited response carries the
 * `RateLimit-Policy` and `RateLimit` fields of draft-ietf-httpapi-ratelimit-headers-10; a refused
 * request gets 429 `rate-limited` with Retry-After. When Redis cannot answer, reads go through
 * and writes go through or get 503, as RATE_LIMIT_WRITES_WHEN_REDIS_DOWN says. Runs after
 * authentication (the caller decides the counter).
 */
export function rateLimit(settings: Config["rateLimits"], metrics: Metrics) {
  const decisions = metrics.counter(
    "storekeep_rate_limit_decisions_total",
    "Rate-limit checks by route group and outcome (allowed, limited, store_down_allowed, store_down_refused)",
    ["group", "outcome"],
  );
  const rules: Record<RateGroup, RateRule> = {
    read: { name: "read", ...settings.groups.read },
    write: { name: "write", ...settings.groups.write },
    checkout: { name: "checkout", ...settings.groups.checkout },
  };

  return createMiddleware<AppEnv>(async (c, next) => {
    const route = routeTemplate(c);
    const identity = EXEMPT_ROUTES.has(route) ? null : rateIdentityOf(c);
    if (identity === null) return next();

    const group = rateGroupOf(c.req.method, route);
    const rule = rules[group];
    const policy = `"${group}";q=${rule.limit};w=${rule.windowSeconds}`;

    let decision: RateDecision;
    try {
      decision = await c.get("services").shared.rateLimiter.limit(identity, rule);
    } catch (error) {
      if (!(error instanceof StoreUnavailableError)) throw error;
      if (group !== "read" && settings.writesWhenStoreDown === "refuse") {
        decisions.inc({ group, outcome: "store_down_refused" });
        return problemResponse(
          c,
          "unavailable",
          "rate limits cannot be checked right now (Redis is unavailable), so writes are refused; retry shortly",
        );
      }
      decisions.inc({ group, outcome: "store_down_allowed" });
      await next();
      c.res.headers.set("RateLimit-Policy", policy);
      return;
    }

    const resetSeconds = Math.max(0, Math.ceil((decision.resetAt - Date.now()) / 1000));
    const headers = {
      "RateLimit-Policy": policy,
      RateLimit: `"${group}";r=${decision.remaining};t=${resetSeconds}`,
    };
    if (!decision.success) {
      decisions.inc({ group, outcome: "limited" });
      const retryAfter = Math.max(1, resetSeconds);
      const response = problemResponse(
        c,
        "rate-limited",
        `at most ${rule.limit} ${group} requests per ${rule.windowSeconds} s; retry after ${retryAfter} s`,
        { "violated-policies": [group] },
      );
      for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
      response.headers.set("Retry-After", String(retryAfter));
      return response;
    }
    decisions.inc({ group, outcome: "allowed" });
    await next();
    // In place: c.header on an answered request builds its Response again, once per header.
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  });
}
