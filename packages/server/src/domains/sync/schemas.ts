import { z } from "@hono/zod-openapi";

const Cursor = z
  .string()
  .regex(
    /^\d{1,19}-\d{1,19}$/,
    "a cursor is <transaction_id>-<id>, as sync answers and live messages carry; 0-0 is the beginning",
  )
  .openapi({ example: "7412-1093" });

const Topics = z
  .string()
  .max(1000)
  .regex(/^[a-z_.]+(,[a-z_.]+)*$/, "comma-separated topics or topic families, e.g. stock,order.status_changed")
  .transform((value) => value.split(","))
  .optional()
  .openapi({
    description: "Only these topics or families (the part before the dot); default every one the caller may read",
  });

export const ChangesQuerySchema = z.object({
  since: Cursor.openapi({ param: { name: "since", in: "query" } }),
  topics: Topics,
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const StatusQuerySchema = z.object({
  cursor: Cursor.optional().openapi({ param: { name: "cursor", in: "query" } }),
  topics: Topics,
});

export const SyncEventSchema = z
  .object({
    cursor: Cursor,
    event_id: z.number().int(),
    topic: z.string(),
    data: z.record(z.string(), z.unknown()).openapi({ description: "The event's payload, as in the event catalogue" }),
    occurred_at: z.string(),
  })
  .openapi("SyncEvent");

export const ChangesPageSchema = z
  .object({
    data: z.array(SyncEventSchema),
    next_cursor: Cursor,
    has_more: z.boolean(),
  })
  .openapi("SyncChangesPage");

export const SyncStatusSchema = z
  .object({
    cursor: Cursor.optional(),
    head_cursor: Cursor,
    oldest_cursor: Cursor.openapi({ description: "Cursors before this one were pruned (410)" }),
    behind: z.number().int().optional().openapi({ description: "Events the caller may read after `cursor`" }),
    up_to_date: z.boolean().optional(),
  })
  .openapi("SyncStatus");
