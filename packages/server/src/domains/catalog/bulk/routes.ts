import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse } from "../../../http/openapi.ts";
import { routesFor } from "../../../http/route.ts";
import { BulkRequestSchema, BulkResultSchema } from "../schemas.ts";
import { runBulk } from "./service.ts";

const { secured } = routesFor("catalog");

export const bulkRoutes = createRouter();

const bulkProductsRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "bulkProducts",
    method: "post",
    path: "/products/bulk",
    summary: "Up to 1,000 product creates, updates and deletes with per-item results",
    description:
      "Each operation succeeds or fails on its own; with `atomic: true` any failure rolls every operation back and " +
      "the answer is a 409 problem whose `results` say which failed and why. Rules per operation are the same as " +
      "for the single endpoints (deletes and status changes need manager).",
    request: { body: jsonBody(BulkRequestSchema), headers: IdempotencyKeyHeaderSchema },
    responses: {
      200: jsonResponse(
        "Per-item results (or, for a repeated Idempotency-Key, the first request's results)",
        BulkResultSchema,
      ),
      409: errorResponse(
        "Atomic request rolled back (`results` names the failed items), or the Idempotency-Key was used for another request",
      ),
    },
  },
);
bulkRoutes.openapi(bulkProductsRoute, async (c) => {
  const { result, replayed } = await runBulk(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("json"),
    c.req.valid("header")["idempotency-key"],
  );
  markReplayed(c, replayed);
  return c.json(result, 200);
});
