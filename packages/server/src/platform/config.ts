import { z } from "zod";

/** The Supabase CLI's well-known local JWT secret: only ever a default for the local stack. */
export const LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

const commaList = z.string().transform((value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean),
);

const optionalUrl = z.url().optional();

const flag = z.enum(["true", "false", "1", "0"]).transform((value) => value === "true" || value === "1");

// Inbound webhook sources and their Standard Webhooks secrets, as JSON:
// {"pms-product": "whsec_...", "pms-order": ["whsec_new...", "whsec_old..."]} (several during a rotation).
const webhookSecret = z.string().regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, "must be a whsec_... secret");
const inboundSecrets = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a JSON object of source to secret(s)" });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(
      z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "source names are lowercase letters, digits, - and _"),
      z.union([webhookSecret, z.array(webhookSecret).min(1)]),
    ),
  )
  .transform((sources) =>
    Object.fromEntries(Object.entries(sources).map(([source, secrets]) => [source, [secrets].flat()])),
  );

// The image provider's account, as Cloudinary's SDKs read it:
// cloudinary://API_KEY:API_SECRET@CLOUD_NAME[?upload_prefix=URL][&signature_algorithm=sha256].
// The local stack points upload_prefix at its Cloudinary-compatible endpoint.
const cloudinaryUrl = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    url = new URL("invalid:");
  }
  const uploadPrefix = url.searchParams.get("upload_prefix") ?? "https://api.cloudinary.com";
  const algorithm = url.searchParams.get("signature_algorithm") ?? "sha1";
  if (
    url.protocol !== "cloudinary:" ||
    !url.hostname ||
    !url.username ||
    !url.password ||
    !/^https?:\/\/[^/]/.test(uploadPrefix) ||
    (algorithm !== "sha1" && algorithm !== "sha256")
  ) {
    ctx.addIssue({
      code: "custom",
      message:
        "must be cloudinary://API_KEY:API_SECRET@CLOUD_NAME[?upload_prefix=http(s)://...][&signature_algorithm=sha256]",
    });
    return z.NEVER;
  }
  return {
    cloudName: url.hostname,
    apiKey: decodeURIComponent(url.username),
    apiSecret: decodeURIComponent(url.password),
    uploadPrefix: uploadPrefix.replace(/\/$/, ""),
    signatureAlgorithm: algorithm as "sha1" | "sha256",
  };
});

// A rate limit as `<requests>/<window>`: `120/60s`, `1000/1h`, `20/1m` (s, m, h or d).
const WINDOW_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;
const rateLimit = z.string().transform((text, ctx) => {
  const match = /^\s*(\d{1,7})\s*\/\s*(\d{1,6})\s*([smhd])\s*$/.exec(text);
  const limit = Number(match?.[1]);
  const windowSeconds = Number(match?.[2]) * WINDOW_UNITS[(match?.[3] ?? "s") as keyof typeof WINDOW_UNITS];
  if (!match || limit < 1 || windowSeconds < 1 || windowSeconds > 86_400) {
    ctx.addIssue({ code: "custom", message: "must be <requests>/<window>, e.g. 120/60s or 1000/1h (window 1s to 1d)" });
    return z.NEVER;
  }
  return { limit, windowSeconds };
});

export const configSchema = z
  .object({
    DATABASE_URL: optionalUrl,
    SUPABASE_DB_URL: optionalUrl,
    SUPABASE_URL: optionalUrl,
    SUPABASE_JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    SUPABASE_JWKS_URL: optionalUrl,
    DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
    // How long a request waits for a pooled connection before it answers 503 with Retry-After.
    DB_POOL_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(3_000),
    CORS_ORIGINS: commaList.default([]),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
    // Webhook endpoints may use http and private/loopback addresses (the local stack sets it).
    WEBHOOKS_ALLOW_PRIVATE_URLS: flag.default(false),
    INBOUND_WEBHOOK_SECRETS: inboundSecrets.optional(),
    // Svix Cloud mode: with a key, outbound events go to a Svix application instead of our
    // dispatcher, and endpoints are managed in Svix. SVIX_SERVER_URL points at a self-hosted server.
    SVIX_API_KEY: z.string().min(1).optional(),
    SVIX_SERVER_URL: optionalUrl,
    // The path the gateway strips before the function sees a request (`/functions/v1` on Supabase);
    // an `X-Forwarded-Prefix` header from the gateway wins. Used for Location and problem instance.
    PUBLIC_PATH_PREFIX: z
      .string()
      .regex(/^(\/[A-Za-z0-9._~-]+)*$/, "empty, or a path such as /functions/v1 (no trailing slash)")
      .optional(),
    SVIX_APP_UID: z
      .string()
      .regex(/^[a-zA-Z0-9_.-]{1,256}$/, "letters, digits, -, _ and . (a Svix application uid)")
      .default("storekeep"),
    // GET /v1/metrics answers only to this bearer token; unset, the route does not exist (404).
    METRICS_TOKEN: z
      .string()
      .regex(/^[\x21-\x7e]{16,256}$/, "must be 16-256 printable characters without spaces")
      .optional(),
    // Unhandled errors go to Sentry when set; unset, they are only logged.
    SENTRY_DSN: z
      .url()
      .regex(
        /^https?:\/\/\w+(:\w+)?@[\w.-]+(:\d+)?\/([\w.-]+\/)*\w+$/,
        "must be a Sentry DSN: https://PUBLIC_KEY@HOST/PROJECT_ID",
      )
      .optional(),
    SENTRY_ENVIRONMENT: z.string().min(1).max(64).optional(),
    CLOUDINARY_URL: cloudinaryUrl.optional(),
    // Delivery through your own CDN domain (https://img.example.com) instead of res.cloudinary.com;
    // an http:// URL serves from there as is (the local stack's endpoint).
    IMAGES_CDN_URL: optionalUrl,
    IMAGES_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(1024)
      .max(100 * 1024 * 1024)
      .default(10 * 1024 * 1024),
    IMAGES_FOLDER: z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "lowercase letters, digits, - and _ (a Cloudinary folder)")
      .default("storekeep"),
    // Shared state (rate limits, nonces, cache): Upstash Redis over REST. Without it the API keeps
    // that state in process, which is only right for one local process.
    UPSTASH_REDIS_REST_URL: optionalUrl,
    UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
    // The longest a request waits for Redis before going on without it.
    REDIS_TIMEOUT_MS: z.coerce.number().int().min(10).max(10_000).default(300),
    // API keys: how long a rotated key keeps working by default, and when the api_keys.alerts job
    // (and /v1/ready) warns about a key: older than the maximum age, unused for that many days,
    // or within that many hours of its overlap's end.
    API_KEY_ROTATION_OVERLAP_SECONDS: z.coerce
      .number()
      .int()
      .min(0)
      .max(30 * 86_400)
      .default(86_400),
    API_KEY_MAX_AGE_DAYS: z.coerce.number().int().min(1).max(3650).default(90),
    API_KEY_UNUSED_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
    API_KEY_OVERLAP_WARNING_HOURS: z.coerce.number().int().min(1).max(720).default(24),
    // Prefix of every key this deployment writes (several deployments or test runs may share a Redis).
    REDIS_KEY_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9:_.-]{1,64}$/)
      .default("storekeep"),
    // After Redis fails, requests skip it for this long (then one request tries again), so an
    // unreachable Redis costs at most one REDIS_TIMEOUT_MS wait per cooldown, not one per request.
    REDIS_COOLDOWN_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
    // Each process keeps a copy of cache entries up to this size in front of Redis (0: none). It
    // is served only when the request's generation check matches, so it is never staler than Redis.
    CACHE_LOCAL_MAX_BYTES: z.coerce
      .number()
      .int()
      .min(0)
      .max(1024 * 1024 * 1024)
      .default(16 * 1024 * 1024),
    // Proxies in front of the API that append to X-Forwarded-For (Supabase's gateway: 1). The
    // client address is the hop the outermost of them appended; hops left of it are client-made.
    TRUSTED_PROXY_HOPS: z.coerce.number().int().min(1).max(10).default(1),
    // Rate limits per caller (API key, user, or IP address for anonymous calls) and route group.
    RATE_LIMITS_ENABLED: flag.default(true),
    RATE_LIMIT_READ: rateLimit.default({ limit: 600, windowSeconds: 60 }),
    RATE_LIMIT_WRITE: rateLimit.default({ limit: 120, windowSeconds: 60 }),
    // Reservations and orders: the routes that hold stock.
    RATE_LIMIT_CHECKOUT: rateLimit.default({ limit: 30, windowSeconds: 60 }),
    // When Redis cannot answer: reads always go through; writes too (`allow`, the default: Postgres
    // keeps integrity, only the limit is lost) or they get 503 (`refuse`).
    RATE_LIMIT_WRITES_WHEN_REDIS_DOWN: z.enum(["allow", "refuse"]).default("allow"),
    // API key usage counters (requests per key, day, route and status) are kept this many days.
    USAGE_RETENTION_DAYS: z.coerce.number().int().min(1).max(400).default(90),
  })
  .refine((env) => !env.UPSTASH_REDIS_REST_URL === !env.UPSTASH_REDIS_REST_TOKEN, {
    message: "UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN go together",
    path: ["UPSTASH_REDIS_REST_TOKEN"],
  })
  .refine((env) => !env.SVIX_SERVER_URL || env.SVIX_API_KEY, {
    message: "SVIX_SERVER_URL needs SVIX_API_KEY",
    path: ["SVIX_API_KEY"],
  })
  .transform((env) => ({
    databaseUrl: env.DATABASE_URL ?? env.SUPABASE_DB_URL,
    jwtSecret: env.SUPABASE_JWT_SECRET,
    jwksUrl:
      env.SUPABASE_JWKS_URL ??
      (env.SUPABASE_URL ? `${env.SUPABASE_URL.replace(/\/$/, "")}/auth/v1/.well-known/jwks.json` : undefined),
    dbPoolMax: env.DB_POOL_MAX,
    dbPoolTimeoutMs: env.DB_POOL_TIMEOUT_MS,
    // On Supabase (which sets SUPABASE_DB_URL for functions) clients call /functions/v1/<name>/...
    publicPathPrefix: env.PUBLIC_PATH_PREFIX ?? (env.SUPABASE_DB_URL ? "/functions/v1" : ""),
    corsOrigins: env.CORS_ORIGINS,
    logLevel: env.LOG_LEVEL,
    webhooksAllowPrivateUrls: env.WEBHOOKS_ALLOW_PRIVATE_URLS,
    inboundWebhookSecrets: env.INBOUND_WEBHOOK_SECRETS ?? ({} as Record<string, string[]>),
    svix: env.SVIX_API_KEY
      ? { apiKey: env.SVIX_API_KEY, serverUrl: env.SVIX_SERVER_URL, appUid: env.SVIX_APP_UID }
      : undefined,
    metricsToken: env.METRICS_TOKEN,
    sentry: env.SENTRY_DSN ? { dsn: env.SENTRY_DSN, environment: env.SENTRY_ENVIRONMENT } : undefined,
    images: env.CLOUDINARY_URL
      ? {
          ...env.CLOUDINARY_URL,
          cdnUrl: env.IMAGES_CDN_URL?.replace(/\/$/, ""),
          maxBytes: env.IMAGES_MAX_BYTES,
          folder: env.IMAGES_FOLDER,
        }
      : undefined,
    upstash:
      env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN
        ? {
            url: env.UPSTASH_REDIS_REST_URL,
            token: env.UPSTASH_REDIS_REST_TOKEN,
            timeoutMs: env.REDIS_TIMEOUT_MS,
            prefix: env.REDIS_KEY_PREFIX,
            cooldownMs: env.REDIS_COOLDOWN_MS,
          }
        : undefined,
    redisTimeoutMs: env.REDIS_TIMEOUT_MS,
    cacheLocalMaxBytes: env.CACHE_LOCAL_MAX_BYTES,
    apiKeys: {
      rotationOverlapSeconds: env.API_KEY_ROTATION_OVERLAP_SECONDS,
      maxAgeDays: env.API_KEY_MAX_AGE_DAYS,
      unusedDays: env.API_KEY_UNUSED_DAYS,
      overlapWarningHours: env.API_KEY_OVERLAP_WARNING_HOURS,
    },
    rateLimits: {
      enabled: env.RATE_LIMITS_ENABLED,
      groups: { read: env.RATE_LIMIT_READ, write: env.RATE_LIMIT_WRITE, checkout: env.RATE_LIMIT_CHECKOUT },
      writesWhenStoreDown: env.RATE_LIMIT_WRITES_WHEN_REDIS_DOWN,
    },
    usageRetentionDays: env.USAGE_RETENTION_DAYS,
    trustedProxyHops: env.TRUSTED_PROXY_HOPS,
  }))
  .refine((config) => config.jwtSecret || config.jwksUrl, {
    message: "set SUPABASE_JWT_SECRET or SUPABASE_JWKS_URL (or SUPABASE_URL) so tokens can be verified",
    path: ["SUPABASE_JWT_SECRET"],
  });

export type Config = z.output<typeof configSchema>;

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the environment once; a missing or invalid setting stops start-up with its name. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const result = configSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${issue.path.join(".") || "(config)"}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${problems.join("\n")}`);
  }
  return result.data;
}
