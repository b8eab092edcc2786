import { z } from "@hono/zod-openapi";
import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { createRouter, errorResponse, jsonBody, jsonResponse } from "../../../http/openapi.ts";
import { decodeCursor, PageQuerySchema, pageSchema, toPage } from "../../../http/pagination.ts";
import { locateCreated } from "../../../http/public-path.ts";
import { routesFor } from "../../../http/route.ts";
import { etag, expectedVersion, IfMatchHeaderSchema } from "../../../http/versioning.ts";
import { CreateLocationSchema, LocationCodeParamSchema, LocationSchema, UpdateLocationSchema } from "../schemas.ts";
import { createLocation, getLocation, listLocations, updateLocation } from "./service.ts";

const { secured } = routesFor("inventory");

export const locationRoutes = createRouter();

const createLocationRoute = secured(
  { role: "manager", scope: "inventory:write" },
  {
    operationId: "createLocation",
    method: "post",
    path: "/locations",
    summary: "Add a warehouse or shop; it gets an empty level for every variant",
    request: { body: jsonBody(CreateLocationSchema), headers: IdempotencyKeyHeaderSchema },
    responses: {
      201: jsonResponse("The new location (for a repeated Idempotency-Key, as first created)", LocationSchema),
      409: errorResponse("A location with this code exists"),
    },
  },
);
locationRoutes.openapi(createLocationRoute, async (c) => {
  const { result: location, replayed } = await createLocation(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("json"),
    c.req.valid("header")["idempotency-key"],
  );
  markReplayed(c, replayed);
  locateCreated(c, location.code);
  c.header("ETag", etag(location.version));
  return c.json(location, 201);
});

const listLocationsRoute = secured(
  { role: "viewer", scope: "inventory:read" },
  {
    operationId: "listLocations",
    method: "get",
    path: "/locations",
    summary: "Locations by code",
    request: { query: PageQuerySchema },
    responses: { 200: jsonResponse("A page of locations", pageSchema(LocationSchema)) },
  },
);
locationRoutes.openapi(listLocationsRoute, async (c) => {
  const { limit, cursor } = c.req.valid("query");
  const after = cursor ? decodeCursor(cursor, z.string()) : undefined;
  const rows = await listLocations(c.var.services.db, c.var.caller.claims, { limit, after });
  return c.json(
    toPage(rows, limit, (row) => row.code),
    200,
  );
});

const getLocationRoute = secured(
  { role: "viewer", scope: "inventory:read" },
  {
    operationId: "getLocation",
    method: "get",
    path: "/locations/{code}",
    summary: "One location",
    request: { params: LocationCodeParamSchema },
    responses: {
      200: jsonResponse("The location (its ETag is its version)", LocationSchema),
      404: errorResponse("Unknown location"),
    },
  },
);
locationRoutes.openapi(getLocationRoute, async (c) => {
  const location = await getLocation(c.var.services.db, c.var.caller.claims, c.req.valid("param").code);
  c.header("ETag", etag(location.version));
  return c.json(location, 200);
});

const updateLocationRoute = secured(
  { role: "manager", scope: "inventory:write" },
  {
    operationId: "updateLocation",
    method: "patch",
    path: "/locations/{code}",
    summary:
      "Change a location: name, priority, active, fulfils_online, ...; If-Match or `version` guards against lost updates",
    request: { params: LocationCodeParamSchema, headers: IfMatchHeaderSchema, body: jsonBody(UpdateLocationSchema) },
    responses: {
      200: jsonResponse("The location (its ETag is its version)", LocationSchema),
      404: errorResponse("Unknown location"),
      409: errorResponse("Version conflict: the location changed since that version; `current` is how it is now"),
    },
  },
);
locationRoutes.openapi(updateLocationRoute, async (c) => {
  const { version, ...patch } = c.req.valid("json");
  const expected = expectedVersion(c.req.valid("header")["if-match"], version);
  const location = await updateLocation(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("param").code,
    patch,
    expected,
  );
  c.header("ETag", etag(location.version));
  return c.json(location, 200);
});
