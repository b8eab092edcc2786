import { z } from "@hono/zod-openapi";
import type { Context } from "hono";

export const IdempotencyKeyHeaderSchema = z.object({
  "idempotency-key": z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({
      param: { name: "idempotency-key", in: "header" },
      description: "A repeat with the same key (same caller, same body) answers the first response and writes nothing",
    }),
});

/** Marks an answer that repeats the first response to its Idempotency-Key (nothing was written). */
export function markReplayed(c: Context, replayed: boolean): void {
  if (replayed) c.header("Idempotent-Replayed", "true");
}
