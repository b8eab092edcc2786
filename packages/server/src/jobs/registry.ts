import { emitApiKeyAlerts } from "../domains/api-keys/alerts.ts";
import { catalogReads, catalogWarmTargets } from "../domains/catalog/cache.ts";
import { processPendingImports } from "../domains/catalog/transfer/service.ts";
import { destroyQueuedAssets } from "../domains/images/service.ts";
import type { Services } from "../http/env.ts";
import type { CachedRead } from "../platform/cache/read-cache.ts";
import { warmCache } from "../platform/cache/warm.ts";
import type { Db } from "../platform/db/types.ts";

/** A scheduled job: production runs it from pg_cron or the `jobs` function, locally from a timer. */
export interface Job {
  name: string;
  intervalMs: number;
  /** `services` carries configuration and adapters for jobs that need more than the database. */
  run(db: Db, services?: Services): Promise<Record<string, unknown>>;
}

export const jobs: Job[] = [
  {
    name: "outbox.prune",
    intervalMs: 60 * 60_000,
    async run(db) {
      const { rows } = await db.query<{ deleted: number }>("select private.prune_events() as deleted");
      return { deleted: rows[0]?.deleted ?? 0 };
    },
  },
  {
    name: "idempotency.prune",
    intervalMs: 60 * 60_000,
    async run(db) {
      const { rows } = await db.query<{ deleted: number }>("select private.prune_idempotent_requests() as deleted");
      return { deleted: rows[0]?.deleted ?? 0 };
    },
  },
  {
    name: "inventory.expire_reservations",
    intervalMs: 30_000,
    async run(db) {
      const { rows } = await db.query<{ expired: number }>("select private.expire_reservations() as expired");
      return { expired: rows[0]?.expired ?? 0 };
    },
  },
];

// Outbound webhooks as a scheduled job (production: the cron-invoked `jobs` function): the
// configured sender (built-in dispatcher or Svix Cloud) sends until nothing is due or 50 s have
// passed; the local stack also runs it continuously, woken by NOTIFY (packages/local/src/stack.ts).
jobs.push({
  name: "webhooks.dispatch",
  intervalMs: 60_000,
  async run(_db, services) {
    if (!services) throw new Error("webhooks.dispatch needs the services (its configured sender)");
    return { ...(await services.webhooks.drain(50_000)) };
  },
});

// Catalog: publish products whose publish_at has come (production also schedules this with
// pg_cron), and finish any import that still has rows (its request normally processes them).
jobs.push(
  {
    name: "catalog.publish_scheduled",
    intervalMs: 60_000,
    async run(db) {
      const { rows } = await db.query<{ result: { published: number; failed: number } }>(
        "select private.catalog_publish_due() as result",
      );
      return { ...rows[0]?.result };
    },
  },
  {
    name: "catalog.import",
    intervalMs: 15_000,
    async run(db) {
      return { ...(await processPendingImports(db)) };
    },
  },
);

// Images: assets of deleted images, and of uploads never recorded, leave the provider (retried
// with backoff until the provider confirms).
jobs.push({
  name: "images.destroy",
  intervalMs: 30_000,
  async run(db, services) {
    return { ...(await destroyQueuedAssets(db, services?.images)) };
  },
});

// Inventory: record the stock ledger check for the metrics endpoint (production also schedules
// this with pg_cron); a mismatch is an alert, never a silent repair.
jobs.push({
  name: "inventory.check_ledger",
  intervalMs: 5 * 60_000,
  async run(db) {
    const { rows } = await db.query<{ result: { checked: number; mismatches: number } }>(
      "select private.record_ledger_check() as result",
    );
    return { ...rows[0]?.result };
  },
});

// API keys: rotation alerts (api_key.rotation_due, api_key.unused, api_key.overlap_ending), each
// emitted once per key; thresholds from config (API_KEY_MAX_AGE_DAYS, ...).
jobs.push({
  name: "api_keys.alerts",
  intervalMs: 60 * 60_000,
  async run(db, services) {
    if (!services) throw new Error("api_keys.alerts needs the services (its thresholds)");
    return { ...(await emitApiKeyAlerts(db, services.config.apiKeys)) };
  },
});

// Cache: reload the most requested keys and the storefront's entry pages ahead of requests (after a
// deploy or a full invalidation most of them miss). At most 200 keys and 20 s a run.
jobs.push({
  name: "cache.warm",
  intervalMs: 5 * 60_000,
  async run(db, services) {
    if (!services) throw new Error("cache.warm needs the services (its cache)");
    const result = await warmCache(services.cache, {
      reads: Object.values(catalogReads) as CachedRead<never>[],
      targets: await catalogWarmTargets(db),
      limit: 200,
      budgetMs: 20_000,
    });
    return { ...result };
  },
});

/**
 * Runs a job and counts the run (ok or failed, and its duration) in `private.job_runs`, where the
 * metrics endpoint reads runs, failures and lag across every instance. Rethrows the job's error.
 */
export async function runJob(job: Job, services: Services): Promise<Record<string, unknown>> {
  const started = performance.now();
  let error: unknown;
  let result: Record<string, unknown> = {};
  try {
    result = await job.run(services.db, services);
  } catch (caught) {
    error = caught;
  }
  await services.db
    .query("select private.record_job_run($1, $2, $3, $4, $5)", [
      job.name,
      Math.max(1, Math.round(job.intervalMs / 1000)),
      error === undefined,
      Math.round(performance.now() - started),
      error === undefined ? null : error instanceof Error ? error.message : String(error),
    ])
    // Counting the run must not hide the job's own outcome (the database may be what failed).
    .catch((recording: unknown) =>
      services.logger.warn("job run not recorded", {
        job: job.name,
        message: recording instanceof Error ? recording.message : String(recording),
      }),
    );
  if (error !== undefined) throw error;
  return result;
}

export function findJob(name: string): Job | undefined {
  return jobs.find((job) => job.name === name);
}
