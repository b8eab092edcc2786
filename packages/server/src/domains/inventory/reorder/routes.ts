import { z } from "@hono/zod-openapi";
import { createRouter, errorResponse, IdParamSchema, jsonResponse } from "../../../http/openapi.ts";
import { decodeCursor, pageSchema, toPage } from "../../../http/pagination.ts";
import { routesFor } from "../../../http/route.ts";
import { ReorderSuggestionSchema, SuggestionQuerySchema } from "../schemas.ts";
import { closeReorderSuggestion, listReorderSuggestions } from "../service.ts";

const { secured } = routesFor("inventory");

export const reorderRoutes = createRouter();

const listReorderSuggestionsRoute = secured(
  { role: "viewer", scope: "inventory:read" },
  {
    operationId: "listReorderSuggestions",
    method: "get",
    path: "/inventory/reorder-suggestions",
    summary: "Reorder suggestions, newest first",
    request: { query: SuggestionQuerySchema },
    responses: { 200: jsonResponse("A page of suggestions", pageSchema(ReorderSuggestionSchema)) },
  },
);
reorderRoutes.openapi(listReorderSuggestionsRoute, async (c) => {
  const { status, limit, cursor } = c.req.valid("query");
  const before = cursor ? decodeCursor(cursor, z.tuple([z.string(), z.uuid()])) : undefined;
  const rows = await listReorderSuggestions(c.var.services.db, c.var.caller.claims, {
    status: status === "all" ? null : status,
    before,
    limit: limit + 1,
  });
  const page = toPage(rows, limit, (row) => [row.cursor_created_at, row.id]);
  const data = page.data.map(({ cursor_created_at: _, ...row }) => row);
  return c.json({ data, next_cursor: page.next_cursor }, 200);
});

/** Resolving and dismissing differ only in the status they close a suggestion with. */
const closeSuggestionRoute = (action: "resolve" | "dismiss") =>
  secured(
    { role: "staff", scope: "inventory:write" },
    {
      operationId: action === "resolve" ? "resolveReorderSuggestion" : "dismissReorderSuggestion",
      method: "post",
      path: `/inventory/reorder-suggestions/{id}/${action}`,
      summary:
        action === "resolve"
          ? "Mark a reorder suggestion as handled; a repeat changes nothing"
          : "Dismiss a reorder suggestion; a repeat changes nothing",
      request: { params: IdParamSchema },
      responses: {
        200: jsonResponse("The suggestion", ReorderSuggestionSchema),
        404: errorResponse("Unknown reorder suggestion"),
        409: errorResponse(action === "resolve" ? "The suggestion was dismissed" : "The suggestion was resolved"),
      },
    },
  );

const resolveReorderSuggestionRoute = closeSuggestionRoute("resolve");
reorderRoutes.openapi(resolveReorderSuggestionRoute, async (c) =>
  c.json(
    await closeReorderSuggestion(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, "resolved"),
    200,
  ),
);

const dismissReorderSuggestionRoute = closeSuggestionRoute("dismiss");
reorderRoutes.openapi(dismissReorderSuggestionRoute, async (c) =>
  c.json(
    await closeReorderSuggestion(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, "dismissed"),
    200,
  ),
);
