import type { Metrics } from "../metrics.ts";
import type { Db } from "./types.ts";

/**
 * Reports the pool's connections (in use, idle) and the callers waiting for one at scrape time.
 * Statements are not timed here: a timing wrapper around every statement and transaction made
 * 300 concurrent reservations on a pool of 10 time out waiting for connections on a loaded
 * machine (tests/inventory.concurrency), so request durations cover the database instead.
 */
export function instrumentDb(db: Db, metrics: Metrics): Db {
  const poolStats = db.poolStats?.bind(db);
  if (poolStats) {
    const connections = metrics.gauge("storekeep_db_pool_connections", "Pool connections by state", ["state"]);
    const waiting = metrics.gauge("storekeep_db_pool_waiting", "Callers queued for a pool connection");
    metrics.onScrape("db_pool", () => {
      const stats = poolStats();
      connections.set({ state: "in_use" }, stats.total - stats.idle);
      connections.set({ state: "idle" }, stats.idle);
      waiting.set(stats.waiting);
    });
  }
  return db;
}
