import { createRouter, jsonResponse } from "../../http/openapi.ts";
import { routesFor } from "../../http/route.ts";
import { HealthSchema, ReadinessSchema } from "./schemas.ts";
import { checkReadiness } from "./service.ts";

const { open } = routesFor("system");

export const systemRoutes = createRouter();

const getHealthRoute = open({
  operationId: "getHealth",
  method: "get",
  path: "/health",
  summary: "Liveness: the process answers (no dependency is touched)",
  responses: { 200: jsonResponse("Alive", HealthSchema) },
});
systemRoutes.openapi(getHealthRoute, (c) => {
  c.header("cache-control", "no-store");
  return c.json({ status: "ok" as const }, 200);
});

const getReadyRoute = open({
  operationId: "getReady",
  method: "get",
  path: "/ready",
  summary: "Readiness: every dependency answers (degraded: an optional one, such as Redis, does not)",
  responses: {
    200: jsonResponse("Ready, or degraded (serving without an optional dependency)", ReadinessSchema),
    503: jsonResponse("A dependency is down", ReadinessSchema),
  },
});
systemRoutes.openapi(getReadyRoute, async (c) => {
  const { readiness: checks, optionalReadiness, warnings } = c.get("services");
  const readiness = await checkReadiness(checks, optionalReadiness, warnings);
  c.header("cache-control", "no-store");
  return readiness.status !== "unavailable" ? c.json(readiness, 200) : c.json(readiness, 503);
});
