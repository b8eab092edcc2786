import type { z } from "@hono/zod-openapi";

/**
 * One outbox topic and the zod schema of its `data`. Each domain that emits events exports its own
 * `EventType[]` from `domains/<name>/event-types.ts`; the composition root (app.ts) gathers them
 * into the catalogue the webhooks routes, the OpenAPI `webhooks` section and the tests read.
 */
export interface EventType {
  topic: string;
  description: string;
  data: z.ZodType;
}
