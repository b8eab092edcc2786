import { z } from "@hono/zod-openapi";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse } from "../../../http/openapi.ts";
import { decodeCursor, pageSchema, toPage } from "../../../http/pagination.ts";
import { Problem } from "../../../http/problems.ts";
import { locateAt, locateCreated } from "../../../http/public-path.ts";
import { routesFor } from "../../../http/route.ts";
import {
  AdjustResultSchema,
  AdjustSchema,
  HistoryQuerySchema,
  LevelPolicySchema,
  LevelSchema,
  MovementIdParamSchema,
  MovementSchema,
  StatusQuerySchema,
  StockStatusSchema,
  StockTransferSchema,
  TransferIdParamSchema,
  TransferResultSchema,
  TransferSchema,
  VerifyResultSchema,
} from "../schemas.ts";
import {
  adjustStock,
  getStockMovement,
  getStockTransfer,
  setLevelPolicy,
  stockHistory,
  stockStatus,
  transferStock,
  verifyLedger,
} from "../service.ts";

const { secured } = routesFor("inventory");
const notFound = errorResponse("Unknown sku or location");
const insufficientStock = errorResponse(
  "Insufficient stock: `shortages` names each short sku with `requested` and `available`; nothing is held",
);

export const stockRoutes = createRouter();

/** The Idempotency-Key header, or the body's `idempotency_key` alias; both must agree when both come. */
function idempotencyKey(header: string | undefined, body: string | undefined): string | undefined {
  if (header !== undefined && body !== undefined && header !== body) {
    throw new Problem("validation-failed", "the Idempotency-Key header and body idempotency_key differ", {
      errors: [{ field: "body.idempotency_key", code: "mismatch", message: "must equal the Idempotency-Key header" }],
    });
  }
  return header ?? body;
}

const adjustStockRoute = secured(
  { role: "staff", scope: "inventory:write" },
  {
    operationId: "adjustStock",
    method: "post",
    path: "/inventory/adjust",
    summary: "Record a manual movement; the same Idempotency-Key (or body idempotency_key) applies once",
    request: { body: jsonBody(AdjustSchema), headers: IdempotencyKeyHeaderSchema },
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
  const body = c.req.valid("json");
  const key = idempotencyKey(c.req.valid("header")["idempotency-key"], body.idempotency_key);
  const { result, replayed } = await adjustStock(c.var.services.db, c.var.caller.claims, body, key);
  markReplayed(c, replayed);
  locateAt(c, "/inventory/adjust", `/inventory/movements/${result.movement.id}`);
  return c.json(result, 201);
});

const transferStockRoute = secured(
  { role: "staff", scope: "inventory:write" },
  {
    operationId: "transferStock",
    method: "post",
    path: "/inventory/transfers",
    summary:
      "Move stock between two locations in one transaction; the same Idempotency-Key (or body idempotency_key) moves once",
    request: { body: jsonBody(TransferSchema), headers: IdempotencyKeyHeaderSchema },
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
  const body = c.req.valid("json");
  const key = idempotencyKey(c.req.valid("header")["idempotency-key"], body.idempotency_key);
  const { result, replayed } = await transferStock(c.var.services.db, c.var.caller.claims, body, key);
  markReplayed(c, replayed);
  locateCreated(c, result.transfer_id);
  return c.json(result, 201);
});

const getStockMovementRoute = secured(
  { role: "viewer", scope: "inventory:read" },
  {
    operationId: "getStockMovement",
    method: "get",
    path: "/inventory/movements/{id}",
    summary: "One movement of the stock ledger",
    request: { params: MovementIdParamSchema },
    responses: { 200: jsonResponse("The movement", MovementSchema), 404: errorResponse("No such movement") },
  },
);
stockRoutes.openapi(getStockMovementRoute, async (c) =>
  c.json(await getStockMovement(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
);

const getStockTransferRoute = secured(
  { role: "viewer", scope: "inventory:read" },
  {
    operationId: "getStockTransfer",
    method: "get",
    path: "/inventory/transfers/{id}",
    summary: "One transfer: its out and in movements",
    request: { params: TransferIdParamSchema },
    responses: { 200: jsonResponse("The transfer", StockTransferSchema), 404: errorResponse("No such transfer") },
  },
);
stockRoutes.openapi(getStockTransferRoute, async (c) =>
  c.json(await getStockTransfer(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
);

const setStockLevelPolicyRoute = secured(
  { role: "manager", scope: "inventory:write" },
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
  { role: "viewer", scope: "inventory:read" },
  {
    operationId: "getStockStatus",
    method: "get",
    path: "/inventory/status",
    summary: "Stock per variant: its levels and its total",
    description:
      "Always a page of variants: `sku` narrows it to one (404 when unknown), `location_code` and `stock=low|out` choose the variants and levels shown. `total` is always the variant's stock at every location.",
    request: { query: StatusQuerySchema },
    responses: {
      200: jsonResponse("A page of variants' stock", pageSchema(StockStatusSchema)),
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
    limit: limit + 1,
  });
  return c.json(
    toPage(rows, limit, (row) => row.sku),
    200,
  );
});

const getStockHistoryRoute = secured(
  { role: "viewer", scope: "inventory:read" },
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
  { role: "staff", scope: "inventory:write" },
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
