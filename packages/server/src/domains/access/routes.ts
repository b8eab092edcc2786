import { createRoute, z } from "@hono/zod-openapi";
import { requireRole } from "../../http/middleware/authenticate.ts";
import { bearerAuth, commonErrors, createRouter, errorResponse } from "../../http/openapi.ts";
import { decodeCursor, PageQuerySchema, pageSchema, toPage } from "../../http/pagination.ts";
import { Problem } from "../../http/problems.ts";
import { MeSchema, SetRoleBodySchema, UserIdParamSchema, UserRoleSchema } from "./schemas.ts";
import { listUserRoles, revokeUserRole, setUserRole } from "./service.ts";

const getMe = createRoute({
  operationId: "getMe",
  method: "get",
  path: "/me",
  tags: ["access"],
  summary: "The calling user and their staff role",
  security: bearerAuth,
  responses: {
    200: { description: "The caller", content: { "application/json": { schema: MeSchema } } },
    401: commonErrors[401],
  },
});

const listRoles = createRoute({
  operationId: "listUserRoles",
  method: "get",
  path: "/users/roles",
  tags: ["access"],
  summary: "Every staff role assignment (admin and above)",
  security: bearerAuth,
  middleware: [requireRole("admin")] as const,
  request: { query: PageQuerySchema },
  responses: {
    200: {
      description: "A page of role assignments",
      content: { "application/json": { schema: pageSchema(UserRoleSchema) } },
    },
    ...commonErrors,
  },
});

const setRole = createRoute({
  operationId: "setUserRole",
  method: "put",
  path: "/users/{user_id}/role",
  tags: ["access"],
  summary: "Grant or change a user's staff role (admin and above; only an owner grants owner)",
  security: bearerAuth,
  middleware: [requireRole("admin")] as const,
  request: {
    params: UserIdParamSchema,
    body: { required: true, content: { "application/json": { schema: SetRoleBodySchema } } },
  },
  responses: {
    200: { description: "The role now held", content: { "application/json": { schema: UserRoleSchema } } },
    404: errorResponse("No such user"),
    ...commonErrors,
  },
});

const revokeRole = createRoute({
  operationId: "revokeUserRole",
  method: "delete",
  path: "/users/{user_id}/role",
  tags: ["access"],
  summary: "Revoke a user's staff role (admin and above)",
  security: bearerAuth,
  middleware: [requireRole("admin")] as const,
  request: { params: UserIdParamSchema },
  responses: { 204: { description: "Revoked" }, 404: errorResponse("No role to revoke"), ...commonErrors },
});

export const accessRoutes = createRouter()
  .openapi(getMe, (c) => {
    const caller = c.var.caller;
    if (caller.kind !== "user") throw new Problem("unauthenticated", "this endpoint needs a user's bearer token");
    return c.json({ user_id: caller.userId, app_role: caller.appRole }, 200);
  })
  .openapi(listRoles, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const after = cursor ? decodeCursor(cursor, z.uuid()) : undefined;
    const rows = await listUserRoles(c.var.services.db, c.var.caller.claims, { limit, after });
    return c.json(
      toPage(rows, limit, (row) => row.user_id),
      200,
    );
  })
  .openapi(setRole, async (c) => {
    const { user_id } = c.req.valid("param");
    const { app_role } = c.req.valid("json");
    return c.json(await setUserRole(c.var.services.db, c.var.caller.claims, user_id, app_role), 200);
  })
  .openapi(revokeRole, async (c) => {
    await revokeUserRole(c.var.services.db, c.var.caller.claims, c.req.valid("param").user_id);
    return c.body(null, 204);
  });
