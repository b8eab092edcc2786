import { PROBLEM_BASE, Problem, type ProblemCode, problemTypes } from "../../../http/problems.ts";
import { businessDetail, sqlStateProblems } from "../../../http/sql-errors.ts";
import { idempotentAsUser } from "../../../platform/db/idempotency.ts";
import type { Db, DbClaims } from "../../../platform/db/types.ts";
import type { BulkRequest, BulkResult, Product } from "../schemas.ts";
import { normalizeJson } from "../shared.ts";

interface SqlItem {
  index: number;
  ok: boolean;
  id: string | null;
  product?: Product | null;
  error?: { sqlstate: string; message: string; detail: string | null; constraint: string | null };
}

interface SqlBulk {
  atomic: boolean;
  committed: boolean;
  succeeded: number;
  failed: number;
  results: SqlItem[];
}

/** A failed item as a problem (the same SQLSTATE table as whole requests). */
export function itemProblem(error: NonNullable<SqlItem["error"]>) {
  const code: ProblemCode = sqlStateProblems[error.sqlstate] ?? "internal";
  const { status, title } = problemTypes[code];
  const business = error.sqlstate.startsWith("P0");
  return {
    type: PROBLEM_BASE + code,
    title,
    status,
    detail: business ? error.message : error.constraint ? `${title} (${error.constraint})` : title,
    ...(business ? businessDetail({ code: error.sqlstate, message: error.message, detail: error.detail ?? "" }) : {}),
  };
}

/**
 * Runs the operations in one transaction as the caller; each in its own subtransaction in SQL.
 * With `atomic`, one failure rolls all back and the answer is a 409 problem carrying the results.
 *
 * With an Idempotency-Key the key is claimed in that same transaction and the answer recorded is the
 * mapped result below, exactly as the first request answers it (per-item errors included), so a
 * repeat answers the same ids and problems without running anything. An atomic roll-back is thrown
 * inside the transaction, which releases the key like any other refused creating request: nothing
 * was written, and a repeat runs again.
 */
export function runBulk(
  db: Db,
  claims: DbClaims,
  request: BulkRequest,
  idempotencyKey?: string,
): Promise<{ result: BulkResult; replayed: boolean }> {
  return idempotentAsUser(db, claims, idempotencyKey, "bulkProducts", request, async (tx) => {
    const { rows } = await tx.query<{ result: SqlBulk }>("select private.catalog_bulk($1::jsonb, $2) as result", [
      JSON.stringify(request.ops),
      request.atomic,
    ]);
    const raw = rows[0]?.result;
    if (!raw) throw new Error("catalog_bulk returned nothing");
    const result: BulkResult = {
      atomic: raw.atomic,
      committed: raw.committed,
      succeeded: raw.succeeded,
      failed: raw.failed,
      results: raw.results.map((item) => ({
        index: item.index,
        status: item.ok ? (raw.committed ? "ok" : "rolled_back") : "failed",
        id: raw.committed || !item.ok ? item.id : null,
        ...(item.ok && raw.committed ? { product: item.product ? normalizeJson(item.product) : null } : {}),
        ...(item.error ? { error: itemProblem(item.error) } : {}),
      })),
    };
    if (!result.committed) {
      throw new Problem("conflict", `atomic bulk rolled back: ${result.failed} of ${result.results.length} failed`, {
        ...result,
      });
    }
    return result;
  });
}
