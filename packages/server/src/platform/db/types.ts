export type Row = Record<string, unknown>;

export interface QueryResult<T extends Row = Row> {
  rows: T[];
  rowCount: number;
}

/** Anything that runs one parameterised statement: the pool or an open transaction. */
export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /** Runs a multi-statement script without parameters (migrations, seed). */
  exec(script: string): Promise<void>;
}

/** The claims PostgREST would put in `request.jwt.claims`; `role` picks the database role. */
export interface DbClaims {
  role: "anon" | "authenticated" | "service_role";
  sub?: string;
  app_role?: string;
  [claim: string]: unknown;
}

/**
 * The one way services reach Postgres. `asUser` runs a transaction exactly as PostgREST does:
 * `set local role` plus `request.jwt.claims`, so row level security applies.
 */
export interface Db extends Queryable {
  readonly engine: "postgres" | "pglite";
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  asUser<T>(claims: DbClaims, work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** One statement run as the caller, in its own transaction: `asUser` for a single statement, in one round trip. */
  queryAsUser<T extends Row = Row>(claims: DbClaims, sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  close(): Promise<void>;
  /** Connections of a pool (absent for a single connection such as PGlite's). */
  poolStats?(): PoolStats;
}

export interface PoolStats {
  total: number;
  idle: number;
  /** Callers queued for a connection. */
  waiting: number;
}

/**
 * The database cannot serve this request now (its connection was lost, no connection came free in
 * time): nothing the caller sent is at fault, and the same request may succeed when retried.
 */
export class DbUnavailable extends Error {
  override name = "DbUnavailable";
  constructor(
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}

/**
 * How long a transaction run as a user may wait for a lock and run one statement, so a locked table
 * or a runaway query holds a pooled connection for a bounded time (the statement then fails with
 * 55P03 or 57014, answered 503 with Retry-After). Statement limits are Supabase's own role defaults.
 */
export interface DbTimeouts {
  statementMs: number;
  lockMs: number;
}

// The lock wait is long enough for a queue of pooled writers on one hot row (300 concurrent
// reservations of one sku on 25 connections wait up to ~2 s on a loaded machine), and far shorter
// than a table lock held by a migration or by hand.
export const ROLE_TIMEOUTS: Record<DbClaims["role"], DbTimeouts> = {
  anon: { statementMs: 3_000, lockMs: 5_000 },
  authenticated: { statementMs: 8_000, lockMs: 5_000 },
  // Inbound webhooks and jobs acting for a user: larger batches, same bounded lock wait.
  service_role: { statementMs: 30_000, lockMs: 5_000 },
};

export const ROLE_SQL =
  "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('request.jwt.claim.sub', coalesce($3, ''), true)";

export function roleParams(claims: DbClaims): unknown[] {
  return [claims.role, JSON.stringify(claims), claims.sub ?? null];
}
