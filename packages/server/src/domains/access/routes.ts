import { z } from "@hono/zod-openapi";
import { bearerAuth, commonErrors, createRouter, errorResponse, jsonBody, jsonResponse } from "../../http/openapi.ts";
import { decodeCursor, PageQuerySchema, pageSchema, toPage } from "../../http/pagination.ts";
import { Problem } from "../../http/problems.ts";
import { routesFor } from "../../http/route.ts";
import { MeSchema, SetRoleBodySchema, UserIdParamSchema, UserRoleSchema } from "./schemas.ts";
import { listUserRoles, revokeUserRole, setUserRole } from "./service.ts";

const { open, secured } = routesFor("access");

export const accessRoutes = createRouter();

// Any signed-in user, staff or customer, may ask who they are: a bearer token but no role.
const getMeRoute = open({
  operationId: "getMe",
  method: "get",
  path: "/me",
  summary: "The calling user and their staff role",
  security: bearerAuth,
  responses: { 200: jsonResponse("The caller", MeSchema), 401: commonErrors[401] },
});
accessRoutes.openapi(getMeRoute, (c) => {
  const caller = c.var.caller;
  if (caller.kind !== "user") throw new Problem("unauthenticated", "this endpoint needs a user's bearer token");
  return c.json({ user_id: caller.userId, app_role: caller.appRole }, 200);
});

const listUserRolesRoute = secured(
  { role: "admin", scope: "users:manage" },
  {
    operationId: "listUserRoles",
    method: "get",
    path: "/users/roles",
    summary: "Every staff role assignment",
    request: { query: PageQuerySchema },
    responses: { 200: jsonResponse("A page of role assignments", pageSchema(UserRoleSchema)) },
  },
);
accessRoutes.openapi(listUserRolesRoute, async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const after = cursor ? decodeCursor(cursor, z.uuid()) : undefined;
  const rows = await listUserRoles(c.var.services.db, c.var.caller.claims, { limit, after });
  return c.json(
    toPage(rows, limit, (row) => row.user_id),
    200,
  );
});

const setUserRoleRoute = secured(
  { role: "admin", scope: "users:manage" },
  {
    operationId: "setUserRole",
    method: "put",
    path: "/users/{user_id}/role",
    summary: "Grant or change a user's staff role; only an owner grants owner",
    request: { params: UserIdParamSchema, body: jsonBody(SetRoleBodySchema) },
    responses: { 200: jsonResponse("The role now held", UserRoleSchema), 404: errorResponse("No such user") },
  },
);
accessRoutes.openapi(setUserRoleRoute, async (c) => {
  const { user_id } = c.req.valid("param");
  const { app_role } = c.req.valid("json");
  return c.json(await setUserRole(c.var.services.db, c.var.caller.claims, user_id, app_role), 200);
});

const revokeUserRoleRoute = secured(
  { role: "admin", scope: "users:manage" },
  {
    operationId: "revokeUserRole",
    method: "delete",
    path: "/users/{user_id}/role",
    summary: "Revoke a user's staff role",
    request: { params: UserIdParamSchema },
    responses: { 204: { description: "Revoked" }, 404: errorResponse("No role to revoke") },
  },
);
accessRoutes.openapi(revokeUserRoleRoute, async (c) => {
  await revokeUserRole(c.var.services.db, c.var.caller.claims, c.req.valid("param").user_id);
  return c.body(null, 204);
});
