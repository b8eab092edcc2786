import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env.ts";

/** One structured line per request, carrying the request id. Never logs headers or bodies. */
export const requestLog = createMiddleware<AppEnv>(async (c, next) => {
  const started = performance.now();
  await next();
  const status = c.res.status;
  const fields = {
    request_id: c.var.requestId,
    method: c.req.method,
    path: c.req.path,
    status,
    duration_ms: Math.round((performance.now() - started) * 100) / 100,
  };
  const logger = c.var.services.logger;
  if (status >= 500) logger.error("request", fields);
  else logger.info("request", fields);
});
