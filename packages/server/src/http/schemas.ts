import { z } from "@hono/zod-openapi";

// Schemas more than one domain speaks: defined once here, extended (never redeclared) where used.
// The page query (`limit`, `cursor`) lives beside its cursor code in pagination.ts.

/** What a SKU may look like (a variant's SKU is checked against it when written; lookups too). */
export const SKU_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$/;

export const SkuSchema = z
  .string()
  .regex(SKU_PATTERN, "1-64 letters, digits and . _ / -, starting with a letter or digit")
  .openapi({ example: "TEE-BLK-M" });

/**
 * A timestamp as every payload prints it (answers, outbox events, broadcasts, webhooks): ISO 8601
 * UTC with milliseconds and `Z`, `2026-12-01T19:58:17.123Z` (SQL: `private.iso`; TypeScript:
 * `Date#toISOString`). Requests send what their own schema accepts (mostly any ISO 8601 offset).
 */
export const TimestampSchema = z.iso.datetime({ precision: 3 }).openapi({ example: "2026-12-01T19:58:17.123Z" });
