import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";

const USABLE = /^[\w\-=]{1,128}$/;

/**
 * The request's id: the client's `X-Request-Id` when usable (up to 128 of `[A-Za-z0-9_=-]`), else
 * a new uuid; kept for the log and problem bodies, and echoed on the answer whoever made it.
 *
 * The header goes onto the finished response in place. (hono's requestId sets it ahead of the route,
 * which reaches a Response the route makes itself only while some middleware has already made one:
 * hono then builds the route's Response a second time to merge them, a fair share of a probe's cost.)
 */
export const requestId = createMiddleware<AppEnv>(async (c, next) => {
  const given = c.req.header("x-request-id");
  const id = given !== undefined && USABLE.test(given) ? given : crypto.randomUUID();
  c.set("requestId", id);
  await next();
  c.res.headers.set("X-Request-Id", id);
});
