import { createRoute } from "@hono/zod-openapi";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { requireRole } from "../../../http/middleware/authenticate.ts";
import { bearerAuth, commonErrors, createRouter, errorResponse } from "../../../http/openapi.ts";
import { BulkRequestSchema, BulkResultSchema } from "../schemas.ts";
import { runBulk } from "./service.ts";

const bulkRoute = createRoute({
  operationId: "bulkProducts",
  method: "post",
  path: "/products/bulk",
  tags: ["catalog"],
  summary: "Up to 1,000 product creates, updates and deletes with per-item results (staff and up)",
  description:
    "Each operation succeeds or fails on its own; with `atomic: true` any failure rolls every operation back and " +
    "the answer is a 409 problem whose `results` say which failed and why. Rules per operation are the same as " +
    "for the single endpoints (deletes and status changes need manager).",
  security: bearerAuth,
  middleware: [requireRole("staff")] as const,
  request: {
    body: { required: true, content: { "application/json": { schema: BulkRequestSchema } } },
    headers: IdempotencyKeyHeaderSchema,
  },
  responses: {
    200: {
      description: "Per-item results (or, for a repeated Idempotency-Key, the first request's results)",
      content: { "application/json": { schema: BulkResultSchema } },
    },
    ...commonErrors,
    409: errorResponse(
      "Atomic request rolled back (`results` names the failed items), or the Idempotency-Key was used for another request",
    ),
  },
});

export const bulkRoutes = createRouter().openapi(bulkRoute, async (c) => {
  const { result, replayed } = await runBulk(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("json"),
    c.req.valid("header")["idempotency-key"],
  );
  markReplayed(c, replayed);
  return c.json(result, 200);
});
