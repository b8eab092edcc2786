import { z } from "@hono/zod-openapi";
import { APP_ROLES } from "../../http/auth.ts";
import { TimestampSchema } from "../../http/schemas.ts";
import { SCOPES } from "../../http/scopes.ts";

const Scope = z.enum(SCOPES).openapi("ApiKeyScope");
const AppRole = z.enum(APP_ROLES);

export const ApiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().openapi({ example: "sk_live_Ab12Cd34", description: "The key's first 16 characters" }),
    environment: z.enum(["live", "test"]),
    scopes: z.array(Scope),
    role_cap: AppRole.openapi({
      description: "The most the key may do; it acts with the lesser of this and its creator's role",
    }),
    status: z.enum(["active", "overlap", "rotated", "expired", "revoked"]).openapi({
      description: "overlap: rotated, still working until overlap_ends_at; rotated: the overlap is over",
    }),
    created_by: z.uuid().nullable(),
    created_at: TimestampSchema,
    expires_at: TimestampSchema.nullable(),
    last_used_at: TimestampSchema.nullable().openapi({ description: "Recorded at most once a minute" }),
    last_used_address: z.string().nullable(),
    revoked_at: TimestampSchema.nullable(),
    rotated_from: z.uuid().nullable(),
    rotated_to: z.uuid().nullable(),
    overlap_ends_at: TimestampSchema.nullable(),
  })
  .openapi("ApiKey");

const secrets = {
  secret: z.string().nullable().openapi({
    example: "sk_live_…",
    description: "The key, shown only in this response (null when this answers a repeated Idempotency-Key)",
  }),
  signing_secret: z.string().nullable().openapi({
    example: "sks_…",
    description: "Signs requests (README: Signed requests); shown only in this response, like `secret`",
  }),
};

export const CreatedApiKeySchema = ApiKeySchema.extend(secrets).openapi("CreatedApiKey");

export const CreateApiKeyBodySchema = z
  .object({
    name: z.string().trim().min(1).max(100),
    environment: z.enum(["live", "test"]).default("live"),
    scopes: z.array(Scope).min(1).max(20),
    role_cap: AppRole,
    expires_at: z.iso.datetime().optional(),
  })
  .strict()
  .openapi("CreateApiKey");

export const RotateApiKeyBodySchema = z
  .object({
    overlap_seconds: z
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .optional()
      .openapi({ description: "How long the old key keeps working (default API_KEY_ROTATION_OVERLAP_SECONDS)" }),
    expires_at: z.iso.datetime().optional().openapi({ description: "When the successor expires (default never)" }),
  })
  .strict()
  .openapi("RotateApiKey");

export type ApiKey = z.infer<typeof ApiKeySchema>;
export type CreatedApiKey = z.infer<typeof CreatedApiKeySchema>;
export type CreateApiKeyBody = z.infer<typeof CreateApiKeyBodySchema>;
