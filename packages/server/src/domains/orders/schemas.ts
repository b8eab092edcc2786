import { z } from "@hono/zod-openapi";

const OrderStatus = z.enum(["pending", "paid", "shipped", "delivered", "cancelled"]);
const TargetStatus = z.enum(["paid", "shipped", "delivered", "cancelled"]);
const Timestamp = z.iso.datetime();

export const OrderLineSchema = z.object({
  line_no: z.number().int(),
  variant_id: z.uuid(),
  sku: z.string(),
  title: z.string(),
  quantity: z.number().int(),
  unit_price_amount: z.number().int().openapi({ description: "Minor units, as priced when the order was placed" }),
  line_total_amount: z.number().int(),
});

export const OrderSchema = z
  .object({
    id: z.uuid(),
    number: z.string().openapi({ example: "SK-100001" }),
    status: OrderStatus,
    currency: z.string(),
    subtotal_amount: z.number().int(),
    customer: z.object({ email: z.string(), name: z.string().nullable() }),
    shipping_address: z.record(z.string(), z.unknown()).nullable(),
    note: z.string().nullable(),
    lines: z.array(OrderLineSchema),
    reservation_id: z.uuid(),
    payment_due_at: Timestamp.openapi({ description: "A pending order not paid by then is cancelled" }),
    tracking_number: z.string().nullable(),
    carrier: z.string().nullable(),
    cancel_reason: z.string().nullable(),
    version: z.number().int().openapi({ description: "Bumped by every transition; send it back as If-Match" }),
    created_at: Timestamp,
    updated_at: Timestamp,
    paid_at: Timestamp.nullable(),
    shipped_at: Timestamp.nullable(),
    delivered_at: Timestamp.nullable(),
    cancelled_at: Timestamp.nullable(),
    history: z.array(
      z.object({
        from: OrderStatus.nullable(),
        to: OrderStatus,
        reason: z.string().nullable(),
        source: z.string().openapi({ description: "api, webhook:<source> or reservation" }),
        actor_id: z.uuid().nullable(),
        at: Timestamp,
      }),
    ),
  })
  .openapi("Order");

export const PlaceOrderSchema = z
  .object({
    items: z
      .array(
        z
          .object({
            sku: z.string().min(1).max(64),
            quantity: z.number().int().min(1).max(10_000),
            location_code: z
              .string()
              .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/)
              .transform((code) => code.toLowerCase())
              .optional()
              .openapi({ type: "string", description: "Ship this line from one location (default: by priority)" }),
          })
          .strict(),
      )
      .min(1)
      .max(100),
    customer: z.object({ email: z.email().max(320), name: z.string().trim().min(1).max(200).optional() }).strict(),
    shipping_address: z.record(z.string(), z.unknown()).optional(),
    note: z.string().max(2000).optional(),
    payment_ttl_seconds: z
      .number()
      .int()
      .min(60)
      .max(604_800)
      .default(3600)
      .openapi({ description: "How long the stock is held for payment" }),
  })
  .strict()
  .openapi("PlaceOrder");

export const SetOrderStatusSchema = z
  .object({
    status: TargetStatus,
    reason: z.string().trim().min(1).max(1000).optional(),
    tracking_number: z.string().trim().min(1).max(200).optional(),
    carrier: z.string().trim().min(1).max(100).optional(),
    version: z.number().int().min(1).optional(),
  })
  .strict()
  .openapi("SetOrderStatus");

export const OrderListQuerySchema = z.object({
  status: OrderStatus.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(512).optional(),
});

/** The pms-order inbound webhook: a status change for an order named by id or number. */
export const PmsOrderSchema = z
  .object({
    order_id: z.uuid().optional(),
    order_number: z
      .string()
      .regex(/^SK-[0-9]+$/)
      .optional(),
    status: TargetStatus,
    reason: z.string().trim().min(1).max(1000).optional(),
    tracking_number: z.string().trim().min(1).max(200).optional(),
    carrier: z.string().trim().min(1).max(100).optional(),
  })
  .refine((message) => (message.order_id === undefined) !== (message.order_number === undefined), {
    message: "name the order by exactly one of order_id and order_number",
    path: ["order_id"],
  })
  .openapi("PmsOrderMessage");

export type Order = z.infer<typeof OrderSchema>;
export type PlaceOrder = z.infer<typeof PlaceOrderSchema>;
export type SetOrderStatus = z.infer<typeof SetOrderStatusSchema>;
export type PmsOrder = z.infer<typeof PmsOrderSchema>;
