import { z } from "@hono/zod-openapi";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { createRouter, errorResponse, IdParamSchema, jsonResponse } from "../../../http/openapi.ts";
import { Problem } from "../../../http/problems.ts";
import { publicPath } from "../../../http/public-path.ts";
import { routesFor } from "../../../http/route.ts";
import { inBackground } from "../../../platform/background.ts";
import { ExportQuerySchema, ImportQuerySchema, JobSchema } from "../schemas.ts";
import { exportProducts } from "./export.ts";
import { getJob, processImport, startImport } from "./service.ts";

const MAX_IMPORT_BYTES = 64 * 1024 * 1024;
const CSV_TYPES = ["text/csv"];
const JSONL_TYPES = ["application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain"];

function importFormat(contentType: string | undefined, explicit: "csv" | "jsonl" | undefined): "csv" | "jsonl" {
  if (explicit) return explicit;
  const essence = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
  if (CSV_TYPES.includes(essence)) return "csv";
  if (JSONL_TYPES.includes(essence)) return "jsonl";
  throw new Problem("unsupported-media-type", "send text/csv or application/x-ndjson");
}

const { secured } = routesFor("catalog");

export const transferRoutes = createRouter();

const importProductsRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "importProducts",
    method: "post",
    path: "/products/import",
    summary: "Import (create or update) up to 100,000 products from CSV or JSON Lines as a job",
    description:
      "CSV: a header naming columns among handle, title, description, status, publish_at, brand, category, " +
      "attributes, sku, variant_title, options, price_amount, currency, compare_at_amount, barcode, weight_grams; " +
      "consecutive lines with the same handle are one product's variants. JSON Lines: one product object per line " +
      "(as for POST /products). A line whose handle names a stored product updates it: the fields it gives overwrite, " +
      "its variants are matched by SKU (updated, or added when new); a handle or SKU may appear once per file. " +
      "Each line applies whole or not at all. Answers 202 with the job; follow it at GET /jobs/{id}; failed lines " +
      "carry their line number and field.",
    request: {
      query: ImportQuerySchema,
      headers: IdempotencyKeyHeaderSchema,
      body: {
        required: true,
        content: {
          "text/csv": { schema: z.string() },
          "application/x-ndjson": { schema: z.string() },
        },
      },
    },
    responses: {
      202: jsonResponse(
        "The job, queued (or, for a repeated Idempotency-Key, the same job as first answered)",
        JobSchema,
      ),
      409: errorResponse("The Idempotency-Key was used for another request"),
      413: errorResponse("More than 100,000 rows or 64 MiB"),
      415: errorResponse("Neither CSV nor JSON Lines"),
    },
  },
);
transferRoutes.openapi(importProductsRoute, async (c) => {
  const format = importFormat(c.req.header("content-type"), c.req.valid("query").format);
  const length = Number(c.req.header("content-length") ?? 0);
  if (length > MAX_IMPORT_BYTES) throw new Problem("payload-too-large", "an import body is at most 64 MiB");
  const { db, logger } = c.var.services;
  const claims = c.var.caller.claims;
  const body = c.req.raw.body ?? new Blob([]).stream();
  const { result: job, replayed } = await startImport(db, claims, body, format, {
    idempotencyKey: c.req.valid("header")["idempotency-key"],
    maxBytes: MAX_IMPORT_BYTES,
  });
  // A repeat answers the job as first answered (the API convention: a repeat returns the first
  // response), not its progress since: this 202 is a receipt, and its Location is where the job's
  // current state lives, so a client that retried loses nothing and every answer to one key is the
  // same. Nor does a repeat start processing again: the first request did, and the scheduled
  // worker finishes any import whose rows remain (after a restart, say).
  if (replayed) markReplayed(c, true);
  else {
    const work = processImport(db, claims, job.id).catch((error: unknown) =>
      logger.error("import failed", { job: job.id, message: error instanceof Error ? error.message : String(error) }),
    );
    inBackground(work);
  }
  c.header("Location", publicPath(c, `${c.req.path.replace(/\/products\/import$/, "")}/jobs/${job.id}`));
  return c.json(job, 202);
});

const getJobRoute = secured(
  { role: "staff", scope: "catalog:read" },
  {
    operationId: "getJob",
    method: "get",
    path: "/jobs/{id}",
    summary: "A background job's progress: rows done, failed and total, with failed lines; its owner or a manager",
    request: { params: IdParamSchema },
    responses: {
      200: jsonResponse("The job", JobSchema),
      404: errorResponse("No such job, or not the caller's"),
    },
  },
);
transferRoutes.openapi(getJobRoute, async (c) =>
  c.json(await getJob(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
);

const exportProductsRoute = secured(
  { role: "viewer", scope: "catalog:read" },
  {
    operationId: "exportProducts",
    method: "get",
    path: "/products/export",
    summary: "Stream the filtered catalog as CSV or JSON Lines",
    request: { query: ExportQuerySchema },
    responses: {
      200: {
        description: "The products, streamed",
        content: { "text/csv": { schema: z.string() }, "application/x-ndjson": { schema: z.string() } },
      },
    },
  },
);
transferRoutes.openapi(exportProductsRoute, async (c) => {
  const { format, ...filters } = c.req.valid("query");
  const stream = await exportProducts(c.var.services.db, c.var.caller.claims, filters, format);
  return c.body(stream, 200, {
    "content-type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8",
    "content-disposition": `attachment; filename="products.${format}"`,
  });
});
