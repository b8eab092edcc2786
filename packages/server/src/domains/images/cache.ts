import type { CacheRule } from "../../platform/cache/rules.ts";

/** No cached response shows images (products are cached without them): their topics retire nothing. */
export const imageCacheRules: CacheRule[] = [
  { topic: "product_image.created", families: [] },
  { topic: "product_image.updated", families: [] },
  { topic: "product_image.replaced", families: [] },
  { topic: "product_image.restored", families: [] },
  { topic: "product_image.deleted", families: [] },
];
