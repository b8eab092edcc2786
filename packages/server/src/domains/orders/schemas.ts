import { z } from "@hono/zod-openapi";
import { PageQuerySchema } from "../../http/pagination.ts";
import { SkuSchema, TimestampSchema } from "../../http/schemas.ts";

export const OrderStatus = z.enum(["pending", "paid", "shipped", "delivered", "cancelled", "returned"]);
const TargetStatus = z.enum(["paid", "shipped", "delivered", "cancelled", "returned"]);

const text = (max: number) => z.string().trim().min(1).max(max);

export const AddressSchema = z
  .object({
    name: text(200).optional(),
    company: text(200).optional(),
    line1: text(200),
    line2: text(200).optional(),
    city: text(100),
    region: text(100).optional(),
    postal_code: text(20).optional(),
    country: z
      .string()
      .regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code")
      .openapi({ example: "DE" }),
    phone: text(40).optional(),
  })
  .strict()
  .openapi("Address");

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
    shipping_address: AddressSchema.nullable(),
    note: z.string().nullable(),
    lines: z.array(OrderLineSchema),
    reservation_id: z.uuid(),
    payment_due_at: TimestampSchema.openapi({ description: "A pending order not paid by then is cancelled" }),
    payment_reference: z.string().nullable(),
    tracking_number: z.string().nullable(),
    carrier: z.string().nullable(),
    cancel_reason: z.string().nullable(),
    version: z.number().int().openapi({ description: "Bumped by every transition; send it back as If-Match" }),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
    paid_at: TimestampSchema.nullable(),
    shipped_at: TimestampSchema.nullable(),
    delivered_at: TimestampSchema.nullable(),
    cancelled_at: TimestampSchema.nullable(),
    returned_at: TimestampSchema.nullable(),
    history: z.array(
      z.object({
        from: OrderStatus.nullable(),
        to: OrderStatus,
        reason: z.string().nullable(),
        source: z.string().openapi({ description: "api, webhook:<source> or reservation" }),
        actor_id: z.uuid().nullable(),
        at: TimestampSchema,
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
            sku: SkuSchema,
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
    shipping_address: AddressSchema.optional(),
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

/** A transition and what goes with it: a payment reference with `paid`, tracking with `shipped`. */
const transition = {
  status: TargetStatus,
  reason: text(1000).optional(),
  payment_reference: text(200)
    .optional()
    .openapi({ description: "With `paid`: the payment provider's id (unique across orders)" }),
  tracking_number: text(200).optional().openapi({ description: "With `shipped`" }),
  carrier: text(100).optional().openapi({ description: "With `shipped`" }),
};

/** Refuses details that do not go with the target status, on the field at fault. */
function detailsMatchStatus<
  T extends { status: string; payment_reference?: string; tracking_number?: string; carrier?: string },
>(change: T, context: z.RefinementCtx) {
  const allowed: Record<string, string> = { payment_reference: "paid", tracking_number: "shipped", carrier: "shipped" };
  for (const [field, status] of Object.entries(allowed)) {
    if (change[field as keyof T] !== undefined && change.status !== status) {
      context.addIssue({ code: "custom", path: [field], message: `only with status ${status}` });
    }
  }
}

export const SetOrderStatusSchema = z
  .object({ ...transition, version: z.number().int().min(1).optional() })
  .strict()
  .superRefine(detailsMatchStatus)
  .openapi("SetOrderStatus");

export const OrderListQuerySchema = PageQuerySchema.extend({
  status: OrderStatus.optional(),
  customer_email: z.string().max(320).optional().openapi({ description: "Only this customer's orders (any case)" }),
});

/** The pms-order inbound webhook: a status change for an order named by id or number. */
export const PmsOrderSchema = z
  .object({
    order_id: z.uuid().optional(),
    order_number: z
      .string()
      .regex(/^SK-[0-9]+$/)
      .optional(),
    ...transition,
  })
  .superRefine(detailsMatchStatus)
  .refine((message) => (message.order_id === undefined) !== (message.order_number === undefined), {
    message: "name the order by exactly one of order_id and order_number",
    path: ["order_id"],
  })
  .openapi("PmsOrderMessage");

export type Order = z.infer<typeof OrderSchema>;
export type PlaceOrder = z.infer<typeof PlaceOrderSchema>;
export type SetOrderStatus = z.infer<typeof SetOrderStatusSchema>;
export type PmsOrder = z.infer<typeof PmsOrderSchema>;
