import { z } from "@hono/zod-openapi";
import { TimestampSchema } from "../../http/schemas.ts";
import type { EventType } from "../../platform/event-type.ts";
import { IMAGE_FORMATS } from "./inspect.ts";

// The images' outbox topics, as migration product_images_api writes them (private.emit_image_event:
// the image as private.product_image_json prints it). Realtime subscribers of a product get them on
// the product's channel like the product's own events (`product_id` names it).

const ImageEventSchema = z
  .object({
    id: z.uuid(),
    product_id: z.uuid(),
    variant_id: z.uuid().nullable(),
    position: z.number().int().min(0),
    is_primary: z.boolean(),
    alt_text: z.string(),
    public_id: z.string().openapi({ description: "The current asset at the image provider" }),
    asset_version: z.number().int().min(1),
    format: z.enum(IMAGE_FORMATS),
    width: z.number().int().min(1),
    height: z.number().int().min(1),
    bytes: z.number().int().min(1),
    checksum: z.string().regex(/^[0-9a-f]{64}$/),
    placeholder: z
      .string()
      .regex(/^#[0-9a-f]{6}$/)
      .nullable(),
    version: z.number().int().min(1).openapi({ description: "The image's version after the change" }),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
  })
  .strict()
  .openapi("ProductImageEvent");

export const imageEventTypes: EventType[] = [
  { topic: "product_image.created", description: "An image was added to a product.", data: ImageEventSchema },
  {
    topic: "product_image.updated",
    description:
      "An image's alt text, variant, position or primary flag changed (a reorder sends one per moved image).",
    data: ImageEventSchema,
  },
  {
    topic: "product_image.replaced",
    description: "An image got a new version (a new asset); the previous one stays restorable.",
    data: ImageEventSchema,
  },
  {
    topic: "product_image.restored",
    description: "An image shows one of its earlier versions again.",
    data: ImageEventSchema,
  },
  {
    topic: "product_image.deleted",
    description: "An image and its history were deleted (the assets leave the provider shortly after).",
    data: ImageEventSchema,
  },
];
