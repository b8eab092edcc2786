import { z } from "@hono/zod-openapi";
import { fieldErrors } from "../../http/errors.ts";
import { Problem } from "../../http/problems.ts";
import type { Db, Queryable } from "../../platform/db/types.ts";
import { pmsOrderHandler } from "../orders/inbound.ts";
import { verifiesWithAny } from "./signing.ts";

/**
 * Inbound webhooks. A source is any name configured with a secret (INBOUND_WEBHOOK_SECRETS);
 * a handler, when there is one for the source, validates and applies the payload through the
 * same SQL functions the API uses. Order: verify the signature (svix, Standard Webhooks, 5 min
 * tolerance) → record the message id in the transaction that applies it (a repeat answers
 * `duplicate` and applies nothing) → validate with zod (422 rolls everything back) → apply.
 */
export interface InboundHandler<T = unknown> {
  source: string;
  description: string;
  payload: z.ZodType<T>;
  /** Runs inside the transaction that recorded the message id, as the service role. */
  apply(tx: Queryable, payload: T, message: { id: string; source: string }): Promise<Record<string, unknown>>;
}

const Sku = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/, "a SKU");

export const PmsProductSchema = z
  .object({
    sku: Sku,
    title: z.string().min(1).max(500),
    description: z.string().max(100_000).optional(),
    price_amount: z.number().int().min(0),
    currency: z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code"),
    compare_at_amount: z.number().int().min(0).nullable().optional(),
    barcode: z.string().nullable().optional(),
    weight_grams: z.number().int().min(0).nullable().optional(),
    variant_title: z.string().max(500).optional(),
    options: z.record(z.string(), z.string()).optional(),
    attributes: z.record(z.string(), z.unknown()).optional(),
    status: z.enum(["draft", "published", "archived"]).optional(),
  })
  .openapi("PmsProductMessage");

export const PmsInventorySchema = z
  .object({
    sku: Sku,
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
    kind: z.enum(["receipt", "adjustment", "count", "damage", "loss", "return"]).default("adjustment"),
    reason: z.string().max(500).optional(),
  })
  .refine((message) => (message.kind === "count" ? message.counted !== undefined : message.delta !== undefined), {
    message: "a count takes counted; every other kind takes delta",
    path: ["delta"],
  })
  .openapi("PmsInventoryMessage");

const STATUS_ACTION = { draft: "unpublish", published: "publish", archived: "archive" } as const;

/** Product upsert by SKU: the catalog's create, update and status functions, run as the service role. */
const pmsProduct: InboundHandler<z.infer<typeof PmsProductSchema>> = {
  source: "pms-product",
  description: "Product upsert by SKU (one product per SKU, with that SKU as its variant).",
  payload: PmsProductSchema,
  async apply(tx, product) {
    const variantFields = {
      sku: product.sku,
      price_amount: product.price_amount,
      currency: product.currency,
      ...(product.compare_at_amount !== undefined ? { compare_at_amount: product.compare_at_amount } : {}),
      ...(product.barcode !== undefined ? { barcode: product.barcode } : {}),
      ...(product.weight_grams !== undefined ? { weight_grams: product.weight_grams } : {}),
      ...(product.variant_title !== undefined ? { title: product.variant_title } : {}),
      ...(product.options !== undefined ? { options: product.options } : {}),
    };
    const productFields = {
      title: product.title,
      ...(product.description !== undefined ? { description: product.description } : {}),
      ...(product.attributes !== undefined ? { attributes: product.attributes } : {}),
    };
    const existing = await tx.query<{ variant_id: string; product_id: string; status: string }>(
      `select v.id as variant_id, v.product_id, p.status from public.product_variants v
       join public.products p on p.id = v.product_id
       where lower(v.sku) = lower($1) and v.deleted_at is null and p.deleted_at is null
       for update of v`,
      [product.sku],
    );
    const found = existing.rows[0];
    if (!found) {
      const { rows } = await tx.query<{ product: { id: string; variants: { id: string }[] } }>(
        "select private.catalog_create_product($1::jsonb) as product",
        [JSON.stringify({ ...productFields, status: product.status, variants: [variantFields] })],
      );
      const created = rows[0]?.product;
      return { product_id: created?.id, variant_id: created?.variants[0]?.id, created: true };
    }
    await tx.query("select private.catalog_update_product($1, null, $2::jsonb)", [
      found.product_id,
      JSON.stringify(productFields),
    ]);
    await tx.query("select private.catalog_update_variant($1, null, $2::jsonb)", [
      found.variant_id,
      JSON.stringify(variantFields),
    ]);
    if (product.status && product.status !== found.status) {
      await tx.query("select private.catalog_set_product_status($1, $2)", [
        found.product_id,
        STATUS_ACTION[product.status],
      ]);
    }
    return { product_id: found.product_id, variant_id: found.variant_id, created: false };
  },
};

/** Stock adjustment through the inventory's adjust_stock, with the message id as idempotency key. */
const pmsInventory: InboundHandler<z.infer<typeof PmsInventorySchema>> = {
  source: "pms-inventory",
  description: "Stock adjustment of one SKU at one location (the message id is the idempotency key).",
  payload: PmsInventorySchema,
  async apply(tx, adjustment, message) {
    const reference = `${message.source}:${message.id}`;
    const key = `webhook:${message.source}:${message.id}`;
    const { rows } = await tx.query<{ result: { movement: { id: string }; replayed: boolean } }>(
      adjustment.kind === "count"
        ? "select private.count_stock($1, $2, $3, $4, 'external', $5, $6) as result"
        : "select private.adjust_stock($1, $2, $3, $4, $5, 'external', $6, $7) as result",
      adjustment.kind === "count"
        ? [adjustment.sku, adjustment.location_code, adjustment.counted, adjustment.reason ?? null, reference, key]
        : [
            adjustment.sku,
            adjustment.location_code,
            adjustment.delta,
            adjustment.kind,
            adjustment.reason ?? null,
            reference,
            key,
          ],
    );
    const result = rows[0]?.result;
    return { movement_id: result?.movement.id, replayed: result?.replayed ?? false };
  },
};

export const inboundHandlers: Record<string, InboundHandler<never>> = Object.fromEntries(
  [pmsProduct, pmsInventory, pmsOrderHandler].map((handler) => [
    handler.source,
    handler as unknown as InboundHandler<never>,
  ]),
);

export interface InboundResult {
  status: "applied" | "duplicate" | "stored";
  message_id: string;
  result?: Record<string, unknown>;
}

const MAX_BODY = 1024 * 1024;

/** The whole inbound pipeline for one request; throws a Problem for every refusal. */
export async function receiveInbound(
  db: Db,
  secretsBySource: Record<string, string[]>,
  source: string,
  body: string,
  header: (name: string) => string | undefined,
  handlers: Record<string, InboundHandler<never>> = inboundHandlers,
): Promise<InboundResult> {
  const secrets = secretsBySource[source];
  if (!secrets?.length) throw new Problem("not-found", `no inbound webhook source ${source}`);
  if (body.length > MAX_BODY) throw new Problem("payload-too-large", "inbound webhook bodies are at most 1 MiB");

  const headers = {
    "webhook-id": header("webhook-id") ?? "",
    "webhook-timestamp": header("webhook-timestamp") ?? "",
    "webhook-signature": header("webhook-signature") ?? "",
  };
  if (!verifiesWithAny(secrets, body, headers)) {
    throw new Problem("unauthenticated", "the webhook signature is invalid or its timestamp is outside 5 minutes");
  }
  const messageId = headers["webhook-id"];
  if (messageId.length > 255) throw new Problem("malformed-request", "webhook-id is longer than 255 characters");

  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    throw new Problem("malformed-request", "the body is not JSON");
  }
  const handler = handlers[source];

  return db.asUser({ role: "service_role", inbound_source: source }, async (tx) => {
    const { rows } = await tx.query<{ first: boolean }>("select private.claim_inbound_webhook($1, $2, $3) as first", [
      source,
      messageId,
      JSON.stringify(payload),
    ]);
    if (!rows[0]?.first) return { status: "duplicate" as const, message_id: messageId };
    if (!handler) return { status: "stored" as const, message_id: messageId };

    const parsed = handler.payload.safeParse(payload);
    if (!parsed.success) {
      throw new Problem("validation-failed", `the ${source} payload has invalid fields`, {
        errors: fieldErrors(parsed.error, "json"),
      });
    }
    const result = await handler.apply(tx, parsed.data as never, { id: messageId, source });
    await tx.query(
      `update private.inbound_webhook_messages set status = 'applied', result = $3
       where source = $1 and message_id = $2`,
      [source, messageId, JSON.stringify(result)],
    );
    return { status: "applied" as const, message_id: messageId, result };
  });
}
