import { z } from "@hono/zod-openapi";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../http/idempotency.ts";
import { createRouter, errorResponse, IdParamSchema, jsonBody, jsonResponse } from "../../http/openapi.ts";
import { decodeCursor, PageQuerySchema, pageSchema, toPage } from "../../http/pagination.ts";
import { locateCreated } from "../../http/public-path.ts";
import { routesFor } from "../../http/route.ts";
import { ApiKeySchema, CreateApiKeyBodySchema, CreatedApiKeySchema, RotateApiKeyBodySchema } from "./schemas.ts";
import * as service from "./service.ts";
import { apiKeyUsageRoutes } from "./usage/routes.ts";

const { secured } = routesFor("api-keys");
const access = { role: "admin", scope: "api_keys:manage" } as const;
const notFound = errorResponse("No such API key");

export const apiKeyRoutes = createRouter();

const createApiKeyRoute = secured(access, {
  operationId: "createApiKey",
  method: "post",
  path: "/api-keys",
  summary: "Create an API key; the response carries the key and its signing secret, shown only this once",
  description:
    "The role cap may not exceed the caller's role; a key calling may only hand on scopes it holds. A repeated Idempotency-Key answers the same key without its secrets.",
  request: { body: jsonBody(CreateApiKeyBodySchema), headers: IdempotencyKeyHeaderSchema },
  responses: { 201: jsonResponse("The key, with its secrets this once", CreatedApiKeySchema) },
});
apiKeyRoutes.openapi(createApiKeyRoute, async (c) => {
  const { result, replayed } = await service.createApiKey(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("json"),
    c.req.valid("header")["idempotency-key"],
  );
  markReplayed(c, replayed);
  locateCreated(c, result.id);
  return c.json(result, 201);
});

const CursorSchema = z.object({ created_at: z.string().max(64), id: z.uuid() });

const listApiKeysRoute = secured(access, {
  operationId: "listApiKeys",
  method: "get",
  path: "/api-keys",
  summary: "Every API key, oldest first, without secrets",
  request: { query: PageQuerySchema },
  responses: { 200: jsonResponse("A page of keys", pageSchema(ApiKeySchema)) },
});
apiKeyRoutes.openapi(listApiKeysRoute, async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const after = cursor ? decodeCursor(cursor, CursorSchema) : undefined;
  const { keys, positions } = await service.listApiKeys(c.var.services.db, c.var.caller.claims, { limit, after });
  const page = toPage(
    keys.map((key, at) => ({ key, position: positions[at] })),
    limit,
    (row) => row.position,
  );
  return c.json({ data: page.data.map((row) => row.key), next_cursor: page.next_cursor }, 200);
});

const getApiKeyRoute = secured(access, {
  operationId: "getApiKey",
  method: "get",
  path: "/api-keys/{id}",
  summary: "One API key, without its secrets",
  request: { params: IdParamSchema },
  responses: { 200: jsonResponse("The key", ApiKeySchema), 404: notFound },
});
apiKeyRoutes.openapi(getApiKeyRoute, async (c) =>
  c.json(await service.getApiKey(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
);

const rotateApiKeyRoute = secured(access, {
  operationId: "rotateApiKey",
  method: "post",
  path: "/api-keys/{id}/rotate",
  summary: "Issue the successor of an active key; the old key keeps working for the overlap, then stops",
  request: {
    params: IdParamSchema,
    body: { required: false, content: { "application/json": { schema: RotateApiKeyBodySchema } } },
  },
  responses: {
    200: jsonResponse("The successor, with its secrets this once", CreatedApiKeySchema),
    404: notFound,
    409: errorResponse("The key is not active (already rotated, expired or revoked)"),
  },
});
apiKeyRoutes.openapi(rotateApiKeyRoute, async (c) => {
  // The body is optional: without one the validator answers `{}`.
  const body = c.req.valid("json");
  const overlap = body.overlap_seconds ?? c.var.services.config.apiKeys.rotationOverlapSeconds;
  return c.json(
    await service.rotateApiKey(
      c.var.services.db,
      c.var.caller.claims,
      c.req.valid("param").id,
      overlap,
      body.expires_at,
    ),
    200,
  );
});

const revokeApiKeyRoute = secured(access, {
  operationId: "revokeApiKey",
  method: "delete",
  path: "/api-keys/{id}",
  summary: "Revoke an API key at once (overlap or not); it stays listed as revoked",
  request: { params: IdParamSchema },
  responses: { 204: { description: "Revoked" }, 404: notFound },
});
apiKeyRoutes.openapi(revokeApiKeyRoute, async (c) => {
  await service.revokeApiKey(c.var.services.db, c.var.caller.claims, c.req.valid("param").id);
  return c.body(null, 204);
});

// GET /api-keys/{id}/usage: requests per key, day, route and status (usage/).
apiKeyRoutes.route("/", apiKeyUsageRoutes);
