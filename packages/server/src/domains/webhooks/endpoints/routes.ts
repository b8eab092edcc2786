import { z } from "@hono/zod-openapi";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { createRouter, IdParamSchema, jsonBody, jsonResponse } from "../../../http/openapi.ts";
import { decodeCursor, PageQuerySchema, pageSchema, toPage } from "../../../http/pagination.ts";
import { locateCreated } from "../../../http/public-path.ts";
import { routesFor } from "../../../http/route.ts";
import { managedHere, notFound, SVIX_MODE_NOTE, urlPolicy } from "../managed-here.ts";
import {
  CreatedEndpointSchema,
  CreateEndpointBodySchema,
  EndpointSchema,
  QueuedSchema,
  ReplayQuerySchema,
  RotatedSecretSchema,
  RotateSecretBodySchema,
  TestQueuedSchema,
  UpdateEndpointBodySchema,
} from "../schemas.ts";
import * as service from "../service.ts";

const { secured } = routesFor("webhooks");

export const endpointRoutes = createRouter();

const createWebhookEndpointRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
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
    },
  }),
);
endpointRoutes.openapi(createWebhookEndpointRoute, async (c) => {
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
});

const listWebhookEndpointsRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
    operationId: "listWebhookEndpoints",
    method: "get",
    path: "/webhooks/endpoints",
    summary: "Every endpoint",
    request: { query: PageQuerySchema },
    responses: { 200: jsonResponse("A page of endpoints", pageSchema(EndpointSchema)) },
  }),
);
endpointRoutes.openapi(listWebhookEndpointsRoute, async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const after = cursor ? decodeCursor(cursor, z.uuid()) : undefined;
  const rows = await service.listEndpoints(c.var.services.db, c.var.caller.claims, { limit, after });
  return c.json(
    toPage(rows, limit, (row) => row.id),
    200,
  );
});

const getWebhookEndpointRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
    operationId: "getWebhookEndpoint",
    method: "get",
    path: "/webhooks/endpoints/{id}",
    summary: "One endpoint, without its secret",
    request: { params: IdParamSchema },
    responses: { 200: jsonResponse("The endpoint", EndpointSchema), 404: notFound },
  }),
);
endpointRoutes.openapi(getWebhookEndpointRoute, async (c) =>
  c.json(await service.getEndpoint(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
);

const updateWebhookEndpointRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
    operationId: "updateWebhookEndpoint",
    method: "patch",
    path: "/webhooks/endpoints/{id}",
    summary: "Change an endpoint; `enabled: true` re-enables one that was disabled",
    request: { params: IdParamSchema, body: jsonBody(UpdateEndpointBodySchema) },
    responses: { 200: jsonResponse("The endpoint", EndpointSchema), 404: notFound },
  }),
);
endpointRoutes.openapi(updateWebhookEndpointRoute, async (c) =>
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
);

const deleteWebhookEndpointRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
    operationId: "deleteWebhookEndpoint",
    method: "delete",
    path: "/webhooks/endpoints/{id}",
    summary: "Remove an endpoint with its deliveries",
    request: { params: IdParamSchema },
    responses: { 204: { description: "Removed" }, 404: notFound },
  }),
);
endpointRoutes.openapi(deleteWebhookEndpointRoute, async (c) => {
  await service.deleteEndpoint(c.var.services.db, c.var.caller.claims, c.req.valid("param").id);
  return c.body(null, 204);
});

const rotateWebhookSecretRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
    operationId: "rotateWebhookSecret",
    method: "post",
    path: "/webhooks/endpoints/{id}/rotate-secret",
    summary: "Issue a new secret; the previous ones keep signing for the overlap",
    request: {
      params: IdParamSchema,
      body: { required: false, content: { "application/json": { schema: RotateSecretBodySchema } } },
    },
    responses: { 200: jsonResponse("The new secret", RotatedSecretSchema), 404: notFound },
  }),
);
endpointRoutes.openapi(rotateWebhookSecretRoute, async (c) => {
  // The body is optional (without one the validator answers `{}`): the previous secrets keep signing for a day.
  const overlap = c.req.valid("json").overlap_seconds ?? 86_400;
  return c.json(
    await service.rotateSecret(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, overlap),
    200,
  );
});

const testWebhookEndpointRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
    operationId: "testWebhookEndpoint",
    method: "post",
    path: "/webhooks/endpoints/{id}/test",
    summary: "Send a `webhook.test` event to this endpoint",
    request: { params: IdParamSchema, headers: IdempotencyKeyHeaderSchema },
    responses: { 202: jsonResponse("Queued", TestQueuedSchema), 404: notFound },
  }),
);
endpointRoutes.openapi(testWebhookEndpointRoute, async (c) => {
  const { result, replayed } = await service.sendTestEvent(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("param").id,
    c.req.valid("header")["idempotency-key"],
  );
  markReplayed(c, replayed);
  return c.json(result, 202);
});

const replayWebhookEventsRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
    operationId: "replayWebhookEvents",
    method: "post",
    path: "/webhooks/endpoints/{id}/replay",
    summary: "Send again every matching event since a time (until another)",
    request: { params: IdParamSchema, query: ReplayQuerySchema, headers: IdempotencyKeyHeaderSchema },
    responses: { 202: jsonResponse("How many deliveries were queued", QueuedSchema), 404: notFound },
  }),
);
endpointRoutes.openapi(replayWebhookEventsRoute, async (c) => {
  const { result, replayed } = await service.replayEvents(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("param").id,
    c.req.valid("query"),
    c.req.valid("header")["idempotency-key"],
  );
  markReplayed(c, replayed);
  return c.json(result, 202);
});
