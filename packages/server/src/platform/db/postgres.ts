// pg ships no types; Deno takes them from @types/pg through deno.json (Node finds them itself).
// @ts-types="@types/pg"
import pg from "pg";
import type { Db, DbClaims, Queryable, QueryResult, Row } from "./types.ts";
import { DbUnavailable, ROLE_TIMEOUTS, roleParams } from "./types.ts";

/**
 * `begin` plus the role, its claims and its timeouts as one simple-protocol script: one round trip
 * instead of two (bound parameters would need a statement of their own). Every value is a literal
 * escaped by the driver; the same settings as ROLE_SQL with roleParams.
 */
function beginAsUser(client: pg.ClientBase, claims: DbClaims): string {
  const { statementMs, lockMs } = ROLE_TIMEOUTS[claims.role] ?? ROLE_TIMEOUTS.authenticated;
  const [role, json, sub] = roleParams(claims) as [string, string, string | null];
  const literal = (value: string) => client.escapeLiteral(value);
  return (
    `begin; select set_config('role', ${literal(role)}, true), ` +
    `set_config('request.jwt.claims', ${literal(json)}, true), ` +
    `set_config('request.jwt.claim.sub', ${literal(sub ?? "")}, true), ` +
    `set_config('statement_timeout', ${literal(String(statementMs))}, true), ` +
    `set_config('lock_timeout', ${literal(String(lockMs))}, true)`
  );
}

/**
 * node-postgres pool. Only unnamed statements are used, so it works through Supabase's
 * transaction pooler (Supavisor port 6543) as well as a direct connection.
 *
 * A lost connection (a terminated backend, a restarting pooler) or a pool with no connection free
 * within `acquireTimeoutMs` becomes a DbUnavailable error for that request; the process keeps serving.
 */
export function createPostgresDb(
  url: string,
  options: { max?: number; applicationName?: string; acquireTimeoutMs?: number } = {},
): Db {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "storekeep",
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: options.acquireTimeoutMs ?? 5_000,
  });
  // pg-pool listens for a client's errors only while it is idle, and a backend's last message can
  // arrive after its client was handed to the next waiter but before that waiter could listen: an
  // 'error' event nobody hears ends the process. So every client is heard for its whole life, and
  // one that lost its connection is discarded on release.
  const lost = new WeakSet<pg.ClientBase>();
  pool.on("connect", (client) => {
    client.on("error", () => lost.add(client));
  });
  pool.on("error", () => {});

  const wrap = (client: pg.PoolClient | pg.Pool): Queryable => ({
    async query<T extends Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      const result = await client.query(sql, params as unknown[] | undefined).catch(unavailableIfLost);
      return { rows: result.rows as T[], rowCount: result.rowCount ?? 0 };
    },
    async exec(script: string) {
      await client.query(script).catch(unavailableIfLost);
    },
  });

  async function transaction<T>(work: (tx: Queryable) => Promise<T>, claims?: DbClaims): Promise<T> {
    const client = await pool.connect().catch((error: unknown) => {
      throw new DbUnavailable("no database connection became free in time", error);
    });
    const tx = wrap(client);
    try {
      await tx.exec(claims ? beginAsUser(client, claims) : "begin");
      const result = await work(tx);
      await tx.query("commit");
      return result;
    } catch (error) {
      await client.query("rollback").catch(() => {});
      throw lost.has(client) ? new DbUnavailable("the database connection was lost", error) : error;
    } finally {
      client.release(lost.has(client));
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

/**
 * Errors that say the connection, not the statement, failed: the server ended the session
 * (57P01-57P03), refused it (53300 too many connections), a connection exception (class 08), or a
 * driver error that is neither the server's nor a bad argument (`Connection terminated
 * unexpectedly`, ECONNRESET, a client no longer queryable).
 */
function unavailableIfLost(error: unknown): never {
  if (error instanceof pg.DatabaseError) {
    const sqlstate = error.code ?? "";
    if (sqlstate.startsWith("08") || /^57P0[123]$/.test(sqlstate) || sqlstate === "53300") {
      throw new DbUnavailable("the database connection was lost", error);
    }
    throw error;
  }
  if (error instanceof TypeError || error instanceof RangeError) throw error;
  throw new DbUnavailable("the database connection was lost", error);
}
