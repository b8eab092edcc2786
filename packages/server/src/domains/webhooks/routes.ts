import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../../http/env.ts";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../http/idempotency.ts";
import { requireRole } from "../../http/middleware/authenticate.ts";
import {
  bearerAuth,
  commonErrors,
  createRouter,
  errorResponse,
  IdParamSchema,
  jsonBody,
  jsonResponse,
} from "../../http/openapi.ts";
import { decodeCursor, PageQuerySchema, pageSchema, toPage } from "../../http/pagination.ts";
import { Problem } from "../../http/problems.ts";
import { locateCreated } from "../../http/public-path.ts";
import { eventTypes, webhookEnvelope } from "./event-types.ts";
import { receiveInbound } from "./inbound.ts";
import {
  CreatedEndpointSchema,
  CreateEndpointBodySchema,
  DeliveryIdParamSchema,
  DeliveryQuerySchema,
  DeliverySchema,
  DeliveryWithAttemptsSchema,
  EndpointSchema,
  EventTypeSchema,
  InboundResultSchema,
  QueuedSchema,
  ReplayQuerySchema,
  RotatedSecretSchema,
  RotateSecretBodySchema,
  SourceParamSchema,
  TestQueuedSchema,
  UpdateEndpointBodySchema,
} from "./schemas.ts";
import * as service from "./service.ts";

const tags = ["webhooks"];

// In Svix Cloud mode (SVIX_API_KEY set) endpoints, secrets, retries and delivery logs live in Svix:
// every endpoint and delivery route answers 409 with where to manage them instead.
const managedHere = createMiddleware<AppEnv>(async (c, next) => {
  const elsewhere = c.var.services.webhooks.endpointsManagedElsewhere;
  if (elsewhere) throw new Problem("conflict", elsewhere, { managed_by: "svix" });
  await next();
});
const SVIX_MODE_NOTE =
  "With SVIX_API_KEY set (Svix Cloud mode), endpoints and deliveries are managed in Svix and this route answers 409.";
const adminOnly = {
  security: bearerAuth,
  tags,
  middleware: [requireRole("admin"), managedHere],
  description: SVIX_MODE_NOTE,
};
const notFound = errorResponse("No such endpoint or delivery");
const managedElsewhere = { 409: errorResponse("Svix Cloud mode: endpoints are managed in Svix") };

const urlPolicy = (c: Context<AppEnv>) => ({
  allowPrivate: c.var.services.config.webhooksAllowPrivateUrls,
  resolver: c.var.services.dns,
});

const createEndpoint = createRoute({
  ...adminOnly,
  operationId: "createWebhookEndpoint",
  method: "post",
  path: "/webhooks/endpoints",
  summary: "Register an endpoint; the response carries its signing secret, shown only this once",
  description: `${SVIX_MODE_NOTE} A repeated Idempotency-Key (same admin, same body, within 24 hours) answers the first response, secret included.`,
  request: { body: jsonBody(CreateEndpointBodySchema), headers: IdempotencyKeyHeaderSchema },
  responses: {
    201: jsonResponse(
      "The endpoint and its secret (for a repeated Idempotency-Key, the first ones)",
      CreatedEndpointSchema,
    ),
    ...managedElsewhere,
    ...commonErrors,
  },
});

const listEndpoints = createRoute({
  ...adminOnly,
  operationId: "listWebhookEndpoints",
  method: "get",
  path: "/webhooks/endpoints",
  summary: "Every endpoint",
  request: { query: PageQuerySchema },
  responses: {
    200: jsonResponse("A page of endpoints", pageSchema(EndpointSchema)),
    ...managedElsewhere,
    ...commonErrors,
  },
});

const getEndpoint = createRoute({
  ...adminOnly,
  operationId: "getWebhookEndpoint",
  method: "get",
  path: "/webhooks/endpoints/{id}",
  summary: "One endpoint (without its secret)",
  request: { params: IdParamSchema },
  responses: { 200: jsonResponse("The endpoint", EndpointSchema), 404: notFound, ...managedElsewhere, ...commonErrors },
});

const updateEndpoint = createRoute({
  ...adminOnly,
  operationId: "updateWebhookEndpoint",
  method: "patch",
  path: "/webhooks/endpoints/{id}",
  summary: "Change an endpoint; `enabled: true` re-enables one that was disabled",
  request: { params: IdParamSchema, body: jsonBody(UpdateEndpointBodySchema) },
  responses: { 200: jsonResponse("The endpoint", EndpointSchema), 404: notFound, ...managedElsewhere, ...commonErrors },
});

const deleteEndpoint = createRoute({
  ...adminOnly,
  operationId: "deleteWebhookEndpoint",
  method: "delete",
  path: "/webhooks/endpoints/{id}",
  summary: "Remove an endpoint with its deliveries",
  request: { params: IdParamSchema },
  responses: { 204: { description: "Removed" }, 404: notFound, ...managedElsewhere, ...commonErrors },
});

const rotateSecret = createRoute({
  ...adminOnly,
  operationId: "rotateWebhookSecret",
  method: "post",
  path: "/webhooks/endpoints/{id}/rotate-secret",
  summary: "Issue a new secret; the previous ones keep signing for the overlap",
  request: {
    params: IdParamSchema,
    body: { required: false, content: { "application/json": { schema: RotateSecretBodySchema } } },
  },
  responses: {
    200: jsonResponse("The new secret", RotatedSecretSchema),
    404: notFound,
    ...managedElsewhere,
    ...commonErrors,
  },
});

const testEndpoint = createRoute({
  ...adminOnly,
  operationId: "testWebhookEndpoint",
  method: "post",
  path: "/webhooks/endpoints/{id}/test",
  summary: "Send a `webhook.test` event to this endpoint",
  request: { params: IdParamSchema },
  responses: { 202: jsonResponse("Queued", TestQueuedSchema), 404: notFound, ...managedElsewhere, ...commonErrors },
});

const replay = createRoute({
  ...adminOnly,
  operationId: "replayWebhookEvents",
  method: "post",
  path: "/webhooks/endpoints/{id}/replay",
  summary: "Send again every matching event since a time (until another)",
  request: { params: IdParamSchema, query: ReplayQuerySchema },
  responses: {
    202: jsonResponse("How many deliveries were queued", QueuedSchema),
    404: notFound,
    ...managedElsewhere,
    ...commonErrors,
  },
});

const listDeliveries = createRoute({
  ...adminOnly,
  operationId: "listWebhookDeliveries",
  method: "get",
  path: "/webhooks/deliveries",
  summary: "Deliveries, newest first, by endpoint and status",
  request: { query: PageQuerySchema.extend(DeliveryQuerySchema.shape) },
  responses: {
    200: jsonResponse("A page of deliveries", pageSchema(DeliverySchema)),
    ...managedElsewhere,
    ...commonErrors,
  },
});

const getDelivery = createRoute({
  ...adminOnly,
  operationId: "getWebhookDelivery",
  method: "get",
  path: "/webhooks/deliveries/{id}",
  summary: "One delivery with every attempt",
  request: { params: DeliveryIdParamSchema },
  responses: {
    200: jsonResponse("The delivery", DeliveryWithAttemptsSchema),
    404: notFound,
    ...managedElsewhere,
    ...commonErrors,
  },
});

const retryDelivery = createRoute({
  ...adminOnly,
  operationId: "retryWebhookDelivery",
  method: "post",
  path: "/webhooks/deliveries/{id}/retry",
  summary: "Attempt a delivery again now, with a fresh retry schedule",
  request: { params: DeliveryIdParamSchema },
  responses: { 202: jsonResponse("Queued", DeliverySchema), 404: notFound, ...managedElsewhere, ...commonErrors },
});

const listEventTypes = createRoute({
  operationId: "listWebhookEventTypes",
  method: "get",
  path: "/webhooks/event-types",
  tags,
  summary: "The event catalogue: every topic with the JSON Schema of its webhook body",
  responses: { 200: jsonResponse("Every event type", z.object({ data: z.array(EventTypeSchema) })) },
});

const receive = createRoute({
  operationId: "receiveInboundWebhook",
  method: "post",
  path: "/webhooks/inbound/{source}",
  tags,
  summary: "Inbound webhook from a configured source (Standard Webhooks signature, no bearer token)",
  description:
    "Verified with the source's secret (webhook-id, webhook-timestamp within 5 minutes, webhook-signature) before " +
    "anything else. A repeated webhook-id is acknowledged and not applied again. Sources: pms-product (product " +
    "upsert by SKU), pms-inventory (stock adjustment), pms-order (order status update), and any other " +
    "configured source (stored, not applied).",
  request: { params: SourceParamSchema },
  responses: {
    200: jsonResponse("Applied, or a repeat of a message already applied", InboundResultSchema),
    202: jsonResponse("Verified and stored; this source has no handler to apply it", InboundResultSchema),
    401: errorResponse("Bad signature or stale timestamp"),
    404: errorResponse("Unknown source, or the message names an unknown order or sku"),
    409: errorResponse("The message asks for a change its subject's state refuses (such as shipping a pending order)"),
    413: errorResponse("Body over 1 MiB"),
    422: errorResponse("The payload is invalid; nothing was applied"),
  },
});

const eventCatalogue = () =>
  eventTypes.map((eventType) => ({
    topic: eventType.topic,
    description: eventType.description,
    schema: z.toJSONSchema(webhookEnvelope(eventType), { io: "output", unrepresentable: "any" }) as Record<
      string,
      unknown
    >,
  }));

export const webhookRoutes = createRouter()
  .openapi(createEndpoint, async (c) => {
    const { result: created, replayed } = await service.createEndpoint(
      c.var.services.db,
      c.var.caller.claims,
      urlPolicy(c),
      c.req.valid("json"),
      c.req.valid("header")["idempotency-key"],
    );
    markReplayed(c, replayed);
    locateCreated(c, created.id);
    return c.json(created, 201);
  })
  .openapi(listEndpoints, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, z.uuid()) : undefined;
    const rows = await service.listEndpoints(c.var.services.db, c.var.caller.claims, { limit, after });
    return c.json(
      toPage(rows, limit, (row) => row.id),
      200,
    );
  })
  .openapi(getEndpoint, async (c) =>
    c.json(await service.getEndpoint(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
  )
  .openapi(updateEndpoint, async (c) =>
    c.json(
      await service.updateEndpoint(
        c.var.services.db,
        c.var.caller.claims,
        urlPolicy(c),
        c.req.valid("param").id,
        c.req.valid("json"),
      ),
      200,
    ),
  )
  .openapi(deleteEndpoint, async (c) => {
    await service.deleteEndpoint(c.var.services.db, c.var.caller.claims, c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(rotateSecret, async (c) => {
    // The body is optional: without one, the previous secrets keep signing for a day.
    const overlap = (c.req.valid("json") as { overlap_seconds?: number } | undefined)?.overlap_seconds ?? 86_400;
    return c.json(
      await service.rotateSecret(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, overlap),
      200,
    );
  })
  .openapi(testEndpoint, async (c) =>
    c.json(await service.sendTestEvent(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 202),
  )
  .openapi(replay, async (c) => {
    const { since, until } = c.req.valid("query");
    return c.json(
      await service.replayEvents(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, since, until),
      202,
    );
  })
  .openapi(listDeliveries, async (c) => {
    const { limit, cursor, endpoint_id, status } = c.req.valid("query");
    const before = cursor ? decodeCursor(cursor, z.string().regex(/^\d+$/)) : undefined;
    const rows = await service.listDeliveries(
      c.var.services.db,
      c.var.caller.claims,
      { endpoint_id, status },
      { limit, before },
    );
    return c.json(
      toPage(rows, limit, (row) => row.id),
      200,
    );
  })
  .openapi(getDelivery, async (c) =>
    c.json(await service.getDelivery(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
  )
  .openapi(retryDelivery, async (c) =>
    c.json(await service.retryDelivery(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 202),
  )
  .openapi(listEventTypes, (c) => c.json({ data: eventCatalogue() }, 200))
  .openapi(receive, async (c) => {
    const result = await receiveInbound(
      c.var.services.db,
      c.var.services.config.inboundWebhookSecrets,
      c.req.valid("param").source,
      await c.req.text(),
      (name) => c.req.header(name),
    );
    return c.json(result, result.status === "stored" ? 202 : 200);
  });
