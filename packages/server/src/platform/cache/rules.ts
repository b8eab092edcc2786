/**
 * An invalidation rule: a commit that writes `topic` to the outbox retires the entries of these
 * families. Each domain lists its rules beside its events; the composition root gathers them.
 * With `product`, the event's payload names one product (that field) and the family's entries of
 * that one product are retired, not every entry of the family. No families: nothing cached shows
 * what this topic changes (stated, so a new topic is never forgotten).
 *
 * The database counts the topics that have families (private.cache_topics); a test keeps both
 * lists equal.
 */
export interface CacheRule {
  topic: string;
  families: readonly string[];
  product?: "id" | "product_id";
}

/**
 * The topics whose family-wide counters guard a read of `family`. A read of one product leaves
 * out the topics that name their product: that product's own counter guards it instead.
 */
export function topicsOf(rules: readonly CacheRule[], family: string, options: { scoped: boolean }): string[] {
  return rules
    .filter((rule) => rule.families.includes(family) && !(options.scoped && rule.product))
    .map((rule) => rule.topic)
    .sort();
}
