import { z } from "@hono/zod-openapi";
import { TimestampSchema } from "../../http/schemas.ts";
import type { EventType } from "../../platform/event-type.ts";

// Inventory's outbox topics, as migrations stock_levels and reorder_on_policy_change
// (private.stock_levels_emit_events, after every change of a level's on_hand, reserved or reorder
// policy) and reservations write them.

/** Which level: every stock.* event starts with these. */
const level = {
  variant_id: z.uuid(),
  sku: z.string(),
  location_id: z.uuid(),
  location_code: z.string(),
};

const LevelNumbersSchema = z.object({
  on_hand: z.number().int().min(0),
  reserved: z.number().int().min(0),
  available: z.number().int().openapi({ description: "on_hand - reserved; negative when backordered" }),
});

const StockChangedEventSchema = z
  .object({ ...level, before: LevelNumbersSchema, after: LevelNumbersSchema })
  .openapi("StockChangedEvent");

const StockOutEventSchema = z.object({ ...level, available: z.number().int().max(0) }).openapi("StockOutEvent");

const StockBackInEventSchema = z.object({ ...level, available: z.number().int().min(1) }).openapi("StockBackInEvent");

const StockLowEventSchema = z
  .object({ ...level, available: z.number().int().min(1), reorder_point: z.number().int().min(1) })
  .openapi("StockLowEvent");

const StockReorderNeededEventSchema = z
  .object({
    ...level,
    suggestion_id: z
      .uuid()
      .openapi({ description: "The open reorder suggestion (GET /inventory/reorder-suggestions)" }),
    available: z.number().int(),
    reorder_point: z.number().int().min(0),
    reorder_quantity: z.number().int().min(1).openapi({ description: "The suggested quantity to order" }),
  })
  .openapi("StockReorderNeededEvent");

const ReferenceType = z.enum(["cart", "order", "external"]);

const ReservationClosedEventSchema = z
  .object({
    id: z.uuid().openapi({ description: "The reservation" }),
    reference_type: ReferenceType.nullable(),
    reference_id: z.string().nullable(),
  })
  .openapi("ReservationClosedEvent");

// private.reservation_json: the reservation as GET /inventory/reservations/{id} answers it
// (timestamps through private.iso: UTC with milliseconds and a Z).
const ReservationExpiredEventSchema = z
  .object({
    id: z.uuid(),
    status: z.literal("expired"),
    expires_at: TimestampSchema,
    reference: z.object({ type: ReferenceType, id: z.string() }).nullable(),
    items: z
      .array(z.object({ sku: z.string(), location_code: z.string(), quantity: z.number().int().min(1) }))
      .openapi({ description: "What it held; the units are available again" }),
    created_at: TimestampSchema,
    closed_at: TimestampSchema,
  })
  .openapi("ReservationExpiredEvent");

export const inventoryEventTypes: EventType[] = [
  {
    topic: "stock.changed",
    description: "A level's on_hand or reserved changed (a movement or a reservation); before and after.",
    data: StockChangedEventSchema,
  },
  {
    topic: "stock.out",
    description: "A level's available stock fell from above zero to zero or below.",
    data: StockOutEventSchema,
  },
  {
    topic: "stock.back_in",
    description: "A level's available stock rose from zero or below to above zero.",
    data: StockBackInEventSchema,
  },
  {
    topic: "stock.low",
    description:
      "A level became low (available at or below its reorder point, by a stock change or a raised point), and some is still available.",
    data: StockLowEventSchema,
  },
  {
    topic: "stock.reorder_needed",
    description: "A level became low, or its policy changed while low, and a reorder suggestion was opened.",
    data: StockReorderNeededEventSchema,
  },
  {
    topic: "reservation.released",
    description: "An active reservation was released; its units are available again.",
    data: ReservationClosedEventSchema,
  },
  {
    topic: "reservation.committed",
    description: "An active reservation was committed; its units left as sale movements.",
    data: ReservationClosedEventSchema,
  },
  {
    topic: "reservation.expired",
    description: "An active reservation passed expires_at and was expired; its units are available again.",
    data: ReservationExpiredEventSchema,
  },
];
