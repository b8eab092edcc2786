import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { Caller } from "../auth.ts";
import type { AppEnv } from "../env.ts";
import { routeTemplate } from "../route-template.ts";

/**
 * One JSON line per request: request id, route template, method, status, duration and caller.
 * Never the raw path or query, headers, cookies or bodies: those are where tokens and secrets travel.
 */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  await next();
  const status = c.res.status;
  const fields = {
    request_id: c.get("requestId"),
    method: c.req.method,
    route: routeTemplate(c),
    status,
    duration_ms: Math.round((performance.now() - started) * 100) / 100,
    ...callerFields(c),
  };
  const logger = c.get("services").logger;
  if (status >= 500) logger.error("request", fields);
  else if (status >= 400) logger.warn("request", fields);
  else logger.info("request", fields);
});

/** Who called, as log and report fields: kind plus user or key id (anonymous when unauthenticated). */
export function callerFields(c: Context<AppEnv>): { caller_kind: string; caller_id?: string } {
  const caller: Caller | undefined = c.get("caller");
  if (!caller) return { caller_kind: "anonymous" };
  if (caller.kind === "user") return { caller_kind: caller.kind, caller_id: caller.userId };
  if (caller.kind === "api_key") return { caller_kind: caller.kind, caller_id: caller.keyId };
  return { caller_kind: caller.kind };
}
