import { z } from "@hono/zod-openapi";
import { TimestampSchema } from "../../http/schemas.ts";

const TOPIC_PATTERN = /^(\*|[a-z][a-z_]*(\.[a-z][a-z_]*)*(\.\*)?)$/;
const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
/** Headers the dispatcher sets itself (or that no client may set). */
const RESERVED_HEADERS =
  /^(webhook-.*|content-type|content-length|host|user-agent|connection|transfer-encoding|te|upgrade|expect|keep-alive|proxy-.*)$/i;

export const TopicPatternSchema = z
  .string()
  .regex(TOPIC_PATTERN, "a topic such as stock.changed, a wildcard such as stock.*, or *")
  .openapi({ example: "stock.*" });

export const EndpointHeadersSchema = z
  .record(
    z
      .string()
      .regex(HEADER_NAME, "header names are letters, digits and -")
      .refine((name) => !RESERVED_HEADERS.test(name), "this header is set by the dispatcher"),
    z
      .string()
      .max(1024)
      .regex(/^[^\r\n]*$/, "header values are one line"),
  )
  .refine((headers) => Object.keys(headers).length <= 20, "at most 20 custom headers")
  .openapi({ example: { "X-Shop": "main" } });

const UrlSchema = z
  .url({ protocol: /^https?$/ })
  .max(2000)
  .openapi({ example: "https://erp.example.com/hooks/storekeep" });

export const EndpointSchema = z
  .object({
    id: z.uuid(),
    url: z.string(),
    description: z.string(),
    topics: z.array(z.string()),
    enabled: z.boolean(),
    headers: z.record(z.string(), z.string()),
    rate_limit_per_second: z.number().int().nullable(),
    failing_since: TimestampSchema.nullable(),
    disabled_reason: z.string().nullable(),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
  })
  .openapi("WebhookEndpoint");

const SecretSchema = z.string().openapi({
  description: "The signing secret (Standard Webhooks `whsec_...`). Shown only in this response.",
  example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
});

export const CreatedEndpointSchema = EndpointSchema.extend({ secret: SecretSchema }).openapi("CreatedWebhookEndpoint");

export const CreateEndpointBodySchema = z
  .object({
    url: UrlSchema,
    topics: z.array(TopicPatternSchema).min(1).max(100),
    description: z.string().max(1000).optional(),
    enabled: z.boolean().optional(),
    headers: EndpointHeadersSchema.optional(),
    rate_limit_per_second: z.number().int().min(1).max(10000).nullable().optional(),
  })
  .strict()
  .openapi("CreateWebhookEndpoint");

export const UpdateEndpointBodySchema = CreateEndpointBodySchema.partial()
  .refine((body) => Object.keys(body).length > 0, "change at least one field")
  .openapi("UpdateWebhookEndpoint");

export const RotateSecretBodySchema = z
  .object({
    overlap_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .default(86_400)
      .openapi({ description: "How long the previous secrets keep signing (default one day)" }),
  })
  .strict()
  .openapi("RotateWebhookSecret");

export const RotatedSecretSchema = z
  .object({
    secret: SecretSchema,
    previous_secrets_expire_at: TimestampSchema,
  })
  .openapi("RotatedWebhookSecret");

export const DeliveryIdParamSchema = z.object({
  id: z
    .string()
    .regex(/^[1-9][0-9]{0,17}$/, "a delivery id")
    .openapi({ param: { name: "id", in: "path" }, example: "42" }),
});

export const DELIVERY_STATUSES = ["pending", "delivered", "failed"] as const;

export const DeliverySchema = z
  .object({
    id: z.string(),
    endpoint_id: z.uuid(),
    event_id: z.string(),
    topic: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    next_attempt_at: TimestampSchema.nullable(),
    last_attempt_at: TimestampSchema.nullable(),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    delivered_at: TimestampSchema.nullable(),
    created_at: TimestampSchema,
  })
  .openapi("WebhookDelivery");

export const AttemptSchema = z
  .object({
    attempt: z.number().int(),
    started_at: TimestampSchema,
    status_code: z.number().int().nullable(),
    latency_ms: z.number().int(),
    response_body: z.string().nullable(),
    error: z.string().nullable(),
  })
  .openapi("WebhookAttempt");

export const DeliveryWithAttemptsSchema = DeliverySchema.extend({ attempts_log: z.array(AttemptSchema) }).openapi(
  "WebhookDeliveryWithAttempts",
);

export const DeliveryQuerySchema = z.object({
  endpoint_id: z.uuid().optional(),
  status: z.enum(DELIVERY_STATUSES).optional(),
});

export const ReplayQuerySchema = z.object({
  since: z.iso.datetime({ offset: true }).openapi({ example: "2026-11-22T00:00:00Z" }),
  until: z.iso.datetime({ offset: true }).optional(),
});

export const QueuedSchema = z.object({ queued: z.number().int() }).openapi("WebhookReplayQueued");
export const TestQueuedSchema = z.object({ delivery_id: z.string() }).openapi("WebhookTestQueued");

export const EventTypeSchema = z
  .object({
    topic: z.string(),
    description: z.string(),
    schema: z.record(z.string(), z.unknown()).openapi({ description: "JSON Schema of the whole webhook body" }),
  })
  .openapi("WebhookEventType");

export const SourceParamSchema = z.object({
  source: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/)
    .openapi({ param: { name: "source", in: "path" }, example: "pms-product" }),
});

export const InboundResultSchema = z
  .object({
    status: z.enum(["applied", "duplicate", "stored"]),
    message_id: z.string(),
    result: z.record(z.string(), z.unknown()).optional(),
  })
  .openapi("InboundWebhookResult");

export type Endpoint = z.infer<typeof EndpointSchema>;
export type CreateEndpointBody = z.infer<typeof CreateEndpointBodySchema>;
export type UpdateEndpointBody = z.infer<typeof UpdateEndpointBodySchema>;
