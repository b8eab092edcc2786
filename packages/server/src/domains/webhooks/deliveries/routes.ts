import { z } from "@hono/zod-openapi";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { createRouter, jsonResponse } from "../../../http/openapi.ts";
import { decodeCursor, PageQuerySchema, pageSchema, toPage } from "../../../http/pagination.ts";
import { routesFor } from "../../../http/route.ts";
import { managedHere, notFound } from "../managed-here.ts";
import { DeliveryIdParamSchema, DeliveryQuerySchema, DeliverySchema, DeliveryWithAttemptsSchema } from "../schemas.ts";
import * as service from "../service.ts";

const { secured } = routesFor("webhooks");

export const deliveryRoutes = createRouter();

const listWebhookDeliveriesRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
    operationId: "listWebhookDeliveries",
    method: "get",
    path: "/webhooks/deliveries",
    summary: "Deliveries, newest first, by endpoint and status",
    request: { query: PageQuerySchema.extend(DeliveryQuerySchema.shape) },
    responses: { 200: jsonResponse("A page of deliveries", pageSchema(DeliverySchema)) },
  }),
);
deliveryRoutes.openapi(listWebhookDeliveriesRoute, async (c) => {
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
});

const getWebhookDeliveryRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
    operationId: "getWebhookDelivery",
    method: "get",
    path: "/webhooks/deliveries/{id}",
    summary: "One delivery with every attempt",
    request: { params: DeliveryIdParamSchema },
    responses: { 200: jsonResponse("The delivery", DeliveryWithAttemptsSchema), 404: notFound },
  }),
);
deliveryRoutes.openapi(getWebhookDeliveryRoute, async (c) =>
  c.json(await service.getDelivery(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
);

const retryWebhookDeliveryRoute = secured(
  { role: "admin", scope: "webhooks:manage" },
  managedHere({
    operationId: "retryWebhookDelivery",
    method: "post",
    path: "/webhooks/deliveries/{id}/retry",
    summary: "Attempt a delivery again now, with a fresh retry schedule",
    request: { params: DeliveryIdParamSchema, headers: IdempotencyKeyHeaderSchema },
    responses: { 202: jsonResponse("Queued", DeliverySchema), 404: notFound },
  }),
);
deliveryRoutes.openapi(retryWebhookDeliveryRoute, async (c) => {
  const { result, replayed } = await service.retryDelivery(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("param").id,
    c.req.valid("header")["idempotency-key"],
  );
  markReplayed(c, replayed);
  return c.json(result, 202);
});
