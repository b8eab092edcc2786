import { type ConstraintRules, rules } from "../../http/constraints.ts";

// What each image constraint means to a client (see http/constraints.ts). The asset fields come
// from the provider and our own inspection, so a client meets few of these; they are here so that
// none ever answers with a constraint's name.
const asset = (table: string): Record<string, [string, string, string]> => ({
  [`${table}_public_id_check`]: ["public_id", "invalid", "a public id is 1 to 255 characters"],
  [`${table}_asset_version_check`]: ["asset_version", "invalid", "the provider's version is a positive number"],
  [`${table}_format_check`]: ["format", "invalid", "an image is jpg, png, webp, avif or gif"],
  [`${table}_width_check`]: ["width", "invalid", "an image is at least one pixel wide"],
  [`${table}_height_check`]: ["height", "invalid", "an image is at least one pixel high"],
  [`${table}_bytes_check`]: ["bytes", "invalid", "an image has at least one byte"],
  [`${table}_checksum_check`]: ["checksum", "invalid", "a checksum is a hex SHA-256"],
  [`${table}_placeholder_check`]: ["placeholder", "invalid", "a placeholder is a colour such as #a1b2c3"],
});

export const imageConstraints: ConstraintRules = {
  ...rules("public.product_images", {
    product_images_pkey: ["id", "taken", "an image with this id exists"],
    product_images_product_id_fkey: ["product_id", "not_found", "no such product"],
    product_images_variant_id_fkey: ["variant_id", "not_found", "no such variant"],
    product_images_position_check: ["position", "invalid", "a position is zero or more"],
    product_images_position_key: ["position", "taken", "another image of this product has this position"],
    product_images_one_primary_idx: ["is_primary", "taken", "the product already has a primary image"],
    product_images_alt_text_check: ["alt_text", "too_long", "alt text is at most 1,000 characters"],
    ...asset("product_images"),
  }),
  ...rules("public.product_image_versions", {
    product_image_versions_pkey: ["id", "taken", "an image version with this id exists"],
    product_image_versions_image_id_fkey: ["image_id", "not_found", "no such image"],
    product_image_versions_product_id_fkey: ["product_id", "not_found", "no such product"],
    product_image_versions_public_id_key: ["public_id", "taken", "this asset is already recorded"],
    ...asset("product_image_versions"),
  }),
  ...rules("private.image_uploads", {
    image_uploads_pkey: ["public_id", "taken", "this upload is already reserved"],
  }),
  ...rules("private.image_deletions", {
    image_deletions_pkey: ["public_id", "taken", "this asset is already queued for deletion"],
  }),
};
