import { createRouter, errorResponse, jsonResponse } from "../../http/openapi.ts";
import { routesFor } from "../../http/route.ts";
import { ChangesPageSchema, ChangesQuerySchema, StatusQuerySchema, SyncStatusSchema } from "./schemas.ts";
import { changesSince, syncStatus } from "./service.ts";

const { secured } = routesFor("sync");

export const syncRoutes = createRouter();

const listSyncChangesRoute = secured(
  { role: "viewer", scope: "sync:read" },
  {
    operationId: "listSyncChanges",
    method: "get",
    path: "/sync/changes",
    summary: "Outbox events after a cursor that the caller may read, to catch up after being offline",
    request: { query: ChangesQuerySchema },
    responses: {
      200: jsonResponse("A page of events in commit-safe order, and the cursor to resume from", ChangesPageSchema),
      410: errorResponse("The cursor is older than the outbox retention: reload the screen's data"),
    },
  },
);
syncRoutes.openapi(listSyncChangesRoute, async (c) =>
  c.json(await changesSince(c.var.services.db, c.var.caller.claims, c.req.valid("query")), 200),
);

const getSyncStatusRoute = secured(
  { role: "viewer", scope: "sync:read" },
  {
    operationId: "getSyncStatus",
    method: "get",
    path: "/sync/status",
    summary: "How far behind a cursor is; without one, the current head cursor",
    request: { query: StatusQuerySchema },
    responses: {
      200: jsonResponse("Where the cursor stands", SyncStatusSchema),
      410: errorResponse("The cursor is older than the outbox retention"),
    },
  },
);
syncRoutes.openapi(getSyncStatusRoute, async (c) =>
  c.json(await syncStatus(c.var.services.db, c.var.caller.claims, c.req.valid("query")), 200),
);
