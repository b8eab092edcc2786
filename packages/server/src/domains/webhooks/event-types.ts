import { z } from "@hono/zod-openapi";
import { TimestampSchema } from "../../http/schemas.ts";
import type { EventType } from "../../platform/event-type.ts";

// The webhooks domain's own outbox topics (migration webhooks and POST /webhooks/endpoints/{id}/test).

export const webhookEventTypes: EventType[] = [
  {
    topic: "webhook.endpoint_disabled",
    description: "An endpoint failed every delivery for a day and was disabled; re-enable it with PATCH.",
    data: z
      .object({
        endpoint_id: z.uuid(),
        url: z.string(),
        failing_since: TimestampSchema,
        reason: z.string(),
      })
      .openapi("WebhookEndpointDisabledEvent"),
  },
  {
    topic: "webhook.test",
    description: "A test ping sent to one endpoint by POST /webhooks/endpoints/{id}/test.",
    data: z.object({ endpoint_id: z.uuid(), url: z.string() }).openapi("WebhookTestEvent"),
  },
];
