import type { PGlite, Transaction } from "@electric-sql/pglite";
import type { Db, DbClaims, Queryable, QueryResult, Row } from "./types.ts";
import { ROLE_SQL, roleParams } from "./types.ts";

// node-postgres returns int8 as a string (it may not fit a JS number); PGlite is made to agree.
const SAME_AS_PG = { 20: (value: string) => value };

/** Embedded Postgres (WASM). One connection: PGlite serialises queries and transactions itself. */
export function createPgliteDb(pglite: PGlite): Db {
  const wrap = (target: PGlite | Transaction): Queryable => ({
    async query<T extends Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
      const result = await target.query<T>(sql, params as unknown[] | undefined, { parsers: SAME_AS_PG });
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(script: string) {
      await target.exec(script);
    },
  });

  const transaction = <T>(work: (tx: Queryable) => Promise<T>, claims?: DbClaims): Promise<T> =>
    pglite.transaction(async (tx) => {
      if (claims) await tx.query(ROLE_SQL, roleParams(claims));
      return work(wrap(tx));
    });

  // One connection: busy while any call is out; the others queue behind it (pool metrics).
  let pending = 0;
  const tracked = <T>(run: () => Promise<T>): Promise<T> => {
    pending++;
    return run().finally(() => {
      pending--;
    });
  };
  const direct = wrap(pglite);

  return {
    engine: "pglite",
    query: <T extends Row>(sql: string, params?: readonly unknown[]) => tracked(() => direct.query<T>(sql, params)),
    exec: (script) => tracked(() => direct.exec(script)),
    transaction: (work) => tracked(() => transaction(work)),
    asUser: (claims, work) => tracked(() => transaction(work, claims)),
    queryAsUser: <T extends Row>(claims: DbClaims, sql: string, params?: readonly unknown[]) =>
      tracked(() => transaction((tx) => tx.query<T>(sql, params), claims)),
    close: () => pglite.close(),
    poolStats: () => ({ total: 1, idle: pending === 0 ? 1 : 0, waiting: Math.max(0, pending - 1) }),
  };
}
