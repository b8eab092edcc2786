import { createRoute } from "@hono/zod-openapi";
import { createRouter } from "../../http/openapi.ts";
import { HealthSchema, ReadinessSchema } from "./schemas.ts";
import { checkReadiness } from "./service.ts";

const health = createRoute({
  operationId: "getHealth",
  method: "get",
  path: "/health",
  tags: ["system"],
  summary: "Liveness: the process answers (no dependency is touched)",
  responses: { 200: { description: "Alive", content: { "application/json": { schema: HealthSchema } } } },
});

const ready = createRoute({
  operationId: "getReady",
  method: "get",
  path: "/ready",
  tags: ["system"],
  summary: "Readiness: every dependency answers (degraded: an optional one, such as Redis, does not)",
  responses: {
    200: {
      description: "Ready, or degraded (serving without an optional dependency)",
      content: { "application/json": { schema: ReadinessSchema } },
    },
    503: { description: "A dependency is down", content: { "application/json": { schema: ReadinessSchema } } },
  },
});

export const systemRoutes = createRouter()
  .openapi(health, (c) => c.json({ status: "ok" as const }, 200))
  .openapi(ready, async (c) => {
    const readiness = await checkReadiness(c.var.services.readiness, c.var.services.optionalReadiness);
    c.header("cache-control", "no-store");
    return readiness.status !== "unavailable" ? c.json(readiness, 200) : c.json(readiness, 503);
  });
