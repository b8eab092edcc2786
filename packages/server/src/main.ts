import { cacheRules, createApp } from "./app.ts";
import { apiKeyWarnings } from "./domains/api-keys/alerts.ts";
import { registerApiKeyMetrics } from "./domains/api-keys/metrics.ts";
import { registerDatabaseMetrics } from "./domains/observability/database.ts";
import { readAtMostEvery } from "./domains/system/service.ts";
import { createWebhookSender } from "./domains/webhooks/sender.ts";
import { createApiKeyVerifier } from "./http/api-keys.ts";
import { createTokenVerifier } from "./http/auth.ts";
import type { Services } from "./http/env.ts";
import { createReadCache } from "./platform/cache/read-cache.ts";
import { type Config, loadConfig } from "./platform/config.ts";
import { instrumentDb } from "./platform/db/instrumented.ts";
import { createPostgresDb } from "./platform/db/postgres.ts";
import type { Db } from "./platform/db/types.ts";
import { createDenoResolver, type HostResolver, NO_RESOLVER } from "./platform/dns.ts";
import { createErrorReporter } from "./platform/errors/index.ts";
import { createCloudinaryProvider } from "./platform/images/cloudinary.ts";
import { createSharedState } from "./platform/kv/index.ts";
import { observeStore } from "./platform/kv/observer.ts";
import { createLogger } from "./platform/logger.ts";
import { createMetrics } from "./platform/metrics.ts";
import { configSecrets, createRedactor } from "./platform/redact.ts";

export interface ServiceOptions {
  /** A database to use instead of connecting to DATABASE_URL (the local stack's PGlite, tests). */
  db?: Db;
  dns?: HostResolver;
  /** Where log lines go instead of stdout (tests read them). */
  writeLog?: (line: string) => void;
}

/** How old /ready's warnings may be (they count keys by age in days and hours). */
const WARNINGS_MAX_AGE_MS = 60_000;

/** Builds every service from configuration, once. */
export function createServices(config: Config, options: ServiceOptions = {}): Services {
  const metrics = createMetrics();
  const db = instrumentDb(
    options.db ??
      createPostgresDb(requireDatabaseUrl(config), { max: config.dbPoolMax, acquireTimeoutMs: config.dbPoolTimeoutMs }),
    metrics,
  );
  registerDatabaseMetrics(metrics, db);
  registerApiKeyMetrics(metrics, db, config.apiKeys);
  // Log lines and error reports pass through one redactor: the configured secrets and credential shapes.
  const redact = createRedactor(configSecrets(config));
  const logger = createLogger(config.logLevel, { write: options.writeLog, redact });
  const dns = options.dns ?? createDenoResolver() ?? NO_RESOLVER;
  const whileDown = `rate limits let reads through and ${config.rateLimits.writesWhenStoreDown === "allow" ? "let writes through" : "refuse writes (503)"}`;
  const shared = createSharedState(config, observeStore(metrics, logger, whileDown));
  if (shared.backend === "memory") {
    logger.info(
      "rate limits and nonces are kept in process (no UPSTASH_REDIS_REST_URL): right for one local process only",
    );
  }
  return {
    config,
    db,
    tokens: createTokenVerifier({ secret: config.jwtSecret, jwksUrl: config.jwksUrl }),
    apiKeys: createApiKeyVerifier(db),
    logger,
    reporter: createErrorReporter(config, redact),
    metrics,
    dns,
    webhooks: createWebhookSender(config, { db, resolver: dns, logger }),
    images: config.images ? createCloudinaryProvider(config.images) : undefined,
    shared,
    cache: createReadCache({
      db,
      store: shared.cache,
      rules: cacheRules,
      metrics,
      localMaxBytes: config.cacheLocalMaxBytes,
      onStoreError: (error) =>
        logger.warn("cache store unavailable: reads go to Postgres for a while", {
          message: error instanceof Error ? error.message : String(error),
        }),
    }),
    optionalReadiness: { redis: () => shared.kv.ping() },
    warnings: { api_keys: readAtMostEvery(WARNINGS_MAX_AGE_MS, () => apiKeyWarnings(db, config.apiKeys)) },
    readiness: {
      database: async () => {
        await db.query("select 1");
      },
    },
  };
}

function requireDatabaseUrl(config: Config): string {
  if (!config.databaseUrl) throw new Error("Invalid configuration:\n  DATABASE_URL: required (or SUPABASE_DB_URL)");
  return config.databaseUrl;
}

/** The production entrypoint's whole job: environment in, app out. */
export function createApiFromEnv(env: Record<string, string | undefined>) {
  const services = createServices(loadConfig(env));
  return { app: createApp(services), services };
}
