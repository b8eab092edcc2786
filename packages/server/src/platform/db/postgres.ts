// pg ships no types; Deno takes them from @types/pg through deno.json (Node finds them itself).
// @ts-types="@types/pg"
import pg from "pg";
import type { Db, DbClaims, Queryable, QueryResult, Row } from "./types.ts";
import { ROLE_SQL, roleParams } from "./types.ts";

/**
 * node-postgres pool. Only unnamed statements are used, so it works through Supabase's
 * transaction pooler (Supavisor port 6543) as well as a direct connection.
 */
export function createPostgresDb(url: string, options: { max?: number; applicationName?: string } = {}): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "storekeep",
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: 5_000,
  });
  // An idle client that loses its server must not crash the process; the pool replaces it.
  pool.on("error", () => {});

  const wrap = (client: pg.PoolClient | pg.Pool): Queryable => ({
    async query<T extends Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      const result = await client.query(sql, params as unknown[] | undefined);
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    },
    async exec(script: string) {
      await client.query(script);
    },
  });

  async function transaction<T>(work: (tx: Queryable) => Promise<T>, claims?: DbClaims): Promise<T> {
    const client = await pool.connect();
    try {
      await client.query("begin");
      if (claims) await client.query(ROLE_SQL, roleParams(claims));
      const result = await work(wrap(client));
      await client.query("commit");
      return result;
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  return {
    engine: "postgres",
    ...wrap(pool),
    transaction: (work) => transaction(work),
    asUser: (claims, work) => transaction(work, claims),
    close: () => pool.end(),
    poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
  };
}
