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

  return {
    engine: "pglite",
    ...wrap(pglite),
    transaction: (work) => transaction(work),
    asUser: (claims, work) => transaction(work, claims),
    close: () => pglite.close(),
  };
}
