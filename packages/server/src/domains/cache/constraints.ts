import { type ConstraintRules, rules } from "../../http/constraints.ts";

// The cache's generation tables are written by the outbox's commit trigger only, never from a
// client's field.
export const cacheConstraints: ConstraintRules = {
  ...rules("private.cache_topics", {
    cache_topics_pkey: [null, "internal", "each cached topic is listed once"],
    cache_topics_product_field_check: [null, "internal", "a cached topic names its product by id or product_id"],
  }),
  ...rules("private.cache_generations", {
    cache_generations_pkey: [null, "internal", "each cache generation is counted once"],
    cache_generations_shard_check: [null, "internal", "a cache generation's shard is one of eight"],
  }),
};
