import { createRoute } from "@hono/zod-openapi";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { requireRole } from "../../../http/middleware/authenticate.ts";
import { bearerAuth, commonErrors, createRouter, errorResponse, IdParamSchema } from "../../../http/openapi.ts";
import { etag, expectedVersion, IfMatchHeaderSchema } from "../../../http/versioning.ts";
import { VariantInputSchema, VariantPatchSchema, VariantSchema } from "../schemas.ts";
import { addVariant, deleteVariant, updateVariant } from "./service.ts";

const json = <T>(schema: T) => ({ content: { "application/json": { schema } } });
const writeErrors = {
  ...commonErrors,
  404: errorResponse("No such variant or product"),
  409: errorResponse("SKU taken, stale version (`current` holds the variant), or a published product's last variant"),
};

const addVariantRoute = createRoute({
  operationId: "addVariant",
  method: "post",
  path: "/products/{id}/variants",
  tags: ["catalog"],
  summary: "Add a variant to a product (staff and up)",
  security: bearerAuth,
  middleware: [requireRole("staff")] as const,
  request: {
    params: IdParamSchema,
    headers: IdempotencyKeyHeaderSchema,
    body: { required: true, ...json(VariantInputSchema) },
  },
  responses: {
    201: { description: "The variant (for a repeated Idempotency-Key, as first added)", ...json(VariantSchema) },
    ...writeErrors,
  },
});

const updateVariantRoute = createRoute({
  operationId: "updateVariant",
  method: "patch",
  path: "/variants/{id}",
  tags: ["catalog"],
  summary: "Change a variant (staff and up); If-Match or `version` guards against lost updates",
  security: bearerAuth,
  middleware: [requireRole("staff")] as const,
  request: {
    params: IdParamSchema,
    headers: IfMatchHeaderSchema,
    body: { required: true, ...json(VariantPatchSchema) },
  },
  responses: { 200: { description: "The variant after the change", ...json(VariantSchema) }, ...writeErrors },
});

const deleteVariantRoute = createRoute({
  operationId: "deleteVariant",
  method: "delete",
  path: "/variants/{id}",
  tags: ["catalog"],
  summary: "Soft-delete a variant (staff and up; not a published product's last one); its SKU stays reserved",
  security: bearerAuth,
  middleware: [requireRole("staff")] as const,
  request: { params: IdParamSchema, headers: IfMatchHeaderSchema },
  responses: { 204: { description: "Deleted" }, ...writeErrors },
});

export const variantRoutes = createRouter()
  .openapi(addVariantRoute, async (c) => {
    const { result: variant, replayed } = await addVariant(
      c.var.services.db,
      c.var.caller.claims,
      c.req.valid("param").id,
      c.req.valid("json"),
      c.req.valid("header")["idempotency-key"],
    );
    markReplayed(c, replayed);
    c.header("ETag", etag(variant.version));
    return c.json(variant, 201);
  })
  .openapi(updateVariantRoute, async (c) => {
    const { version, ...patch } = c.req.valid("json");
    const expected = expectedVersion(c.req.valid("header")["if-match"], version);
    const variant = await updateVariant(
      c.var.services.db,
      c.var.caller.claims,
      c.req.valid("param").id,
      expected,
      patch,
    );
    c.header("ETag", etag(variant.version));
    return c.json(variant, 200);
  })
  .openapi(deleteVariantRoute, async (c) => {
    const expected = expectedVersion(c.req.valid("header")["if-match"], undefined);
    await deleteVariant(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, expected);
    return c.body(null, 204);
  });
