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

export const configSchema = z
  .object({
    DATABASE_URL: optionalUrl,
    SUPABASE_DB_URL: optionalUrl,
    SUPABASE_URL: optionalUrl,
    SUPABASE_JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    SUPABASE_JWKS_URL: optionalUrl,
    DB_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
    CORS_ORIGINS: commaList.default([]),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  })
  .transform((env) => ({
    databaseUrl: env.DATABASE_URL ?? env.SUPABASE_DB_URL,
    jwtSecret: env.SUPABASE_JWT_SECRET,
    jwksUrl:
      env.SUPABASE_JWKS_URL ??
      (env.SUPABASE_URL ? `${env.SUPABASE_URL.replace(/\/$/, "")}/auth/v1/.well-known/jwks.json` : undefined),
    dbPoolMax: env.DB_POOL_MAX,
    corsOrigins: env.CORS_ORIGINS,
    logLevel: env.LOG_LEVEL,
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
