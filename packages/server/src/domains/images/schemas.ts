import { z } from "@hono/zod-openapi";
import { TimestampSchema } from "../../http/schemas.ts";
import { IMAGE_FORMATS } from "./inspect.ts";

const AltText = z.string().max(1000).openapi({ description: "Describes the image for screen readers and search" });
const Version = z.number().int().min(1).optional().openapi({ description: "Expected version (or If-Match)" });

/** `{id}` and `{image_id}` of an image route. */
export const ImageParamsSchema = z.object({
  id: z.uuid().openapi({ param: { name: "id", in: "path" }, description: "The product" }),
  image_id: z.uuid().openapi({ param: { name: "image_id", in: "path" } }),
});

const UrlsSchema = z
  .object({
    original: z.url().openapi({ description: "The stored original" }),
    optimized: z.url().openapi({ description: "Best format and quality for the browser (f_auto,q_auto)" }),
    srcset: z
      .string()
      .openapi({ description: "For <img srcset>: f_auto,q_auto widths, never wider than the original" }),
    sizes: z.string().openapi({ description: "A default <img sizes> to go with srcset" }),
    crops: z.object({
      thumbnail: z.url().openapi({ description: "150x150, filled around the subject" }),
      card: z.url().openapi({ description: "600x750, filled around the subject" }),
      zoom: z.url().openapi({ description: "Up to 2400 on the long side" }),
    }),
  })
  .openapi("ImageUrls");

const AssetFields = {
  public_id: z.string().openapi({ description: "The asset's id at the image provider (Cloudinary)" }),
  asset_version: z.number().int().openapi({ description: "The provider's version of the asset" }),
  format: z.enum(IMAGE_FORMATS),
  width: z.number().int(),
  height: z.number().int(),
  bytes: z.number().int(),
  checksum: z.string().openapi({ description: "SHA-256 of the image's bytes (hex)" }),
  placeholder: z.string().nullable().openapi({ description: "Dominant colour (#rrggbb) to show while loading" }),
};

export const ImageSchema = z
  .object({
    id: z.uuid(),
    product_id: z.uuid(),
    variant_id: z.uuid().nullable(),
    position: z.number().int(),
    is_primary: z.boolean(),
    alt_text: z.string(),
    ...AssetFields,
    version: z.number().int(),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
    urls: UrlsSchema.nullable().openapi({ description: "Null while no image provider is configured" }),
  })
  .openapi("ProductImage");
export type Image = z.infer<typeof ImageSchema>;
export type ImageRow = Omit<Image, "urls">;

export const ImageListSchema = z.object({ data: z.array(ImageSchema) }).openapi("ProductImageList");

export const ImageVersionSchema = z
  .object({
    id: z.number().int().openapi({ description: "Pass as version_id to restore it" }),
    image_id: z.uuid(),
    ...AssetFields,
    current: z.boolean(),
    created_at: TimestampSchema,
    urls: UrlsSchema.nullable(),
  })
  .openapi("ProductImageVersion");
export type ImageVersion = z.infer<typeof ImageVersionSchema>;

export const UploadFormSchema = z
  .object({
    file: z.file().openapi({ type: "string", format: "binary", description: "JPEG, PNG, WebP, AVIF or GIF" }),
    alt_text: AltText.optional(),
    variant_id: z.uuid().optional(),
  })
  .openapi("ImageUpload");

export const ReplaceFormSchema = z
  .object({
    file: z.file().openapi({ type: "string", format: "binary", description: "JPEG, PNG, WebP, AVIF or GIF" }),
    version: z.coerce.number().int().min(1).optional().openapi({ description: "Expected version (or If-Match)" }),
  })
  .openapi("ImageReplace");

export const SignatureRequestSchema = z
  .object({
    product_id: z.uuid(),
    image_id: z.uuid().optional().openapi({ description: "Sign a new version of this image instead of a new image" }),
  })
  .strict()
  .openapi("ImageSignatureRequest");

export const SignatureSchema = z
  .object({
    upload_url: z.url().openapi({ description: "POST the file here as multipart/form-data, with `fields`" }),
    fields: z.record(z.string(), z.string()).openapi({
      description:
        "Send exactly these (signed: public_id within the product's folder, allowed_formats, colors, timestamp), plus `file`",
    }),
    public_id: z.string(),
    allowed_formats: z.array(z.enum(IMAGE_FORMATS)),
    max_bytes: z.number().int().openapi({ description: "Larger files are refused at confirmation (and deleted)" }),
    expires_at: TimestampSchema.openapi({
      description: "Confirm before this; an unconfirmed upload is deleted after it",
    }),
  })
  .openapi("ImageSignature");

export const ConfirmSchema = z
  .object({
    upload: z
      .looseObject({
        public_id: z.string().min(1).max(255),
        version: z.number().int().min(1),
        signature: z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/, "a hex SHA-1 or SHA-256"),
        colors: z.array(z.tuple([z.string(), z.number()])).optional(),
      })
      .openapi({ description: "The provider's upload response, as it came (other fields are ignored)" }),
    alt_text: AltText.optional(),
    variant_id: z.uuid().optional(),
    version: Version.openapi({ description: "For a new version of an image: the image's expected version" }),
  })
  .strict()
  .openapi("ImageConfirm");

export const ImagePatchSchema = z
  .object({
    alt_text: AltText.optional(),
    variant_id: z.uuid().nullable().optional().openapi({ description: "The variant it shows; null for the product" }),
    is_primary: z
      .literal(true)
      .optional()
      .openapi({ description: "Make it the primary image (the former one is not)" }),
    version: Version,
  })
  .strict()
  .openapi("ImagePatch");

export const ReorderSchema = z
  .object({
    image_ids: z
      .array(z.uuid())
      .min(1)
      .max(500)
      .openapi({ description: "Every image of the product, each once, in the new order" }),
  })
  .strict()
  .openapi("ImageReorder");

export const RestoreSchema = z
  .object({
    version_id: z.number().int().min(1).openapi({ description: "An id from the image's versions" }),
    version: Version,
  })
  .strict()
  .openapi("ImageRestore");
