import { z } from "@hono/zod-openapi";
import { PageQuerySchema } from "../../http/pagination.ts";
import { SkuSchema, TimestampSchema } from "../../http/schemas.ts";

const Sku = SkuSchema;

/** The movements staff record by hand (POST /inventory/adjust, the pms-inventory message). */
export const MANUAL_KINDS = ["receipt", "adjustment", "count", "damage", "loss", "return"] as const;
/** Every kind of the ledger: the manual ones and those that transfers and orders write. */
export const MOVEMENT_KINDS = [...MANUAL_KINDS, "transfer_out", "transfer_in", "sale"] as const;
const LocationCode = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, "letters, digits, _ and -, up to 63")
  .transform((code) => code.toLowerCase())
  .openapi({ example: "main", type: "string" });
const Quantity = z.number().int().min(1).max(1_000_000);

// ---------------------------------------------------------------------------------------------
// Locations

export const LocationSchema = z
  .object({
    id: z.uuid(),
    code: z.string(),
    name: z.string(),
    type: z.enum(["warehouse", "shop"]),
    address: z.string().nullable(),
    latitude: z.number().nullable(),
    longitude: z.number().nullable(),
    active: z.boolean(),
    priority: z.number().int(),
    fulfils_online: z.boolean(),
    version: z.number().int().openapi({ description: "Bumped by every change; send it back as If-Match or `version`" }),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
  })
  .openapi("Location");

const locationFields = {
  name: z.string().trim().min(1).max(200),
  type: z.enum(["warehouse", "shop"]),
  address: z.string().max(1000).nullable(),
  latitude: z.number().min(-90).max(90).nullable(),
  longitude: z.number().min(-180).max(180).nullable(),
  active: z.boolean(),
  priority: z.number().int().min(0).max(1_000_000),
  fulfils_online: z.boolean(),
};

export const CreateLocationSchema = z
  .object({
    code: LocationCode,
    name: locationFields.name,
    type: locationFields.type.default("warehouse"),
    address: locationFields.address.optional(),
    latitude: locationFields.latitude.optional(),
    longitude: locationFields.longitude.optional(),
    active: locationFields.active.default(true),
    priority: locationFields.priority.default(100),
    fulfils_online: locationFields.fulfils_online.default(true),
  })
  .strict()
  .openapi("CreateLocation");

export const UpdateLocationSchema = z
  .object({
    name: locationFields.name,
    type: locationFields.type,
    address: locationFields.address,
    latitude: locationFields.latitude,
    longitude: locationFields.longitude,
    active: locationFields.active,
    priority: locationFields.priority,
    fulfils_online: locationFields.fulfils_online,
    version: z.number().int().min(1).openapi({ description: "Expected version (or If-Match)" }),
  })
  .partial()
  .strict()
  .openapi("UpdateLocation");

/** `If-Match` as every versioned write of the API names it (lower case, like the catalog's). */

export const LocationCodeParamSchema = z.object({
  code: LocationCode.openapi({ param: { name: "code", in: "path" } }),
});

// ---------------------------------------------------------------------------------------------
// Levels and the ledger

export const ReferenceSchema = z
  .object({
    type: z.enum(["order", "transfer", "purchase_order", "reservation", "cart", "external"]),
    id: z.string().min(1).max(200),
  })
  .openapi("StockReference");

export const LevelSchema = z
  .object({
    sku: z.string(),
    location_code: z.string(),
    on_hand: z.number().int(),
    reserved: z.number().int(),
    available: z.number().int(),
    reorder_point: z.number().int(),
    reorder_quantity: z.number().int(),
    allow_backorder: z.boolean(),
  })
  .openapi("StockLevel");

export const MovementSchema = z
  .object({
    id: z.number().int(),
    sku: z.string(),
    location_code: z.string(),
    kind: z.enum(MOVEMENT_KINDS),
    quantity: z.number().int(),
    counted: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "For a count: the quantity counted (on_hand after it)" }),
    reason: z.string().nullable(),
    reference: ReferenceSchema.nullable(),
    reservation_id: z.uuid().nullable(),
    idempotency_key: z.string().nullable(),
    actor_id: z.uuid().nullable(),
    created_at: TimestampSchema,
  })
  .openapi("StockMovement");

export const AdjustSchema = z
  .object({
    sku: Sku,
    location_code: LocationCode,
    delta: z
      .number()
      .int()
      .min(-1_000_000)
      .max(1_000_000)
      .refine((delta) => delta !== 0, "must not be 0")
      .optional()
      .openapi({ description: "The signed change, for every kind but `count`" }),
    counted: z.number().int().min(0).max(1_000_000_000).optional().openapi({
      description: "For `count`: the quantity on the shelf; on_hand becomes it, the difference is the movement",
    }),
    kind: z.enum(MANUAL_KINDS),
    reason: z.string().max(1000).optional(),
    reference: z
      .strictObject({ type: z.enum(["purchase_order", "cart", "external"]), id: z.string().min(1).max(200) })
      .optional()
      .openapi({ description: "What the movement is for; orders, transfers and reservations record their own" }),
    idempotency_key: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "Same as the Idempotency-Key header (an alias kept for older clients)" }),
  })
  .strict()
  .superRefine((adjust, ctx) => {
    if (adjust.kind === "count") {
      if (adjust.counted === undefined)
        ctx.addIssue({ code: "custom", path: ["counted"], message: "a count states the quantity on the shelf" });
      if (adjust.delta !== undefined)
        ctx.addIssue({ code: "custom", path: ["delta"], message: "a count takes counted, not delta" });
    } else {
      if (adjust.delta === undefined) ctx.addIssue({ code: "custom", path: ["delta"], message: "required" });
      if (adjust.counted !== undefined)
        ctx.addIssue({ code: "custom", path: ["counted"], message: "only a count takes counted" });
    }
  })
  .openapi("StockAdjustment");

export const AdjustResultSchema = z.object({ movement: MovementSchema, level: LevelSchema }).openapi("AdjustResult");

export const TransferSchema = z
  .object({
    sku: Sku,
    from_location_code: LocationCode,
    to_location_code: LocationCode,
    quantity: Quantity,
    reason: z.string().max(1000).optional(),
    idempotency_key: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "The same key never moves stock twice; a repeat answers the first transfer" }),
  })
  .strict()
  .openapi("StockTransfer");

export const TransferResultSchema = z
  .object({
    transfer_id: z.uuid(),
    movements: z.array(MovementSchema),
    from: LevelSchema,
    to: LevelSchema,
  })
  .openapi("TransferResult");

export const StockTransferSchema = TransferResultSchema.pick({ transfer_id: true, movements: true }).openapi(
  "StockTransferMovements",
);

export const MovementIdParamSchema = z.object({
  id: z.coerce
    .number()
    .int()
    .min(1)
    .openapi({ param: { name: "id", in: "path" }, example: 42 }),
});

export const TransferIdParamSchema = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" } }),
});

export const LevelPolicySchema = z
  .object({
    sku: Sku,
    location_code: LocationCode,
    reorder_point: z.number().int().min(0).max(1_000_000).optional(),
    reorder_quantity: z.number().int().min(0).max(1_000_000).optional(),
    allow_backorder: z.boolean().optional(),
  })
  .strict()
  .refine(
    (body) =>
      body.reorder_point !== undefined || body.reorder_quantity !== undefined || body.allow_backorder !== undefined,
    { message: "set at least one of reorder_point, reorder_quantity, allow_backorder", path: ["reorder_point"] },
  )
  .openapi("StockLevelPolicy");

const LocationStockSchema = z.object({
  location_code: z.string(),
  on_hand: z.number().int(),
  reserved: z.number().int(),
  available: z.number().int(),
  reorder_point: z.number().int(),
});

export const StockStatusSchema = z
  .object({
    sku: z.string(),
    locations: z.array(LocationStockSchema),
    total: z.object({ on_hand: z.number().int(), reserved: z.number().int(), available: z.number().int() }),
  })
  .openapi("StockStatus");

export const StatusQuerySchema = PageQuerySchema.extend({
  sku: Sku.optional(),
  location_code: LocationCode.optional(),
  stock: z
    .enum(["low", "out"])
    .optional()
    .openapi({ description: "`low`: available at or below the reorder point; `out`: nothing available" }),
});

export const HistoryQuerySchema = PageQuerySchema.extend({
  sku: Sku.optional(),
  location_code: LocationCode.optional(),
});

// ---------------------------------------------------------------------------------------------
// Reservations

export const ReservationSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(["active", "committed", "released", "expired"]),
    expires_at: TimestampSchema.nullable().openapi({ description: "null: held for a paid order until it ships" }),
    reference: ReferenceSchema.nullable(),
    items: z.array(z.object({ sku: z.string(), location_code: z.string(), quantity: z.number().int() })),
    created_at: TimestampSchema,
    closed_at: TimestampSchema.nullable(),
  })
  .openapi("Reservation");

export const ReserveSchema = z
  .object({
    items: z
      .array(z.object({ sku: Sku, quantity: Quantity, location_code: LocationCode.optional() }).strict())
      .min(1)
      .max(100),
    ttl_seconds: z.number().int().min(1).max(604_800).default(900),
    reference: z
      .strictObject({ type: z.enum(["cart", "external"]), id: z.string().min(1).max(200) })
      .optional()
      .openapi({ description: "What the hold is for; an order's hold is made by POST /orders" }),
  })
  .strict()
  .openapi("ReserveStock");

export const ReorderSuggestionSchema = z
  .object({
    id: z.uuid(),
    sku: z.string(),
    location_code: z.string(),
    status: z.enum(["open", "resolved", "dismissed"]),
    reorder_point: z.number().int(),
    suggested_quantity: z.number().int(),
    available_at_crossing: z.number().int(),
    available: z.number().int(),
    created_at: TimestampSchema,
    resolved_at: TimestampSchema.nullable(),
  })
  .openapi("ReorderSuggestion");

export const SuggestionQuerySchema = PageQuerySchema.extend({
  status: z.enum(["open", "resolved", "dismissed", "all"]).default("open"),
});

export const VerifyResultSchema = z
  .object({
    checked: z.number().int(),
    mismatches: z.array(
      z.object({
        sku: z.string(),
        location_code: z.string(),
        on_hand: z.number().int(),
        ledger_on_hand: z.number().int(),
        reserved: z.number().int(),
        held_by_reservations: z.number().int(),
      }),
    ),
  })
  .openapi("LedgerCheck");

export type CreateLocation = z.infer<typeof CreateLocationSchema>;
export type UpdateLocation = z.infer<typeof UpdateLocationSchema>;
export type Adjust = z.infer<typeof AdjustSchema>;
export type Transfer = z.infer<typeof TransferSchema>;
export type LevelPolicy = z.infer<typeof LevelPolicySchema>;
export type Reserve = z.infer<typeof ReserveSchema>;
export type Level = z.infer<typeof LevelSchema>;
export type Movement = z.infer<typeof MovementSchema>;
export type AdjustResult = z.infer<typeof AdjustResultSchema>;
export type TransferResult = z.infer<typeof TransferResultSchema>;
export type StockTransfer = z.infer<typeof StockTransferSchema>;
export type StockStatus = z.infer<typeof StockStatusSchema>;
export type Reservation = z.infer<typeof ReservationSchema>;
export type ReorderSuggestion = z.infer<typeof ReorderSuggestionSchema>;
export type VerifyResult = z.infer<typeof VerifyResultSchema>;

/** The `pms-inventory` inbound webhook message: a stock adjustment of one SKU at one location. */
export const PmsInventorySchema = z
  .object({
    sku: SkuSchema,
    location_code: z.string().min(1).max(64),
    delta: z
      .number()
      .int()
      .refine((delta) => delta !== 0, "must not be zero")
      .optional()
      .openapi({ description: "The signed change, for every kind but `count`" }),
    counted: z
      .number()
      .int()
      .min(0)
      .optional()
      .openapi({ description: "For `count`: the quantity on the shelf (on_hand becomes it)" }),
    kind: z.enum(MANUAL_KINDS).default("adjustment"),
    reason: z.string().max(500).optional(),
  })
  .refine((message) => (message.kind === "count" ? message.counted !== undefined : message.delta !== undefined), {
    message: "a count takes counted; every other kind takes delta",
    path: ["delta"],
  })
  .openapi("PmsInventoryMessage");

export type PmsInventory = z.infer<typeof PmsInventorySchema>;
