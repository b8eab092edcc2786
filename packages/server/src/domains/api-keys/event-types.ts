import { z } from "@hono/zod-openapi";
import { TimestampSchema } from "../../http/schemas.ts";
import type { EventType } from "../../platform/event-type.ts";

// Rotation alerts (migration api_key_alerts, emitted by the api_keys.alerts job): once per key and
// condition, so an integration or an on-call channel can subscribe to them as webhooks.

const key = {
  api_key_id: z.uuid(),
  name: z.string(),
  prefix: z.string(),
  created_at: TimestampSchema,
  last_used_at: TimestampSchema.nullable(),
};

export const apiKeyEventTypes: EventType[] = [
  {
    topic: "api_key.rotation_due",
    description: "An active API key is older than API_KEY_MAX_AGE_DAYS: rotate it (POST /api-keys/{id}/rotate).",
    data: z
      .object({ ...key, age_days: z.number().int(), max_age_days: z.number().int() })
      .openapi("ApiKeyRotationDueEvent"),
  },
  {
    topic: "api_key.unused",
    description:
      "A working API key has not been used for API_KEY_UNUSED_DAYS (again after each later use): revoke it if nobody needs it.",
    data: z.object({ ...key, idle_days: z.number().int() }).openapi("ApiKeyUnusedEvent"),
  },
  {
    topic: "api_key.overlap_ending",
    description:
      "A rotated API key stops working within API_KEY_OVERLAP_WARNING_HOURS: whoever still sends it must switch to its successor.",
    data: z
      .object({ ...key, rotated_to: z.uuid().nullable(), overlap_ends_at: TimestampSchema })
      .openapi("ApiKeyOverlapEndingEvent"),
  },
];
