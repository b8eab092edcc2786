import { z } from "@hono/zod-openapi";
import { createRouter, jsonResponse } from "../../../http/openapi.ts";
import { routesFor } from "../../../http/route.ts";
import { TimestampSchema } from "../../../http/schemas.ts";
import type { EventType } from "../../../platform/event-type.ts";
import { EventTypeSchema } from "../schemas.ts";

const { open } = routesFor("webhooks");

/** The envelope every webhook body has (Standard Webhooks: `type`, `timestamp`, `data`; plus `id`). */
export function webhookEnvelope(eventType: EventType) {
  return z.object({
    type: z.literal(eventType.topic),
    id: z.string().openapi({ description: "The event id, also sent as the `webhook-id` header", example: "evt_42" }),
    timestamp: TimestampSchema.openapi({ description: "When the event happened (ISO 8601 UTC)" }),
    data: eventType.data,
  });
}

const listWebhookEventTypesRoute = open({
  operationId: "listWebhookEventTypes",
  method: "get",
  path: "/webhooks/event-types",
  summary: "The event catalogue: every topic with the JSON Schema of its webhook body",
  responses: { 200: jsonResponse("Every event type", z.object({ data: z.array(EventTypeSchema) })) },
});

/** `GET /webhooks/event-types`: the catalogue the composition root gathered from every domain. */
export function createEventTypeRoutes(eventTypes: readonly EventType[]) {
  const eventCatalogue = () =>
    eventTypes.map((eventType) => ({
      topic: eventType.topic,
      description: eventType.description,
      schema: z.toJSONSchema(webhookEnvelope(eventType), { io: "output", unrepresentable: "any" }),
    }));
  return createRouter().openapi(listWebhookEventTypesRoute, (c) => c.json({ data: eventCatalogue() }, 200));
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

/**
 * Adds one OpenAPI 3.1 `webhooks` entry per topic, so the catalogue is in the OpenAPI document. It
 * takes the root app's registry: a mounted router would prefix each topic with its mount path.
 */
export function documentEventTypes(registry: WebhookRegistry, eventTypes: readonly EventType[]): void {
  for (const eventType of eventTypes) {
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
