import { z } from "@hono/zod-openapi";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../http/idempotency.ts";
import { createRouter, errorResponse, IdParamSchema, jsonBody, jsonResponse } from "../../http/openapi.ts";
import { decodeCursor, pageSchema, toPage } from "../../http/pagination.ts";
import { locateCreated } from "../../http/public-path.ts";
import { routesFor } from "../../http/route.ts";
import { etag, expectedVersion, IfMatchHeaderSchema } from "../../http/versioning.ts";
import { OrderListQuerySchema, OrderSchema, PlaceOrderSchema, SetOrderStatusSchema } from "./schemas.ts";
import { getOrder, listOrders, placeOrder, setOrderStatus } from "./service.ts";

const { secured } = routesFor("orders");
const notFound = errorResponse("No such order");

export const orderRoutes = createRouter();

const placeOrderRoute = secured(
  { role: "staff", scope: "orders:write" },
  {
    operationId: "placeOrder",
    method: "post",
    path: "/orders",
    summary: "Place an order: priced from the catalog, its stock held for the payment window",
    description:
      "All lines or nothing: an unknown sku, an unpublished product, a second currency or a shortage refuses the whole order and holds nothing.",
    request: { body: jsonBody(PlaceOrderSchema), headers: IdempotencyKeyHeaderSchema },
    responses: {
      201: jsonResponse("The pending order (for a repeated Idempotency-Key, the first one)", OrderSchema),
      409: errorResponse("Insufficient stock: `shortages` names each short sku; nothing is held"),
    },
  },
);
orderRoutes.openapi(placeOrderRoute, async (c) => {
  const key = c.req.valid("header")["idempotency-key"];
  const { result, replayed } = await placeOrder(c.var.services.db, c.var.caller.claims, c.req.valid("json"), key);
  markReplayed(c, replayed);
  locateCreated(c, result.id);
  c.header("ETag", etag(result.version));
  return c.json(result, 201);
});

const listOrdersRoute = secured(
  { role: "viewer", scope: "orders:read" },
  {
    operationId: "listOrders",
    method: "get",
    path: "/orders",
    summary: "Orders, newest first, optionally of one status or one customer",
    request: { query: OrderListQuerySchema },
    responses: { 200: jsonResponse("A page of orders", pageSchema(OrderSchema)) },
  },
);
orderRoutes.openapi(listOrdersRoute, async (c) => {
  const { limit, cursor, ...filters } = c.req.valid("query");
  const before = cursor ? decodeCursor(cursor, z.tuple([z.string(), z.uuid()])) : undefined;
  const rows = await listOrders(c.var.services.db, c.var.caller.claims, { ...filters, before, limit: limit + 1 });
  const page = toPage(rows, limit, (row) => [row.cursor_created_at, row.id]);
  return c.json(
    { data: page.data.map(({ cursor_created_at: _, ...order }) => order), next_cursor: page.next_cursor },
    200,
  );
});

const getOrderRoute = secured(
  { role: "viewer", scope: "orders:read" },
  {
    operationId: "getOrder",
    method: "get",
    path: "/orders/{id}",
    summary: "One order with its lines and status history",
    request: { params: IdParamSchema },
    responses: { 200: jsonResponse("The order (its ETag is its version)", OrderSchema), 404: notFound },
  },
);
orderRoutes.openapi(getOrderRoute, async (c) => {
  const order = await getOrder(c.var.services.db, c.var.caller.claims, c.req.valid("param").id);
  c.header("ETag", etag(order.version));
  return c.json(order, 200);
});

const setOrderStatusRoute = secured(
  { role: "staff", scope: "orders:write" },
  {
    operationId: "setOrderStatus",
    method: "post",
    path: "/orders/{id}/status",
    summary:
      "Move an order on: paid, shipped, delivered, cancelled or returned; cancelling a paid order or a return needs manager",
    description:
      "pending → paid (optional payment_reference): the stock hold no longer expires. pending or paid → cancelled: the hold is released. " +
      "paid → shipped (optional tracking_number, carrier): the hold becomes sale movements. shipped → delivered. " +
      "shipped or delivered → returned: the sold units come back as return movements. " +
      "Asking for the current status with the same details changes nothing.",
    request: { params: IdParamSchema, headers: IfMatchHeaderSchema, body: jsonBody(SetOrderStatusSchema) },
    responses: {
      200: jsonResponse("The order after the transition", OrderSchema),
      404: notFound,
      409: errorResponse(
        "The transition is not allowed from the order's status, the payment window has closed, the version is stale " +
          "(`current` holds the order), the payment_reference pays another order, or a line cannot ship yet (insufficient-stock)",
      ),
    },
  },
);
orderRoutes.openapi(setOrderStatusRoute, async (c) => {
  const { version, ...change } = c.req.valid("json");
  const expected = expectedVersion(c.req.valid("header")["if-match"], version);
  const order = await setOrderStatus(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, change, expected);
  c.header("ETag", etag(order.version));
  return c.json(order, 200);
});
