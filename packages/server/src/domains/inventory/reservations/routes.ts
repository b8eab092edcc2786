import { IdempotencyKeyHeaderSchema, markReplayed } from "../../../http/idempotency.ts";
import { createRouter, errorResponse, IdParamSchema, jsonBody, jsonResponse } from "../../../http/openapi.ts";
import { locateCreated } from "../../../http/public-path.ts";
import { routesFor } from "../../../http/route.ts";
import { ReservationSchema, ReserveSchema } from "../schemas.ts";
import { commitReservation, getReservation, releaseReservation, reserveStock } from "../service.ts";

const { secured } = routesFor("inventory");
const notFound = errorResponse("Unknown reservation");

export const reservationRoutes = createRouter();

const createReservationRoute = secured(
  { role: "staff", scope: "inventory:write" },
  {
    operationId: "createReservation",
    method: "post",
    path: "/inventory/reservations",
    summary: "Reserve every line or none",
    request: { body: jsonBody(ReserveSchema), headers: IdempotencyKeyHeaderSchema },
    responses: {
      201: jsonResponse("The active reservation; a line may be split across locations", ReservationSchema),
      409: errorResponse(
        "Insufficient stock: `shortages` names each short sku with `requested` and `available`; nothing is held",
      ),
    },
  },
);
reservationRoutes.openapi(createReservationRoute, async (c) => {
  const key = c.req.valid("header")["idempotency-key"];
  const { result: reservation, replayed } = await reserveStock(
    c.var.services.db,
    c.var.caller.claims,
    c.req.valid("json"),
    key,
  );
  markReplayed(c, replayed);
  locateCreated(c, String(reservation.id));
  return c.json(reservation, 201);
});

/** Releasing and committing take the same request and answer the reservation after the change. */
const reservationActionRoute = (action: "release" | "commit") =>
  secured(
    { role: "staff", scope: "inventory:write" },
    {
      operationId: `${action}Reservation`,
      method: "post",
      path: `/inventory/reservations/{id}/${action}`,
      summary:
        action === "release"
          ? "Release a reservation; a repeat changes nothing"
          : "Commit a reservation: its units become sale movements; a repeat changes nothing",
      request: { params: IdParamSchema },
      responses: {
        200: jsonResponse("The reservation", ReservationSchema),
        404: notFound,
        409: errorResponse(
          action === "release"
            ? "The reservation is committed, or it holds an order's stock (cancel the order instead)"
            : "The reservation is released or expired, or it holds an order's stock (ship the order instead)",
        ),
      },
    },
  );

const releaseReservationRoute = reservationActionRoute("release");
reservationRoutes.openapi(releaseReservationRoute, async (c) =>
  c.json(await releaseReservation(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
);

const commitReservationRoute = reservationActionRoute("commit");
reservationRoutes.openapi(commitReservationRoute, async (c) =>
  c.json(await commitReservation(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
);

const getReservationRoute = secured(
  { role: "viewer", scope: "inventory:read" },
  {
    operationId: "getReservation",
    method: "get",
    path: "/inventory/reservations/{id}",
    summary: "One reservation",
    request: { params: IdParamSchema },
    responses: { 200: jsonResponse("The reservation", ReservationSchema), 404: notFound },
  },
);
reservationRoutes.openapi(getReservationRoute, async (c) =>
  c.json(await getReservation(c.var.services.db, c.var.caller.claims, c.req.valid("param").id), 200),
);
