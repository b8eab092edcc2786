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

export const ROLE_SQL =
  "select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('request.jwt.claim.sub', coalesce($3, ''), true)";

export function roleParams(claims: DbClaims): unknown[] {
  return [claims.role, JSON.stringify(claims), claims.sub ?? null];
}
