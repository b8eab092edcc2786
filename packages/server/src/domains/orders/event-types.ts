import { z } from "@hono/zod-openapi";
import { TimestampSchema } from "../../http/schemas.ts";
import type { EventType } from "../../platform/event-type.ts";
import { OrderStatus } from "./schemas.ts";

// The orders' outbox topics, as migrations orders_api (place_order) and orders_transitions
// (order_record_transition) write them.

const OrderCreatedEventSchema = z
  .object({
    id: z.uuid(),
    number: z.string(),
    status: z.literal("pending"),
    currency: z.string().regex(/^[A-Z]{3}$/),
    subtotal_amount: z.number().int().min(0),
    payment_due_at: TimestampSchema,
    lines: z.array(z.object({ sku: z.string(), quantity: z.number().int().min(1) })).min(1),
  })
  .openapi("OrderCreatedEvent");

const OrderStatusChangedEventSchema = z
  .object({
    id: z.uuid(),
    number: z.string(),
    from: OrderStatus,
    to: OrderStatus,
    reason: z.string().nullable(),
    source: z.string().openapi({ description: "api, webhook:<source>, or reservation (the payment window elapsed)" }),
    version: z.number().int().min(2),
    payment_reference: z.string().nullable(),
    tracking_number: z.string().nullable(),
    carrier: z.string().nullable(),
  })
  .openapi("OrderStatusChangedEvent");

export const orderEventTypes: EventType[] = [
  {
    topic: "order.created",
    description: "An order was placed; its stock is held until payment_due_at.",
    data: OrderCreatedEventSchema,
  },
  {
    topic: "order.status_changed",
    description: "An order moved on: paid, shipped, delivered, cancelled or returned (with why and from where).",
    data: OrderStatusChangedEventSchema,
  },
];
