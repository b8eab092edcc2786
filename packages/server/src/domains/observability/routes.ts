import { Hono } from "hono";
import { timingSafeEqual } from "hono/utils/buffer";
import type { AppEnv } from "../../http/env.ts";
import { Problem } from "../../http/problems.ts";

/**
 * GET /v1/metrics: Prometheus text for a scraper holding METRICS_TOKEN. Mounted before the JWT
 * middleware (its bearer token is not a JWT); without METRICS_TOKEN the route does not exist.
 */
export const metricsRoutes = new Hono<AppEnv>().get("/metrics", async (c) => {
  const expected = c.var.services.config.metricsToken;
  if (!expected) throw new Problem("not-found", `no route for ${c.req.path}`);
  const presented = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
  if (!presented || !(await timingSafeEqual(presented, expected))) {
    c.header("WWW-Authenticate", 'Bearer realm="metrics"');
    throw new Problem("unauthenticated", "the metrics endpoint needs 'Authorization: Bearer <METRICS_TOKEN>'");
  }
  const { contentType, body } = await c.var.services.metrics.scrape();
  return c.body(body, 200, { "Content-Type": contentType, "Cache-Control": "no-store" });
});
