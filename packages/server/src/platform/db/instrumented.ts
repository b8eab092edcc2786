import type { Metrics } from "../metrics.ts";
import type { Db, Queryable } from "./types.ts";

/**
 * The same Db, timing every statement and transaction into `storekeep_db_query_duration_seconds`
 * and reporting the pool's connections at scrape time.
 */
export function instrumentDb(db: Db, metrics: Metrics): Db {
  const duration = metrics.histogram(
    "storekeep_db_query_duration_seconds",
    "Database round trips: single statements (query) and whole transactions (transaction)",
    ["kind"],
  );
  const statement = duration.labels({ kind: "query" });
  const whole = duration.labels({ kind: "transaction" });

  const timed = (target: Queryable): Queryable => ({
    async query(sql, params) {
      const end = statement.startTimer();
      try {
        return await target.query(sql, params);
      } finally {
        end();
      }
    },
    exec: (script) => target.exec(script),
  });

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

  async function time<T>(run: () => Promise<T>): Promise<T> {
    const end = whole.startTimer();
    try {
      return await run();
    } finally {
      end();
    }
  }

  return {
    engine: db.engine,
    ...timed(db),
    transaction: (work) => time(() => db.transaction((tx) => work(timed(tx)))),
    asUser: (claims, work) => time(() => db.asUser(claims, (tx) => work(timed(tx)))),
    close: () => db.close(),
    ...(poolStats ? { poolStats } : {}),
  };
}
