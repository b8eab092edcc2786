import { z } from "@hono/zod-openapi";
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
import { PageQuerySchema, pageSchema } from "../../../http/pagination.ts";
import { locateCreated } from "../../../http/public-path.ts";
import { routesFor } from "../../../http/route.ts";
import { catalogReads } from "../cache.ts";
import {
  BrandInputSchema,
  BrandPatchSchema,
  BrandSchema,
  CategoryInputSchema,
  CategoryNodeSchema,
  CategoryPatchSchema,
  CategorySchema,
} from "../schemas.ts";
import { createBrand, createCategory, deleteTaxonomy, updateBrand, updateCategory } from "./service.ts";

const { open, secured } = routesFor("catalog");

function crudRoutes<T extends z.ZodType, I extends z.ZodType, P extends z.ZodType>(
  name: "brand" | "category",
  plural: "brands" | "categories",
  schemas: { item: T; input: I; patch: P },
) {
  const Name = name[0]?.toUpperCase() + name.slice(1);
  const Plural = plural[0]?.toUpperCase() + plural.slice(1);
  const errors = {
    404: errorResponse(`No such ${name}`),
    409: errorResponse(name === "category" ? "Handle taken, or the category still has subcategories" : "Handle taken"),
  };
  return {
    list: open(
      {
        operationId: `list${Plural}`,
        method: "get",
        path: `/${plural}`,
        summary: `${Plural} by handle (anyone)`,
        request: { query: PageQuerySchema },
        responses: { 200: jsonResponse(`A page of ${plural}`, pageSchema(schemas.item)), ...commonErrors },
      },
      "catalog:read",
    ),
    get: open(
      {
        operationId: `get${Name}`,
        method: "get",
        path: `/${plural}/{id}`,
        summary: `One ${name} (anyone)`,
        request: { params: IdParamSchema },
        responses: { 200: jsonResponse(`The ${name}`, schemas.item), ...errors, ...commonErrors },
      },
      "catalog:read",
    ),
    create: secured(
      { role: "staff", scope: "catalog:write" },
      {
        operationId: `create${Name}`,
        method: "post",
        path: `/${plural}`,
        summary: `Create a ${name}; handle from the name when absent`,
        request: { body: jsonBody(schemas.input), headers: IdempotencyKeyHeaderSchema },
        responses: {
          201: jsonResponse(`The ${name} (for a repeated Idempotency-Key, as first created)`, schemas.item),
          ...errors,
        },
      },
    ),
    update: secured(
      { role: "staff", scope: "catalog:write" },
      {
        operationId: `update${Name}`,
        method: "patch",
        path: `/${plural}/{id}`,
        summary: `Change a ${name}${name === "category" ? "; moving under a descendant is refused" : ""}`,
        request: { params: IdParamSchema, body: jsonBody(schemas.patch) },
        responses: { 200: jsonResponse(`The ${name} after the change`, schemas.item), ...errors },
      },
    ),
    delete: secured(
      { role: "manager", scope: "catalog:write" },
      {
        operationId: `delete${Name}`,
        method: "delete",
        path: `/${plural}/{id}`,
        summary: `Delete a ${name}; its products keep no ${name}`,
        request: { params: IdParamSchema },
        responses: { 204: { description: "Deleted" }, ...errors },
      },
    ),
  };
}

const brands = crudRoutes("brand", "brands", { item: BrandSchema, input: BrandInputSchema, patch: BrandPatchSchema });
const categories = crudRoutes("category", "categories", {
  item: CategorySchema,
  input: CategoryInputSchema,
  patch: CategoryPatchSchema,
});

const getCategoryTreeRoute = open(
  {
    operationId: "getCategoryTree",
    method: "get",
    path: "/categories/tree",
    summary: "The whole category tree (anyone)",
    responses: {
      200: jsonResponse("Root categories with their children", z.object({ data: z.array(CategoryNodeSchema) })),
      ...commonErrors,
    },
  },
  "catalog:read",
);

export const taxonomyRoutes = createRouter()
  .openapi(getCategoryTreeRoute, (c) => cachedJson(c, catalogReads.categoryTree, {}))
  .openapi(brands.list, (c) => cachedJson(c, catalogReads.brands, c.req.valid("query")))
  .openapi(brands.get, (c) => cachedJson(c, catalogReads.brand, { id: c.req.valid("param").id }))
  .openapi(brands.create, async (c) => {
    const { result, replayed } = await createBrand(
      c.var.services.db,
      c.var.caller.claims,
      c.req.valid("json"),
      c.req.valid("header")["idempotency-key"],
    );
    markReplayed(c, replayed);
    locateCreated(c, result.id);
    return c.json(result, 201);
  })
  .openapi(brands.update, async (c) =>
    c.json(
      await updateBrand(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, c.req.valid("json")),
      200,
    ),
  )
  .openapi(brands.delete, async (c) => {
    await deleteTaxonomy(c.var.services.db, c.var.caller.claims, "brands", c.req.valid("param").id);
    return c.body(null, 204);
  })
  .openapi(categories.list, (c) => cachedJson(c, catalogReads.categories, c.req.valid("query")))
  .openapi(categories.get, (c) => cachedJson(c, catalogReads.category, { id: c.req.valid("param").id }))
  .openapi(categories.create, async (c) => {
    const { result, replayed } = await createCategory(
      c.var.services.db,
      c.var.caller.claims,
      c.req.valid("json"),
      c.req.valid("header")["idempotency-key"],
    );
    markReplayed(c, replayed);
    locateCreated(c, result.id);
    return c.json(result, 201);
  })
  .openapi(categories.update, async (c) =>
    c.json(
      await updateCategory(c.var.services.db, c.var.caller.claims, c.req.valid("param").id, c.req.valid("json")),
      200,
    ),
  )
  .openapi(categories.delete, async (c) => {
    await deleteTaxonomy(c.var.services.db, c.var.caller.claims, "categories", c.req.valid("param").id);
    return c.body(null, 204);
  });
