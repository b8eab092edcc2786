import { createRoute } from "@hono/zod-openapi";
import { requireRole } from "../../http/middleware/authenticate.ts";
import { bearerAuth, commonErrors, createRouter, errorResponse, jsonResponse } from "../../http/openapi.ts";
import { ChangesPageSchema, ChangesQuerySchema, StatusQuerySchema, SyncStatusSchema } from "./schemas.ts";
import { changesSince, syncStatus } from "./service.ts";

const listChanges = createRoute({
  operationId: "listSyncChanges",
  method: "get",
  path: "/sync/changes",
  tags: ["sync"],
  summary: "Outbox events after a cursor that the caller may read (catch-up after being offline)",
  security: bearerAuth,
  middleware: [requireRole("viewer")] as const,
  request: { query: ChangesQuerySchema },
  responses: {
    200: jsonResponse("A page of events in commit-safe order, and the cursor to resume from", ChangesPageSchema),
    410: errorResponse("The cursor is older than the outbox retention: reload the screen's data"),
    ...commonErrors,
  },
});

const getStatus = createRoute({
  operationId: "getSyncStatus",
  method: "get",
  path: "/sync/status",
  tags: ["sync"],
  summary: "How far behind a cursor is (without one: the current head cursor)",
  security: bearerAuth,
  middleware: [requireRole("viewer")] as const,
  request: { query: StatusQuerySchema },
  responses: {
    200: jsonResponse("Where the cursor stands", SyncStatusSchema),
    410: errorResponse("The cursor is older than the outbox retention"),
    ...commonErrors,
  },
});

export const syncRoutes = createRouter()
  .openapi(listChanges, async (c) =>
    c.json(await changesSince(c.var.services.db, c.var.caller.claims, c.req.valid("query")), 200),
  )
  .openapi(getStatus, async (c) =>
    c.json(await syncStatus(c.var.services.db, c.var.caller.claims, c.req.valid("query")), 200),
  );
