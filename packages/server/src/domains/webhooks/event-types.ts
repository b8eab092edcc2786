import { z } from "@hono/zod-openapi";
import { catalogEventTypes } from "../catalog/events.ts";
import { imageEventTypes } from "../images/events.ts";
import { inventoryEventTypes } from "../inventory/events.ts";
import { orderEventTypes } from "../orders/events.ts";

/**
 * The event catalogue: one zod schema per outbox topic, for the `data` of a webhook payload.
 * A domain that emits events exports its own `EventType[]` from `domains/<name>/events.ts` (importing
 * `EventType` from here with `import type`, so there is no import cycle) and adds it to `eventTypes`
 * below; the catalogue endpoint and the OpenAPI `webhooks` section follow.
 */
export interface EventType {
  topic: string;
  description: string;
  data: z.ZodType;
}

export const webhookEventTypes: EventType[] = [
  {
    topic: "webhook.endpoint_disabled",
    description: "An endpoint failed every delivery for a day and was disabled; re-enable it with PATCH.",
    data: z
      .object({
        endpoint_id: z.uuid(),
        url: z.string(),
        failing_since: z.iso.datetime({ offset: true }),
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

/**
 * Every topic Storekeep emits, one list per domain. A topic a migration emits (`private.emit_event` or
 * an insert into `private.events`) without an entry here fails tests/webhooks.event-catalogue.test.ts.
 */
export const eventTypes: EventType[] = [
  ...catalogEventTypes,
  ...imageEventTypes,
  ...inventoryEventTypes,
  ...orderEventTypes,
  // Other domains: `...<domain>EventTypes` from `domains/<domain>/events.ts`, here.
  ...webhookEventTypes,
];

/** The envelope every webhook body has (Standard Webhooks: `type`, `timestamp`, `data`; plus `id`). */
export function webhookEnvelope(eventType: EventType) {
  return z.object({
    type: z.literal(eventType.topic),
    id: z.string().openapi({ description: "The event id, also sent as the `webhook-id` header", example: "evt_42" }),
    timestamp: z.iso.datetime().openapi({ description: "When the event happened (ISO 8601 UTC)" }),
    data: eventType.data,
  });
}

/** A registry that can document webhooks (the app's OpenAPI registry). */
interface WebhookRegistry {
  registerWebhook(webhook: {
    method: "post";
    path: string;
    summary: string;
    description?: string;
    tags?: string[];
    request: { body: { content: { "application/json": { schema: z.ZodType } } } };
    responses: Record<number, { description: string }>;
  }): void;
}

/** Adds one OpenAPI 3.1 `webhooks` entry per topic, so the catalogue is in the OpenAPI document. */
export function documentEventTypes(registry: WebhookRegistry, types: EventType[] = eventTypes): void {
  for (const eventType of types) {
    registry.registerWebhook({
      method: "post",
      path: eventType.topic,
      summary: eventType.topic,
      description: `${eventType.description} Signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature).`,
      tags: ["webhooks"],
      request: { body: { content: { "application/json": { schema: webhookEnvelope(eventType) } } } },
      responses: { 200: { description: "Any 2xx acknowledges the delivery; anything else is retried" } },
    });
  }
}
