import { cachedJson } from "../../../http/cache.ts";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { createRouter, errorResponse, IdParamSchema, jsonBody, jsonResponse } from "../../../http/openapi.ts";
import { locateAt } from "../../../http/public-path.ts";
import { routesFor } from "../../../http/route.ts";
import { etag, expectedVersion, IfMatchHeaderSchema } from "../../../http/versioning.ts";
import { catalogReads } from "../cache.ts";
import { VariantInputSchema, VariantPatchSchema, VariantSchema } from "../schemas.ts";
import { addVariant, deleteVariant, updateVariant } from "./service.ts";

const { secured } = routesFor("catalog");
const writeErrors = {
  404: errorResponse("No such variant or product"),
  409: errorResponse("SKU taken, stale version (`current` holds the variant), or a published product's last variant"),
};

export const variantRoutes = createRouter();

const addVariantRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "addVariant",
    method: "post",
    path: "/products/{id}/variants",
    summary: "Add a variant to a product",
    request: { params: IdParamSchema, headers: IdempotencyKeyHeaderSchema, body: jsonBody(VariantInputSchema) },
    responses: {
      201: jsonResponse("The variant (for a repeated Idempotency-Key, as first added)", VariantSchema),
      ...writeErrors,
    },
  },
);
variantRoutes.openapi(addVariantRoute, async (c) => {
  const { result: variant, replayed } = await addVariant(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("param").id,
    c.req.valid("json"),
    c.req.valid("header")["idempotency-key"],
  );
  markReplayed(c, replayed);
  locateAt(c, `/products/${c.req.valid("param").id}/variants`, `/variants/${variant.id}`);
  c.header("ETag", etag(variant.version));
  return c.json(variant, 201);
});

const getVariantRoute = secured(
  { role: "viewer", scope: "catalog:read" },
  {
    operationId: "getVariant",
    method: "get",
    path: "/variants/{id}",
    summary: "One variant",
    request: { params: IdParamSchema },
    responses: {
      200: jsonResponse(
        'The variant (its ETag is "<version>-<hash>"; If-Match takes it or the version)',
        VariantSchema,
      ),
      404: errorResponse("No such variant"),
    },
  },
);
variantRoutes.openapi(getVariantRoute, (c) => cachedJson(c, catalogReads.variant, { id: c.req.valid("param").id }));

const updateVariantRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "updateVariant",
    method: "patch",
    path: "/variants/{id}",
    summary: "Change a variant; If-Match or `version` guards against lost updates",
    request: { params: IdParamSchema, headers: IfMatchHeaderSchema, body: jsonBody(VariantPatchSchema) },
    responses: { 200: jsonResponse("The variant after the change", VariantSchema), ...writeErrors },
  },
);
variantRoutes.openapi(updateVariantRoute, async (c) => {
  const { version, ...patch } = c.req.valid("json");
  const expected = expectedVersion(c.req.valid("header")["if-match"], version);
  const variant = await updateVariant(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, expected, patch);
  c.header("ETag", etag(variant.version));
  return c.json(variant, 200);
});

const deleteVariantRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "deleteVariant",
    method: "delete",
    path: "/variants/{id}",
    summary: "Soft-delete a variant (not a published product's last one); its SKU stays reserved",
    request: { params: IdParamSchema, headers: IfMatchHeaderSchema },
    responses: { 204: { description: "Deleted" }, ...writeErrors },
  },
);
variantRoutes.openapi(deleteVariantRoute, async (c) => {
  const expected = expectedVersion(c.req.valid("header")["if-match"], undefined);
  await deleteVariant(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, expected);
  return c.body(null, 204);
});
