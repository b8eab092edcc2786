import { randomBytes } from "node:crypto";
import { rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { cors } from "hono/cors";
import { createApp } from "../../server/src/app.ts";
import type { Services } from "../../server/src/http/env.ts";
import { jobs, runJob } from "../../server/src/jobs/registry.ts";
import { createServices } from "../../server/src/main.ts";
import { type Config, LOCAL_JWT_SECRET, loadConfig } from "../../server/src/platform/config.ts";
import { createPgliteDb } from "../../server/src/platform/db/pglite.ts";
import { createPostgresDb } from "../../server/src/platform/db/postgres.ts";
import type { Db } from "../../server/src/platform/db/types.ts";
import { createListenSignal, createPollingSignal, type OutboxSignal } from "../../server/src/platform/outbox-signal.ts";
import { createPostgresSignal } from "../../server/src/platform/outbox-signal-postgres.ts";
import { createLocalAuth } from "./auth.ts";
import { createLocalCloudinary } from "./cloudinary/app.ts";
import { nodeResolver } from "./dns.ts";
import { type MigrateResult, migrate } from "./migrate.ts";
import { openPglite } from "./pglite-image.ts";
import { createBroadcastRoutes } from "./realtime/rest.ts";
import { createRealtimeServer, type RealtimeServer } from "./realtime/server.ts";
import { mintToken } from "./tokens.ts";
import { startUpstashBridge } from "./upstash-bridge/bridge.ts";

/** Where the local stack's Cloudinary-compatible endpoint is mounted on its server. */
export const CLOUDINARY_PREFIX = "/cloudinary";
const LOCAL_CLOUD = { cloudName: "local", apiKey: "local-key", apiSecret: "local-secret" };

/** Settings that point the API at the local image endpoint served at `origin` + /cloudinary. */
export function localCloudinaryEnv(origin: string): Record<string, string> {
  const { cloudName, apiKey, apiSecret } = LOCAL_CLOUD;
  return {
    CLOUDINARY_URL: `cloudinary://${apiKey}:${apiSecret}@${cloudName}?upload_prefix=${origin}/cloudinary`,
    IMAGES_CDN_URL: `${origin}/cloudinary/${cloudName}`,
  };
}

/** Settings the local stack assumes when the environment leaves them out. */
export const LOCAL_DEFAULTS = {
  SUPABASE_JWT_SECRET: LOCAL_JWT_SECRET,
  CORS_ORIGINS: "http://localhost:3000,http://127.0.0.1:3000,http://localhost:5173,http://127.0.0.1:5173",
  // Webhook receivers on this machine (http, loopback) are allowed locally; production refuses them.
  WEBHOOKS_ALLOW_PRIVATE_URLS: "true",
  ...localCloudinaryEnv("http://127.0.0.1:54321"),
};

/** The local stack's metrics token when METRICS_TOKEN is unset (local only, like the JWT secret). */
export const LOCAL_METRICS_TOKEN = "storekeep-local-metrics-token";

/** Supabase local serves functions at /functions/v1/<name>; the function itself sees /<name>/... */
export const FUNCTIONS_PREFIX = "/functions/v1";

export interface LocalStackOptions {
  env?: Record<string, string | undefined>;
  /** Where PGlite keeps its data; `undefined` keeps it in memory. */
  dataDir?: string;
  fresh?: boolean;
  port?: number;
  runJobs?: boolean;
  /** Where the local image endpoint keeps assets; default a temporary directory. */
  imagesDir?: string;
  /** An already open database (tests): used as is, its owner closes it. */
  db?: Db;
  /** How often the local Realtime feed polls Postgres (ms). */
  realtimePollMs?: number;
  /** Where log lines go instead of stdout (tests read them). */
  writeLog?: (line: string) => void;
}

export interface LocalStack {
  /** The api function's base URL (`.../functions/v1/api`). */
  url: string;
  /** What supabase-js's createClient takes: the project URL and its anon key. */
  supabaseUrl: string;
  anonKey: string;
  config: Config;
  services: Services;
  migration: MigrateResult;
  close(): Promise<void>;
}

export async function openLocalDb(config: Config, options: Pick<LocalStackOptions, "dataDir" | "fresh">): Promise<Db> {
  return (await openLocalDatabase(config, options)).db;
}

/** The database and its "events committed" signal (PGlite's listen, or LISTEN on a pg connection). */
export async function openLocalDatabase(
  config: Config,
  options: Pick<LocalStackOptions, "dataDir" | "fresh">,
): Promise<{ db: Db; outboxSignal: OutboxSignal }> {
  if (config.databaseUrl) {
    return {
      db: createPostgresDb(config.databaseUrl, { max: config.dbPoolMax, acquireTimeoutMs: config.dbPoolTimeoutMs }),
      outboxSignal: createPostgresSignal(config.databaseUrl),
    };
  }
  if (options.dataDir && options.fresh) await rm(options.dataDir, { recursive: true, force: true });
  const pglite = options.dataDir ? await openPglite(options.dataDir) : await PGlite.create();
  return { db: createPgliteDb(pglite), outboxSignal: createListenSignal(pglite) };
}

/** The whole stack on one machine: database, migrations, seed, the api function, job timers. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env: Record<string, string | undefined> = {
    ...LOCAL_DEFAULTS,
    METRICS_TOKEN: LOCAL_METRICS_TOKEN,
    ...(options.env ?? process.env),
  };
  // With REDIS_URL the API reaches that Redis the way production reaches Upstash: over the REST
  // protocol, through the bridge. Without it, shared state stays in process.
  const bridge =
    env.REDIS_URL && !env.UPSTASH_REDIS_REST_URL
      ? await startUpstashBridge({ redisUrl: env.REDIS_URL, token: randomBytes(24).toString("base64url") })
      : undefined;
  if (bridge) Object.assign(env, { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token });
  // Requests wait for the stack; the port must be known first (the image endpoint's URLs carry it).
  let handle: (request: Request) => Response | Promise<Response> = () =>
    new Response("starting", { status: 503, headers: { "retry-after": "1" } });
  let realtime: RealtimeServer | undefined;
  const { server, port } = await listen((request) => handle(request), options.port ?? 54321);
  server.on("upgrade", (request, socket, head) => {
    if (!realtime?.handleUpgrade(request, socket, head)) socket.destroy();
  });

  // Images go to the endpoint served here unless CLOUDINARY_URL names another account.
  const localImages = !(options.env ?? process.env).CLOUDINARY_URL;
  const config = loadConfig(localImages ? { ...env, ...localCloudinaryEnv(`http://127.0.0.1:${port}`) } : env);
  const { db, outboxSignal } = options.db
    ? { db: options.db, outboxSignal: createPollingSignal(1000) }
    : await openLocalDatabase(config, options);
  const migration = await migrate(db, { seed: true });
  const services = createServices(config, { db, dns: nodeResolver, writeLog: options.writeLog });
  const app = createApp(services);
  realtime = await createRealtimeServer({
    db,
    tokens: services.tokens,
    logger: services.logger,
    pollIntervalMs: options.realtimePollMs,
  });
  const cloudinary = localImages
    ? createLocalCloudinary({
        root: options.imagesDir ?? join(tmpdir(), `storekeep-cloudinary-${process.pid}`),
        ...LOCAL_CLOUD,
        basePath: CLOUDINARY_PREFIX,
      })
    : undefined;

  // One port, Supabase's URL shape: /functions/v1/<name>, /auth/v1, /realtime/v1 (and /cloudinary).
  const gateway = new Hono();
  gateway.use("/auth/*", cors({ origin: config.corsOrigins, credentials: true }));
  gateway.use("/realtime/*", cors({ origin: config.corsOrigins }));
  gateway.route("/auth/v1", createLocalAuth({ db, tokens: services.tokens, jwtSecret: config.jwtSecret ?? "" }));
  gateway.route("/realtime/v1/api", createBroadcastRoutes(realtime, services.tokens));
  if (cloudinary) {
    gateway.all(`${CLOUDINARY_PREFIX}/*`, (c) => {
      const url = new URL(c.req.url);
      url.pathname = url.pathname.slice(CLOUDINARY_PREFIX.length);
      return cloudinary.app.fetch(new Request(url, c.req.raw));
    });
  }
  gateway.all("*", (c) => app.fetch(withoutFunctionsPrefix(c.req.raw, peerAddress(c.env))));
  handle = gateway.fetch;

  const timers = options.runJobs === false ? [] : startJobTimers(services);
  // Webhooks leave within a second of their commit: the configured sender (built-in dispatcher,
  // or Svix Cloud with SVIX_API_KEY) runs continuously, woken by NOTIFY.
  const dispatcher = options.runJobs === false ? undefined : await services.webhooks.start({ signal: outboxSignal });

  const anonKey = await mintToken({ secret: config.jwtSecret ?? "", role: "anon", expiresIn: "10y" });

  return {
    url: `http://127.0.0.1:${port}${FUNCTIONS_PREFIX}/api`,
    supabaseUrl: `http://127.0.0.1:${port}`,
    anonKey,
    config,
    services,
    migration,
    async close() {
      for (const timer of timers) clearInterval(timer);
      await dispatcher?.stop();
      await realtime.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (!options.db) await db.close();
      await bridge?.close();
    },
  };
}

/** Serves a fetch handler on loopback; `port` 0 picks a free one. */
async function listen(fetch: (request: Request) => Response | Promise<Response>, port: number) {
  const server = serve({ hostname: "127.0.0.1", port, fetch });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", reject);
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/** The api function alone on a real socket at Supabase local's URL shape (keep-alive tests). */
export function serveApi(app: { fetch: (request: Request) => Response | Promise<Response> }, port: number) {
  return listen((request) => app.fetch(withoutFunctionsPrefix(request)), port);
}

function withoutFunctionsPrefix(request: Request, peer?: string): Request {
  const url = new URL(request.url);
  if (!url.pathname.startsWith(`${FUNCTIONS_PREFIX}/`)) return request;
  url.pathname = url.pathname.slice(FUNCTIONS_PREFIX.length);
  // As Supabase's gateway does: the function learns the prefix it was called under, and (like any
  // proxy) the address it was called from, appended to X-Forwarded-For (per-IP rate limits).
  const forwarded = new Request(url, request);
  forwarded.headers.set("x-forwarded-prefix", FUNCTIONS_PREFIX);
  if (peer) {
    const earlier = request.headers.get("x-forwarded-for");
    forwarded.headers.set("x-forwarded-for", earlier ? `${earlier}, ${peer}` : peer);
  }
  return forwarded;
}

/** The socket's remote address, from @hono/node-server's bindings. */
function peerAddress(env: unknown): string | undefined {
  return (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
}

function startJobTimers(services: Services): ReturnType<typeof setInterval>[] {
  return jobs.map((job) => {
    const timer = setInterval(() => {
      runJob(job, services)
        .then((result) => services.logger.debug("job ran", { job: job.name, ...result }))
        .catch((error: unknown) =>
          services.logger.error("job failed", {
            job: job.name,
            message: error instanceof Error ? error.message : String(error),
          }),
        );
    }, job.intervalMs);
    timer.unref();
    return timer;
  });
}
