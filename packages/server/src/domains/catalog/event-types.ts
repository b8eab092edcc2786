import { z } from "@hono/zod-openapi";
import { TimestampSchema } from "../../http/schemas.ts";
import type { EventType } from "../../platform/event-type.ts";
import { ProductStatusSchema } from "./schemas.ts";

// The catalog's outbox topics, as migrations catalog_events_audit (statement-level triggers on
// products and product_variants) and catalog_scheduled_publish write them, with
// timestamps printed by private.iso (migration one_timestamp_format).

const ProductEventSchema = z
  .object({
    id: z.uuid(),
    handle: z.string(),
    status: ProductStatusSchema,
    version: z.number().int().min(1).openapi({ description: "The product's version after the change" }),
    published_at: TimestampSchema.nullable().openapi({
      description: "When it was last published; null unless published",
    }),
    publish_at: TimestampSchema.nullable().openapi({ description: "A scheduled publish time, if any" }),
    deleted_at: TimestampSchema.nullable().openapi({ description: "Set when soft-deleted" }),
  })
  .openapi("ProductEvent");

const ProductPublishFailedEventSchema = z
  .object({
    id: z.uuid().openapi({ description: "The product" }),
    reason: z.string().openapi({ description: "Why publishing refused; the schedule was cleared" }),
  })
  .openapi("ProductPublishFailedEvent");

const VariantEventSchema = z
  .object({
    id: z.uuid(),
    product_id: z.uuid(),
    sku: z.string(),
    version: z.number().int().min(1).openapi({ description: "The variant's version after the change" }),
    price_amount: z.number().int().min(0).openapi({ description: "Minor units of `currency`" }),
    currency: z.string().regex(/^[A-Z]{3}$/),
    deleted_at: TimestampSchema.nullable().openapi({ description: "Set when soft-deleted" }),
  })
  .openapi("VariantEvent");

const BrandEventSchema = z.object({ id: z.uuid(), handle: z.string(), name: z.string() }).openapi("BrandEvent");

const CategoryEventSchema = z
  .object({
    id: z.uuid(),
    handle: z.string(),
    name: z.string(),
    parent_id: z.uuid().nullable(),
    position: z.number().int(),
    path: z.array(z.uuid()).openapi({ description: "Ids from the root down to this category (inclusive)" }),
  })
  .openapi("CategoryEvent");

export const catalogEventTypes: EventType[] = [
  {
    topic: "product.created",
    description: "A product was created (by the API, a bulk write or an import).",
    data: ProductEventSchema,
  },
  {
    topic: "product.updated",
    description: "A product changed (a new version) without being published, unpublished or deleted.",
    data: ProductEventSchema,
  },
  {
    topic: "product.published",
    description: "A product became published, now or at its scheduled publish_at.",
    data: ProductEventSchema,
  },
  {
    topic: "product.unpublished",
    description: "A published product left the storefront: back to draft, or archived.",
    data: ProductEventSchema,
  },
  {
    topic: "product.deleted",
    description: "A product was soft-deleted (its variants follow with variant.deleted).",
    data: ProductEventSchema,
  },
  {
    topic: "product.publish_failed",
    description: "A scheduled publish could not happen (e.g. no live variant is left); the schedule was cleared.",
    data: ProductPublishFailedEventSchema,
  },
  { topic: "variant.created", description: "A variant was added to a product.", data: VariantEventSchema },
  { topic: "variant.updated", description: "A variant changed (a new version).", data: VariantEventSchema },
  {
    topic: "variant.deleted",
    description: "A variant was soft-deleted, alone or with its product; its SKU stays taken.",
    data: VariantEventSchema,
  },
  { topic: "brand.created", description: "A brand was created.", data: BrandEventSchema },
  { topic: "brand.updated", description: "A brand was changed (name or handle).", data: BrandEventSchema },
  {
    topic: "brand.deleted",
    description: "A brand was deleted; its products keep no brand (each gets product.updated).",
    data: BrandEventSchema,
  },
  { topic: "category.created", description: "A category was created.", data: CategoryEventSchema },
  {
    topic: "category.updated",
    description: "A category changed; moving one changes the path of every category below it, each with its event.",
    data: CategoryEventSchema,
  },
  {
    topic: "category.deleted",
    description: "A category was deleted; its products keep no category (each gets product.updated).",
    data: CategoryEventSchema,
  },
];
