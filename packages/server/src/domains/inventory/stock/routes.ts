import { z } from "@hono/zod-openapi";
import { markReplayed } from "../../../http/idempotency.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse } from "../../../http/openapi.ts";
import { decodeCursor, pageSchema, toPage } from "../../../http/pagination.ts";
import { routesFor } from "../../../http/route.ts";
import {
  AdjustResultSchema,
  AdjustSchema,
  HistoryQuerySchema,
  LevelPolicySchema,
  LevelSchema,
  MovementSchema,
  StatusQuerySchema,
  StockStatusSchema,
  TransferResultSchema,
  TransferSchema,
  VerifyResultSchema,
} from "../schemas.ts";
import { adjustStock, setLevelPolicy, stockHistory, stockStatus, transferStock, verifyLedger } from "../service.ts";

const { secured } = routesFor("inventory");
const notFound = errorResponse("Unknown sku or location");
const insufficientStock = errorResponse(
  "Insufficient stock: `shortages` names each short sku with `requested` and `available`; nothing is held",
);

export const stockRoutes = createRouter();

const adjustStockRoute = secured(
  { role: "staff" },
  {
    operationId: "adjustStock",
    method: "post",
    path: "/inventory/adjust",
    summary: "Record a manual movement; the same idempotency_key applies once",
    request: { body: jsonBody(AdjustSchema) },
    responses: {
      201: jsonResponse(
        "The movement and the level after it (a replayed key answers the first movement)",
        AdjustResultSchema,
      ),
      404: notFound,
      409: insufficientStock,
    },
  },
);
stockRoutes.openapi(adjustStockRoute, async (c) => {
  const { replayed, ...result } = await adjustStock(c.var.services.db, c.var.caller.claims, c.req.valid("json"));
  markReplayed(c, replayed);
  return c.json(result, 201);
});

const transferStockRoute = secured(
  { role: "staff" },
  {
    operationId: "transferStock",
    method: "post",
    path: "/inventory/transfers",
    summary: "Move stock between two locations in one transaction; the same idempotency_key moves once",
    request: { body: jsonBody(TransferSchema) },
    responses: {
      201: jsonResponse(
        "Both movements and both levels after them (a replayed key answers the first transfer, with Idempotent-Replayed: true)",
        TransferResultSchema,
      ),
      404: notFound,
      409: insufficientStock,
    },
  },
);
stockRoutes.openapi(transferStockRoute, async (c) => {
  const { replayed, ...result } = await transferStock(c.var.services.db, c.var.caller.claims, c.req.valid("json"));
  markReplayed(c, replayed);
  return c.json(result, 201);
});

const setStockLevelPolicyRoute = secured(
  { role: "manager" },
  {
    operationId: "setStockLevelPolicy",
    method: "patch",
    path: "/inventory/levels",
    summary: "Set a level's reorder_point, reorder_quantity and allow_backorder",
    request: { body: jsonBody(LevelPolicySchema) },
    responses: {
      200: jsonResponse("The level", LevelSchema),
      404: notFound,
      409: errorResponse("Backorders cannot be turned off while more is reserved than on hand"),
    },
  },
);
stockRoutes.openapi(setStockLevelPolicyRoute, async (c) =>
  c.json(await setLevelPolicy(c.var.services.db, c.var.caller.claims, c.req.valid("json")), 200),
);

const getStockStatusRoute = secured(
  { role: "viewer" },
  {
    operationId: "getStockStatus",
    method: "get",
    path: "/inventory/status",
    summary: "Stock of one sku per location and in total, or a page of the catalog's",
    description:
      "With `sku`: that variant's levels and total. Without: a page of variants, optionally only at `location_code` and only `stock=low` or `stock=out`.",
    request: { query: StatusQuerySchema },
    responses: {
      200: jsonResponse(
        "One sku's stock, or a page of them",
        z.union([StockStatusSchema, pageSchema(StockStatusSchema)]),
      ),
      404: notFound,
    },
  },
);
stockRoutes.openapi(getStockStatusRoute, async (c) => {
  const { sku, location_code, stock, limit, cursor } = c.req.valid("query");
  const after = cursor ? decodeCursor(cursor, z.string()) : undefined;
  const rows = await stockStatus(c.var.services.db, c.var.caller.claims, {
    sku,
    location_code,
    stock,
    after,
    limit: sku ? 1 : limit + 1,
  });
  if (sku) {
    const only = rows[0] ?? { sku, locations: [], total: { on_hand: 0, reserved: 0, available: 0 } };
    return c.json(only, 200);
  }
  return c.json(
    toPage(rows, limit, (row) => row.sku),
    200,
  );
});

const getStockHistoryRoute = secured(
  { role: "viewer" },
  {
    operationId: "getStockHistory",
    method: "get",
    path: "/inventory/history",
    summary: "The stock ledger, newest first",
    request: { query: HistoryQuerySchema },
    responses: { 200: jsonResponse("A page of movements", pageSchema(MovementSchema)), 404: notFound },
  },
);
stockRoutes.openapi(getStockHistoryRoute, async (c) => {
  const { sku, location_code, limit, cursor } = c.req.valid("query");
  const beforeId = cursor ? decodeCursor(cursor, z.number().int()) : undefined;
  const rows = await stockHistory(c.var.services.db, c.var.caller.claims, {
    sku,
    location_code,
    beforeId,
    limit: limit + 1,
  });
  return c.json(
    toPage(rows, limit, (row) => row.id),
    200,
  );
});

const verifyStockLedgerRoute = secured(
  { role: "staff" },
  {
    operationId: "verifyStockLedger",
    method: "post",
    path: "/inventory/verify",
    summary: "Check that every level's on_hand equals its movements and reserved its active holds",
    responses: {
      200: jsonResponse("Levels checked and every mismatch (none when the books balance)", VerifyResultSchema),
    },
  },
);
stockRoutes.openapi(verifyStockLedgerRoute, async (c) =>
  c.json(await verifyLedger(c.var.services.db, c.var.caller.claims), 200),
);
