import { createRoute } from "@hono/zod-openapi";
import { cachedJson } from "../../../http/cache.ts";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { requireRole } from "../../../http/middleware/authenticate.ts";
import { bearerAuth, commonErrors, createRouter, errorResponse, IdParamSchema } from "../../../http/openapi.ts";
import { pageSchema } from "../../../http/pagination.ts";
import { locateCreated } from "../../../http/public-path.ts";
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

const json = <T>(schema: T) => ({ content: { "application/json": { schema } } });
const productResponse = (description: string) => ({ description, ...json(ProductSchema) });
const writeErrors = {
  ...commonErrors,
  404: errorResponse("No such product"),
  409: errorResponse("Stale version (the problem's `current` holds the product) or a rule refused the change"),
};

const listProductsRoute = createRoute({
  operationId: "listProducts",
  method: "get",
  path: "/products",
  tags: ["catalog"],
  summary: "Products, filtered, searched and sorted (anyone: published only; viewer and up: all)",
  request: { query: ProductListQuerySchema },
  responses: { 200: { description: "A page of products", ...json(pageSchema(ProductSchema)) }, ...commonErrors },
});

const createProductRoute = createRoute({
  operationId: "createProduct",
  method: "post",
  path: "/products",
  tags: ["catalog"],
  summary: "Create a product with its variants (staff and up; a status other than draft needs manager)",
  security: bearerAuth,
  middleware: [requireRole("staff")] as const,
  request: { body: { required: true, ...json(ProductInputSchema) }, headers: IdempotencyKeyHeaderSchema },
  responses: {
    201: productResponse("The product as stored (or, for a repeated Idempotency-Key, as first stored)"),
    ...commonErrors,
    409: errorResponse("A handle or SKU is taken, or a publishing rule refused"),
  },
});

const getProductRoute = createRoute({
  operationId: "getProduct",
  method: "get",
  path: "/products/{id}",
  tags: ["catalog"],
  summary: "One product with its variants",
  request: { params: IdParamSchema },
  responses: { 200: productResponse("The product"), 404: errorResponse("No such product"), ...commonErrors },
});

const getProductByHandleRoute = createRoute({
  operationId: "getProductByHandle",
  method: "get",
  path: "/products/by-handle/{handle}",
  tags: ["catalog"],
  summary: "One product with its variants, by its handle",
  request: { params: ProductHandleParamSchema },
  responses: { 200: productResponse("The product"), 404: errorResponse("No product has this handle"), ...commonErrors },
});

const updateProductRoute = createRoute({
  operationId: "updateProduct",
  method: "patch",
  path: "/products/{id}",
  tags: ["catalog"],
  summary: "Change a product's fields (staff and up); If-Match or `version` guards against lost updates",
  security: bearerAuth,
  middleware: [requireRole("staff")] as const,
  request: {
    params: IdParamSchema,
    headers: IfMatchHeaderSchema,
    body: { required: true, ...json(ProductPatchSchema) },
  },
  responses: { 200: productResponse("The product after the change"), ...writeErrors },
});

const deleteProductRoute = createRoute({
  operationId: "deleteProduct",
  method: "delete",
  path: "/products/{id}",
  tags: ["catalog"],
  summary: "Soft-delete a product and its variants (manager and up)",
  security: bearerAuth,
  middleware: [requireRole("manager")] as const,
  request: { params: IdParamSchema, headers: IfMatchHeaderSchema },
  responses: { 204: { description: "Deleted" }, ...writeErrors },
});

const statusRoute = (action: "publish" | "unpublish" | "archive", summary: string) =>
  createRoute({
    operationId: `${action}Product`,
    method: "post",
    path: `/products/{id}/${action}`,
    tags: ["catalog"],
    summary,
    security: bearerAuth,
    middleware: [requireRole("manager")] as const,
    request: {
      params: IdParamSchema,
      headers: IfMatchHeaderSchema,
      body: { required: false, ...json(action === "publish" ? PublishBodySchema : VersionBodySchema) },
    },
    responses: { 200: productResponse("The product after the change"), ...writeErrors },
  });

const publishRoute = statusRoute(
  "publish",
  "Publish now, or at `publish_at` (manager and up); needs at least one variant",
);
const unpublishRoute = statusRoute("unpublish", "Back to draft, ending any schedule (manager and up)");
const archiveRoute = statusRoute("archive", "Archive (manager and up)");

export const productRoutes = createRouter()
  .openapi(listProductsRoute, (c) => cachedJson(c, catalogReads.products, c.req.valid("query")))
  .openapi(createProductRoute, async (c) => {
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
  })
  .openapi(getProductByHandleRoute, (c) =>
    cachedJson(c, catalogReads.productByHandle, { handle: c.req.valid("param").handle }),
  )
  .openapi(getProductRoute, (c) => cachedJson(c, catalogReads.product, { id: c.req.valid("param").id }))
  .openapi(updateProductRoute, async (c) => {
    const { version, ...patch } = c.req.valid("json");
    const expected = expectedVersion(c.req.valid("header")["if-match"], version);
    const product = await updateProduct(
      c.var.services.db,
      c.var.caller.claims,
      c.req.valid("param").id,
      expected,
      patch,
    );
    c.header("ETag", etag(product.version));
    return c.json(product, 200);
  })
  .openapi(deleteProductRoute, async (c) => {
    const expected = expectedVersion(c.req.valid("header")["if-match"], undefined);
    await deleteProduct(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, expected);
    return c.body(null, 204);
  })
  .openapi(publishRoute, async (c) => {
    const body: { publish_at?: string; version?: number } = c.req.valid("json");
    const version = expectedVersion(c.req.valid("header")["if-match"], body.version);
    const product = await setProductStatus(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, "publish", {
      publishAt: body.publish_at,
      version,
    });
    return c.json(product, 200);
  })
  .openapi(unpublishRoute, async (c) => {
    const version = expectedVersion(c.req.valid("header")["if-match"], c.req.valid("json").version);
    const product = await setProductStatus(
      c.var.services.db,
      c.var.caller.claims,
      c.req.valid("param").id,
      "unpublish",
      {
        version,
      },
    );
    return c.json(product, 200);
  })
  .openapi(archiveRoute, async (c) => {
    const version = expectedVersion(c.req.valid("header")["if-match"], c.req.valid("json").version);
    const product = await setProductStatus(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, "archive", {
      version,
    });
    return c.json(product, 200);
  });
