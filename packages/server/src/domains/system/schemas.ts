import { z } from "@hono/zod-openapi";

export const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");

export const ReadinessSchema = z
  .object({
    status: z.enum(["ready", "degraded", "unavailable"]),
    checks: z.record(
      z.string(),
      z.object({ status: z.enum(["up", "down"]), latency_ms: z.number(), error: z.string().optional() }),
    ),
    warnings: z.array(z.string()).openapi({
      description:
        "What an operator should act on while serving goes on (API keys due for rotation, unused, or about to stop)",
    }),
  })
  .openapi("Readiness");

export type Readiness = z.infer<typeof ReadinessSchema>;
