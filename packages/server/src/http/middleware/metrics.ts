import { createMiddleware } from "hono/factory";
import type { Metrics } from "../../platform/metrics.ts";
import type { AppEnv } from "../env.ts";
import { routeTemplate } from "../route-template.ts";

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

/** Request durations by route template, method and status (the histogram's _count is the request count), and requests in flight. */
export function httpMetrics(metrics: Metrics) {
  const duration = metrics.histogram(
    "storekeep_http_request_duration_seconds",
    "HTTP requests by route template, method and status: duration (its _count counts the requests)",
    ["route", "method", "status"],
  );
  const inFlight = metrics.gauge("storekeep_http_requests_in_flight", "HTTP requests being served by this instance");
  // One child per label set, found by a plain string key: prom-client then skips validating and
  // hashing the labels on every request.
  const series = new Map<string, { observe(seconds: number): void }>();

  return createMiddleware<AppEnv>(async (c, next) => {
    const started = performance.now();
    inFlight.inc();
    try {
      await next();
    } finally {
      inFlight.dec();
      const method = METHODS.has(c.req.method) ? c.req.method : "OTHER";
      const route = routeTemplate(c);
      const status = c.res.status;
      const key = `${route} ${method} ${status}`;
      let child = series.get(key);
      if (!child) {
        child = duration.labels({ route, method, status: String(status) });
        series.set(key, child);
      }
      child.observe((performance.now() - started) / 1000);
    }
  });
}
