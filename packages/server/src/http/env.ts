import type { ReadCache } from "../platform/cache/read-cache.ts";
import type { Config } from "../platform/config.ts";
import type { Db } from "../platform/db/types.ts";
import type { HostResolver } from "../platform/dns.ts";
import type { ErrorReporter } from "../platform/errors/index.ts";
import type { ImageProvider } from "../platform/images/types.ts";
import type { SharedState } from "../platform/kv/index.ts";
import type { Logger } from "../platform/logger.ts";
import type { Metrics } from "../platform/metrics.ts";
import type { WebhookSender } from "../platform/webhook-sender.ts";
import type { ApiKeyVerifier } from "./api-keys.ts";
import type { Caller, TokenVerifier } from "./auth.ts";
import type { ConstraintRules } from "./constraints.ts";

/** What every request can reach: its id, its caller, and the services built at start-up. */
export interface Services {
  config: Config;
  db: Db;
  tokens: TokenVerifier;
  /** Looks up `X-Api-Key` keys (by hash) and the signing secret their requests are checked with. */
  apiKeys: ApiKeyVerifier;
  logger: Logger;
  /** Unexpected errors (the 500s): Sentry when SENTRY_DSN is set, else nowhere but the log. */
  reporter: ErrorReporter;
  /** Resolves host names for the webhook URL policy (SSRF checks). */
  dns: HostResolver;
  /** Outbound webhooks: the built-in dispatcher, or Svix Cloud when SVIX_API_KEY is set. */
  webhooks: WebhookSender;
  /** Prometheus metrics of this process; add yours with `metrics.counter(...)` (see platform/metrics.ts). */
  metrics: Metrics;
  /** The image provider (Cloudinary, or the local stack's endpoint); absent without CLOUDINARY_URL. */
  images?: ImageProvider;
  /** Named readiness checks, each resolving when its dependency answers. */
  readiness: Record<string, () => Promise<void>>;
  /** Checks of dependencies the API serves on without (down: /v1/ready says degraded). */
  optionalReadiness: Record<string, () => Promise<void>>;
  /** Conditions an operator should act on that do not stop serving (/v1/ready lists them as warnings). */
  warnings: Record<string, () => Promise<string[]>>;
  /** Rate limits, nonces and cache: Upstash Redis, or in process (local only). */
  shared: SharedState;
  /** The read-through cache of catalog reads (over `shared.cache`), guarded by Postgres generations. */
  cache: ReadCache;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    caller: Caller;
    services: Services;
    /** Every domain's constraint rules, to answer a broken constraint with its field. */
    constraints: ConstraintRules;
  };
}
