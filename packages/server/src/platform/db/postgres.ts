// pg ships no types; Deno takes them from @types/pg through deno.json (Node finds them itself).
// @ts-types="@types/pg"
import pg from "pg";
import type { Db, DbClaims, Queryable, QueryResult, Row } from "./types.ts";
import { DbUnavailable, ROLE_SQL, ROLE_TIMEOUTS, roleParams } from "./types.ts";

/** The caller's role, claims and timeouts, as PostgREST sets them: ROLE_SQL plus the role's limits. */
const AS_USER_SQL = `${ROLE_SQL}, set_config('statement_timeout', $4, true), set_config('lock_timeout', $5, true)`;

interface Statement {
  text: string;
  values: unknown[];
}

function asUserSettings(claims: DbClaims): Statement {
  const { statementMs, lockMs } = ROLE_TIMEOUTS[claims.role] ?? ROLE_TIMEOUTS.authenticated;
  return { text: AS_USER_SQL, values: [...roleParams(claims), String(statementMs), String(lockMs)] };
}

const BEGIN: Statement = { text: "begin", values: [] };

/**
 * `sql` with `ahead` sent before it in the same message and the same pipeline segment (one Sync):
 * the server runs them in order in one transaction (the implicit one of the segment, or the block
 * a `begin` ahead opens), skipping the rest after an error. One answer: the first error, or the
 * last statement's result. Each statement keeps its bound parameters.
 */
function queryAfter(
  client: pg.ClientBase,
  ahead: Statement[],
  sql: string,
  params: readonly unknown[] = [],
): Promise<pg.QueryResult> {
  return new Promise((resolve, reject) => {
    // `extended`: a statement without parameters would otherwise go as a simple Query message.
    const config = { text: sql, values: [...params], queryMode: "extended" };
    const query = new pg.Query(config, (error, results) => {
      if (error) return reject(error);
      const answers: unknown = results; // one result per statement
      resolve((Array.isArray(answers) ? answers[answers.length - 1] : answers) as pg.QueryResult);
    });
    const submit = query.submit.bind(query);
    query.submit = (connection) => {
      // Corked, so the statements leave in one write (as pg does for one statement's messages).
      connection.stream.cork?.();
      try {
        for (const statement of ahead) {
          connection.parse({ name: "", text: statement.text, types: [] }, false);
          connection.bind({ values: statement.values as string[] }, false);
          connection.describe({ type: "P" }, false);
          connection.execute({}, false);
        }
        return submit(connection);
      } finally {
        connection.stream.uncork?.();
      }
    };
    client.query(query);
  });
}

/**
 * node-postgres pool. Only unnamed statements are used, so it works through Supabase's
 * transaction pooler (Supavisor port 6543) as well as a direct connection.
 *
 * A transaction's `begin` and the caller's settings go in the message of its first statement
 * (`queryAfter`), so a transaction run as a user costs one round trip per statement plus its commit,
 * and `queryAsUser` (one statement, settings ahead of it, no begin/commit) one round trip in all.
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

  const answer = <T extends Row>(pending: Promise<pg.QueryResult>) =>
    pending.then(
      (result): QueryResult<T> => ({ rows: result.rows as T[], rowCount: result.rowCount ?? 0 }),
      unavailableIfLost,
    );
  const send = <T extends Row>(client: pg.ClientBase, sql: string, params?: readonly unknown[]) =>
    answer<T>(client.query(sql, params as unknown[] | undefined));

  /**
   * A client for one piece of work, released when it settles: discarded if its connection was lost,
   * kept after any other error (pool.query would discard it after a business error too).
   */
  async function withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await pool.connect().catch((error: unknown) => {
      throw new DbUnavailable("no database connection became free in time", error);
    });
    let broken = false;
    try {
      return await work(client);
    } catch (error) {
      broken = lost.has(client) || error instanceof DbUnavailable;
      throw broken && !(error instanceof DbUnavailable)
        ? new DbUnavailable("the database connection was lost", error)
        : error;
    } finally {
      client.release(broken || lost.has(client));
    }
  }

  /**
   * The transaction opens with its first statement: `begin` and the caller's settings travel ahead of
   * it in one message. A transaction whose work sends nothing never opens.
   */
  function transaction<T>(work: (tx: Queryable) => Promise<T>, claims?: DbClaims): Promise<T> {
    return withClient(async (client) => {
      let ahead: Statement[] | undefined = claims ? [BEGIN, asUserSettings(claims)] : [BEGIN];
      const opening = () => {
        const first = ahead;
        ahead = undefined;
        return first;
      };
      const tx: Queryable = {
        query<R extends Row>(sql: string, params?: readonly unknown[]) {
          const first = opening();
          return first ? answer<R>(queryAfter(client, first, sql, params)) : send<R>(client, sql, params);
        },
        async exec(script: string) {
          for (const statement of opening() ?? []) await send(client, statement.text, statement.values);
          await send(client, script);
        },
      };
      try {
        const result = await work(tx);
        if (!ahead) await send(client, "commit");
        return result;
      } catch (error) {
        if (!ahead) await send(client, "rollback").catch(() => {});
        throw error;
      }
    });
  }

  /** One statement as the caller: its settings ahead of it in one message, one implicit transaction. */
  const queryAsUser = <T extends Row>(claims: DbClaims, sql: string, params?: readonly unknown[]) =>
    withClient((client) => answer<T>(queryAfter(client, [asUserSettings(claims)], sql, params)));

  return {
    engine: "postgres",
    query: (sql, params) => withClient((client) => send(client, sql, params)),
    exec: (script) => withClient((client) => send(client, script)).then(() => {}),
    transaction: (work) => transaction(work),
    asUser: (claims, work) => transaction(work, claims),
    queryAsUser,
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
