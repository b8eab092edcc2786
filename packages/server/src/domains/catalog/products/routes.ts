import { cachedJson } from "../../../http/cache.ts";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import {
  commonErrors,
  createRouter,
  errorResponse,
  IdParamSchema,
  jsonBody,
  jsonResponse,
} from "../../../http/openapi.ts";
import { pageSchema } from "../../../http/pagination.ts";
import { locateCreated } from "../../../http/public-path.ts";
import { routesFor } from "../../../http/route.ts";
import { etag, expectedVersion, IfMatchHeaderSchema } from "../../../http/versioning.ts";
import { catalogReads } from "../cache.ts";
import {
  ProductHandleParamSchema,
  ProductInputSchema,
  ProductListQuerySchema,
  ProductPatchSchema,
  ProductSchema,
  PublishBodySchema,
  VersionBodySchema,
} from "../schemas.ts";
import { createProduct, deleteProduct, setProductStatus, updateProduct } from "./service.ts";

const { open, secured } = routesFor("catalog");
const productResponse = (description: string) => jsonResponse(description, ProductSchema);
const writeErrors = {
  404: errorResponse("No such product"),
  409: errorResponse("Stale version (the problem's `current` holds the product) or a rule refused the change"),
};

export const productRoutes = createRouter();

const listProductsRoute = open(
  {
    operationId: "listProducts",
    method: "get",
    path: "/products",
    summary: "Products, filtered, searched and sorted (anyone: published only; viewer and up: all)",
    request: { query: ProductListQuerySchema },
    responses: { 200: jsonResponse("A page of products", pageSchema(ProductSchema)), ...commonErrors },
  },
  "catalog:read",
);
productRoutes.openapi(listProductsRoute, (c) => cachedJson(c, catalogReads.products, c.req.valid("query")));

const createProductRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "createProduct",
    method: "post",
    path: "/products",
    summary: "Create a product with its variants; a status other than draft needs manager",
    request: { body: jsonBody(ProductInputSchema), headers: IdempotencyKeyHeaderSchema },
    responses: {
      201: productResponse("The product as stored (or, for a repeated Idempotency-Key, as first stored)"),
      409: errorResponse("A handle or SKU is taken, or a publishing rule refused"),
    },
  },
);
productRoutes.openapi(createProductRoute, async (c) => {
  const { result: product, replayed } = await createProduct(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("json"),
    c.req.valid("header")["idempotency-key"],
  );
  markReplayed(c, replayed);
  locateCreated(c, product.id);
  c.header("ETag", etag(product.version));
  return c.json(product, 201);
});

// Before /products/{id}, which would otherwise take "by-handle" for an id.
const getProductByHandleRoute = open(
  {
    operationId: "getProductByHandle",
    method: "get",
    path: "/products/by-handle/{handle}",
    summary: "One product with its variants, by its handle",
    request: { params: ProductHandleParamSchema },
    responses: {
      200: productResponse("The product"),
      404: errorResponse("No product has this handle"),
      ...commonErrors,
    },
  },
  "catalog:read",
);
productRoutes.openapi(getProductByHandleRoute, (c) =>
  cachedJson(c, catalogReads.productByHandle, { handle: c.req.valid("param").handle }),
);

const getProductRoute = open(
  {
    operationId: "getProduct",
    method: "get",
    path: "/products/{id}",
    summary: "One product with its variants",
    request: { params: IdParamSchema },
    responses: { 200: productResponse("The product"), 404: errorResponse("No such product"), ...commonErrors },
  },
  "catalog:read",
);
productRoutes.openapi(getProductRoute, (c) => cachedJson(c, catalogReads.product, { id: c.req.valid("param").id }));

const updateProductRoute = secured(
  { role: "staff", scope: "catalog:write" },
  {
    operationId: "updateProduct",
    method: "patch",
    path: "/products/{id}",
    summary: "Change a product's fields; If-Match or `version` guards against lost updates",
    request: { params: IdParamSchema, headers: IfMatchHeaderSchema, body: jsonBody(ProductPatchSchema) },
    responses: { 200: productResponse("The product after the change"), ...writeErrors },
  },
);
productRoutes.openapi(updateProductRoute, async (c) => {
  const { version, ...patch } = c.req.valid("json");
  const expected = expectedVersion(c.req.valid("header")["if-match"], version);
  const product = await updateProduct(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, expected, patch);
  c.header("ETag", etag(product.version));
  return c.json(product, 200);
});

const deleteProductRoute = secured(
  { role: "manager", scope: "catalog:write" },
  {
    operationId: "deleteProduct",
    method: "delete",
    path: "/products/{id}",
    summary: "Soft-delete a product and its variants",
    request: { params: IdParamSchema, headers: IfMatchHeaderSchema },
    responses: { 204: { description: "Deleted" }, ...writeErrors },
  },
);
productRoutes.openapi(deleteProductRoute, async (c) => {
  const expected = expectedVersion(c.req.valid("header")["if-match"], undefined);
  await deleteProduct(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, expected);
  return c.body(null, 204);
});

const statusChange = (action: "publish" | "unpublish" | "archive", summary: string) =>
  secured(
    { role: "manager", scope: "catalog:write" },
    {
      operationId: `${action}Product`,
      method: "post",
      path: `/products/{id}/${action}`,
      summary,
      request: {
        params: IdParamSchema,
        headers: IfMatchHeaderSchema,
        body: { required: false, content: { "application/json": { schema: VersionBodySchema } } },
      },
      responses: { 200: productResponse("The product after the change"), ...writeErrors },
    },
  );

const publishProductRoute = secured(
  { role: "manager", scope: "catalog:write" },
  {
    operationId: "publishProduct",
    method: "post",
    path: "/products/{id}/publish",
    summary: "Publish now, or at `publish_at`; needs at least one variant",
    request: {
      params: IdParamSchema,
      headers: IfMatchHeaderSchema,
      body: { required: false, content: { "application/json": { schema: PublishBodySchema } } },
    },
    responses: { 200: productResponse("The product after the change"), ...writeErrors },
  },
);
productRoutes.openapi(publishProductRoute, async (c) => {
  const body = c.req.valid("json");
  const version = expectedVersion(c.req.valid("header")["if-match"], body.version);
  const product = await setProductStatus(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, "publish", {
    publishAt: body.publish_at,
    version,
  });
  return c.json(product, 200);
});

const unpublishProductRoute = statusChange("unpublish", "Back to draft, ending any schedule");
productRoutes.openapi(unpublishProductRoute, async (c) => {
  const version = expectedVersion(c.req.valid("header")["if-match"], c.req.valid("json").version);
  const product = await setProductStatus(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, "unpublish", {
    version,
  });
  return c.json(product, 200);
});

const archiveProductRoute = statusChange("archive", "Archive");
productRoutes.openapi(archiveProductRoute, async (c) => {
  const version = expectedVersion(c.req.valid("header")["if-match"], c.req.valid("json").version);
  const product = await setProductStatus(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, "archive", {
    version,
  });
  return c.json(product, 200);
});
