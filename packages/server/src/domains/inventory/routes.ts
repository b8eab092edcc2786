import { createRoute, z } from "@hono/zod-openapi";
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
import { etag, expectedVersion, IfMatchHeaderSchema } from "../../http/versioning.ts";
import { createLocation, listLocations, updateLocation } from "./locations.ts";
import {
  AdjustResultSchema,
  AdjustSchema,
  CreateLocationSchema,
  HistoryQuerySchema,
  LevelPolicySchema,
  LevelSchema,
  LocationCodeParamSchema,
  LocationSchema,
  MovementSchema,
  ReorderSuggestionSchema,
  ReservationSchema,
  ReserveSchema,
  StatusQuerySchema,
  StockStatusSchema,
  SuggestionQuerySchema,
  TransferResultSchema,
  TransferSchema,
  UpdateLocationSchema,
  VerifyResultSchema,
} from "./schemas.ts";
import {
  adjustStock,
  closeReorderSuggestion,
  commitReservation,
  getReservation,
  listReorderSuggestions,
  releaseReservation,
  reserveStock,
  setLevelPolicy,
  stockHistory,
  stockStatus,
  transferStock,
  verifyLedger,
} from "./service.ts";

const insufficientStock = errorResponse(
  "Insufficient stock: `shortages` names each short sku with `requested` and `available`; nothing is held",
);
const notFound = errorResponse("Unknown sku, location or reservation");
const tags = ["inventory"];

// ---------------------------------------------------------------------------------------------
// Locations

const createLocationRoute = createRoute({
  operationId: "createLocation",
  method: "post",
  path: "/locations",
  tags,
  summary: "Add a warehouse or shop (manager and up); it gets an empty level for every variant",
  security: bearerAuth,
  middleware: [requireRole("manager")] as const,
  request: { body: jsonBody(CreateLocationSchema), headers: IdempotencyKeyHeaderSchema },
  responses: {
    201: jsonResponse("The new location (for a repeated Idempotency-Key, as first created)", LocationSchema),
    409: errorResponse("A location with this code exists"),
    ...commonErrors,
  },
});

const listLocationsRoute = createRoute({
  operationId: "listLocations",
  method: "get",
  path: "/locations",
  tags,
  summary: "Locations by code (viewer and up)",
  security: bearerAuth,
  middleware: [requireRole("viewer")] as const,
  request: { query: PageQuerySchema },
  responses: { 200: jsonResponse("A page of locations", pageSchema(LocationSchema)), ...commonErrors },
});

const updateLocationRoute = createRoute({
  operationId: "updateLocation",
  method: "patch",
  path: "/locations/{code}",
  tags,
  summary:
    "Change a location: name, priority, active, fulfils_online, ... (manager and up); If-Match or `version` guards against lost updates",
  security: bearerAuth,
  middleware: [requireRole("manager")] as const,
  request: { params: LocationCodeParamSchema, headers: IfMatchHeaderSchema, body: jsonBody(UpdateLocationSchema) },
  responses: {
    200: jsonResponse("The location (its ETag is its version)", LocationSchema),
    404: notFound,
    409: errorResponse("Version conflict: the location changed since that version; `current` is how it is now"),
    ...commonErrors,
  },
});

// ---------------------------------------------------------------------------------------------
// Stock

const adjustRoute = createRoute({
  operationId: "adjustStock",
  method: "post",
  path: "/inventory/adjust",
  tags,
  summary: "Record a manual movement (staff and up); the same Idempotency-Key (or body idempotency_key) applies once",
  security: bearerAuth,
  middleware: [requireRole("staff")] as const,
  request: { body: jsonBody(AdjustSchema), headers: IdempotencyKeyHeaderSchema },
  responses: {
    201: jsonResponse(
      "The movement and the level after it (a replayed key answers the first movement)",
      AdjustResultSchema,
    ),
    404: notFound,
    409: insufficientStock,
    ...commonErrors,
  },
});

const transferRoute = createRoute({
  operationId: "transferStock",
  method: "post",
  path: "/inventory/transfers",
  tags,
  summary:
    "Move stock between two locations in one transaction (staff and up); the same Idempotency-Key (or body idempotency_key) moves once",
  security: bearerAuth,
  middleware: [requireRole("staff")] as const,
  request: { body: jsonBody(TransferSchema), headers: IdempotencyKeyHeaderSchema },
  responses: {
    201: jsonResponse(
      "Both movements and both levels after them (a replayed key answers the first transfer, with Idempotent-Replayed: true)",
      TransferResultSchema,
    ),
    404: notFound,
    409: insufficientStock,
    ...commonErrors,
  },
});

const statusRoute = createRoute({
  operationId: "getStockStatus",
  method: "get",
  path: "/inventory/status",
  tags,
  summary: "Stock per variant: its levels and its total (viewer and up)",
  description:
    "Always a page of variants: `sku` narrows it to one (404 when unknown), `location_code` and `stock=low|out` choose the variants and levels shown. `total` is always the variant's stock at every location.",
  security: bearerAuth,
  middleware: [requireRole("viewer")] as const,
  request: { query: StatusQuerySchema },
  responses: {
    200: jsonResponse("A page of variants' stock", pageSchema(StockStatusSchema)),
    404: notFound,
    ...commonErrors,
  },
});

const historyRoute = createRoute({
  operationId: "getStockHistory",
  method: "get",
  path: "/inventory/history",
  tags,
  summary: "The stock ledger, newest first (viewer and up)",
  security: bearerAuth,
  middleware: [requireRole("viewer")] as const,
  request: { query: HistoryQuerySchema },
  responses: { 200: jsonResponse("A page of movements", pageSchema(MovementSchema)), 404: notFound, ...commonErrors },
});

const verifyRoute = createRoute({
  operationId: "verifyStockLedger",
  method: "post",
  path: "/inventory/verify",
  tags,
  summary: "Check that every level's on_hand equals its movements and reserved its active holds (staff and up)",
  security: bearerAuth,
  middleware: [requireRole("staff")] as const,
  responses: {
    200: jsonResponse("Levels checked and every mismatch (none when the books balance)", VerifyResultSchema),
    ...commonErrors,
  },
});

const suggestionsRoute = createRoute({
  operationId: "listReorderSuggestions",
  method: "get",
  path: "/inventory/reorder-suggestions",
  tags,
  summary: "Reorder suggestions, newest first (viewer and up)",
  security: bearerAuth,
  middleware: [requireRole("viewer")] as const,
  request: { query: SuggestionQuerySchema },
  responses: { 200: jsonResponse("A page of suggestions", pageSchema(ReorderSuggestionSchema)), ...commonErrors },
});

const levelPolicyRoute = createRoute({
  operationId: "setStockLevelPolicy",
  method: "patch",
  path: "/inventory/levels",
  tags,
  summary: "Set a level's reorder_point, reorder_quantity and allow_backorder (manager and up)",
  security: bearerAuth,
  middleware: [requireRole("manager")] as const,
  request: { body: jsonBody(LevelPolicySchema) },
  responses: {
    200: jsonResponse("The level", LevelSchema),
    404: notFound,
    409: errorResponse("Backorders cannot be turned off while more is reserved than on hand"),
    ...commonErrors,
  },
});

const suggestionAction = (action: "resolve" | "dismiss") =>
  createRoute({
    operationId: action === "resolve" ? "resolveReorderSuggestion" : "dismissReorderSuggestion",
    method: "post",
    path: `/inventory/reorder-suggestions/{id}/${action}`,
    tags,
    summary:
      action === "resolve"
        ? "Mark a reorder suggestion as handled (idempotent; staff and up)"
        : "Dismiss a reorder suggestion (idempotent; staff and up)",
    security: bearerAuth,
    middleware: [requireRole("staff")] as const,
    request: { params: IdParamSchema },
    responses: {
      200: jsonResponse("The suggestion", ReorderSuggestionSchema),
      404: errorResponse("Unknown reorder suggestion"),
      409: errorResponse(action === "resolve" ? "The suggestion was dismissed" : "The suggestion was resolved"),
      ...commonErrors,
    },
  });

// ---------------------------------------------------------------------------------------------
// Reservations

const reserveRoute = createRoute({
  operationId: "createReservation",
  method: "post",
  path: "/inventory/reservations",
  tags,
  summary: "Reserve every line or none (staff and up, service role)",
  security: bearerAuth,
  middleware: [requireRole("staff")] as const,
  request: { body: jsonBody(ReserveSchema), headers: IdempotencyKeyHeaderSchema },
  responses: {
    201: jsonResponse("The active reservation; a line may be split across locations", ReservationSchema),
    409: insufficientStock,
    ...commonErrors,
  },
});

const reservationAction = (action: "release" | "commit") =>
  createRoute({
    operationId: `${action}Reservation`,
    method: "post",
    path: `/inventory/reservations/{id}/${action}`,
    tags,
    summary:
      action === "release"
        ? "Release a reservation (idempotent; staff and up)"
        : "Commit a reservation: its units become sale movements (idempotent; staff and up)",
    security: bearerAuth,
    middleware: [requireRole("staff")] as const,
    request: { params: IdParamSchema },
    responses: {
      200: jsonResponse("The reservation", ReservationSchema),
      404: notFound,
      409: errorResponse(
        action === "release"
          ? "The reservation is committed, or it holds an order's stock (cancel the order instead)"
          : "The reservation is released or expired, or it holds an order's stock (ship the order instead)",
      ),
      ...commonErrors,
    },
  });

const getReservationRoute = createRoute({
  operationId: "getReservation",
  method: "get",
  path: "/inventory/reservations/{id}",
  tags,
  summary: "One reservation (viewer and up)",
  security: bearerAuth,
  middleware: [requireRole("viewer")] as const,
  request: { params: IdParamSchema },
  responses: { 200: jsonResponse("The reservation", ReservationSchema), 404: notFound, ...commonErrors },
});

type Reservation = z.infer<typeof ReservationSchema>;

/** The Idempotency-Key header, or the body's `idempotency_key` alias; both must agree when both come. */
function idempotencyKey(header: string | undefined, body: string | undefined): string | undefined {
  if (header !== undefined && body !== undefined && header !== body) {
    throw new Problem("validation-failed", "the Idempotency-Key header and body idempotency_key differ", {
      errors: [{ field: "body.idempotency_key", code: "mismatch", message: "must equal the Idempotency-Key header" }],
    });
  }
  return header ?? body;
}

export const inventoryRoutes = createRouter()
  .openapi(createLocationRoute, async (c) => {
    const { result: location, replayed } = await createLocation(
      c.var.services.db,
      c.var.caller.claims,
      c.req.valid("json"),
      c.req.valid("header")["idempotency-key"],
    );
    markReplayed(c, replayed);
    c.header("ETag", etag(location.version));
    return c.json(location, 201);
  })
  .openapi(listLocationsRoute, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, z.string()) : undefined;
    const rows = await listLocations(c.var.services.db, c.var.caller.claims, { limit, after });
    return c.json(
      toPage(rows, limit, (row) => row.code),
      200,
    );
  })
  .openapi(updateLocationRoute, async (c) => {
    const { version, ...patch } = c.req.valid("json");
    const expected = expectedVersion(c.req.valid("header")["if-match"], version);
    const location = await updateLocation(
      c.var.services.db,
      c.var.caller.claims,
      c.req.valid("param").code,
      patch,
      expected,
    );
    c.header("ETag", etag(location.version));
    return c.json(location, 200);
  })
  .openapi(adjustRoute, async (c) => {
    const body = c.req.valid("json");
    const key = idempotencyKey(c.req.valid("header")["idempotency-key"], body.idempotency_key);
    const { result, replayed } = await adjustStock(c.var.services.db, c.var.caller.claims, body, key);
    markReplayed(c, replayed);
    return c.json(result as z.infer<typeof AdjustResultSchema>, 201);
  })
  .openapi(transferRoute, async (c) => {
    const body = c.req.valid("json");
    const key = idempotencyKey(c.req.valid("header")["idempotency-key"], body.idempotency_key);
    const { result, replayed } = await transferStock(c.var.services.db, c.var.caller.claims, body, key);
    markReplayed(c, replayed);
    return c.json(result as z.infer<typeof TransferResultSchema>, 201);
  })
  .openapi(levelPolicyRoute, async (c) =>
    c.json(
      (await setLevelPolicy(c.var.services.db, c.var.caller.claims, c.req.valid("json"))) as z.infer<
        typeof LevelSchema
      >,
      200,
    ),
  )
  .openapi(statusRoute, async (c) => {
    const { sku, location_code, stock, limit, cursor } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, z.string()) : undefined;
    const rows = (await stockStatus(c.var.services.db, c.var.caller.claims, {
      sku,
      location_code,
      stock,
      after,
      limit: limit + 1,
    })) as z.infer<typeof StockStatusSchema>[];
    return c.json(
      toPage(rows, limit, (row) => row.sku),
      200,
    );
  })
  .openapi(historyRoute, async (c) => {
    const { sku, location_code, limit, cursor } = c.req.valid("query");
    const beforeId = cursor ? decodeCursor(cursor, z.number().int()) : undefined;
    const rows = await stockHistory(c.var.services.db, c.var.caller.claims, {
      sku,
      location_code,
      beforeId,
      limit: limit + 1,
    });
    return c.json(
      toPage(rows as z.infer<typeof MovementSchema>[], limit, (row) => row.id),
      200,
    );
  })
  .openapi(verifyRoute, async (c) =>
    c.json((await verifyLedger(c.var.services.db, c.var.caller.claims)) as z.infer<typeof VerifyResultSchema>, 200),
  )
  .openapi(suggestionsRoute, async (c) => {
    const { status, limit, cursor } = c.req.valid("query");
    const before = cursor ? decodeCursor(cursor, z.tuple([z.string(), z.uuid()])) : undefined;
    const rows = await listReorderSuggestions(c.var.services.db, c.var.caller.claims, {
      status: status === "all" ? null : status,
      before,
      limit: limit + 1,
    });
    const page = toPage(rows, limit, (row) => [row.cursor_created_at, row.id]);
    const data = page.data.map(({ cursor_created_at: _, ...row }) => row as z.infer<typeof ReorderSuggestionSchema>);
    return c.json({ data, next_cursor: page.next_cursor }, 200);
  })
  .openapi(suggestionAction("resolve"), async (c) =>
    c.json(
      (await closeReorderSuggestion(
        c.var.services.db,
        c.var.caller.claims,
        c.req.valid("param").id,
        "resolved",
      )) as z.infer<typeof ReorderSuggestionSchema>,
      200,
    ),
  )
  .openapi(suggestionAction("dismiss"), async (c) =>
    c.json(
      (await closeReorderSuggestion(
        c.var.services.db,
        c.var.caller.claims,
        c.req.valid("param").id,
        "dismissed",
      )) as z.infer<typeof ReorderSuggestionSchema>,
      200,
    ),
  )
  .openapi(reserveRoute, async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    const { result, replayed } = await reserveStock(c.var.services.db, c.var.caller.claims, c.req.valid("json"), key);
    markReplayed(c, replayed);
    locateCreated(c, String(result.id));
    return c.json(result as Reservation, 201);
  })
  .openapi(reservationAction("release"), async (c) =>
    c.json(
      (await releaseReservation(c.var.services.db, c.var.caller.claims, c.req.valid("param").id)) as Reservation,
      200,
    ),
  )
  .openapi(reservationAction("commit"), async (c) =>
    c.json(
      (await commitReservation(c.var.services.db, c.var.caller.claims, c.req.valid("param").id)) as Reservation,
      200,
    ),
  )
  .openapi(getReservationRoute, async (c) =>
    c.json((await getReservation(c.var.services.db, c.var.caller.claims, c.req.valid("param").id)) as Reservation, 200),
  );
