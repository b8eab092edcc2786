import { z } from "@hono/zod-openapi";

export const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");

export const ReadinessSchema = z
  .object({
    status: z.enum(["ready", "degraded", "unavailable"]),
    checks: z.record(
      z.string(),
      z.object({ status: z.enum(["up", "down"]), latency_ms: z.number(), error: z.string().optional() }),
    ),
  })
  .openapi("Readiness");

export type Readiness = z.infer<typeof ReadinessSchema>;
