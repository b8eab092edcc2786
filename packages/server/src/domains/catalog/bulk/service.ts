import { constraintFieldError, type Located, locateFieldErrors, locateRow } from "../../../http/constraints.ts";
import { PROBLEM_BASE, Problem, type ProblemCode, problemTypes } from "../../../http/problems.ts";
import { businessDetail, sqlStateProblems } from "../../../http/sql-errors.ts";
import { idempotentAsUser } from "../../../platform/db/idempotency.ts";
import type { Db, DbClaims, Queryable } from "../../../platform/db/types.ts";
import { catalogConstraints } from "../constraints.ts";
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

/** A failed item as a problem (the same SQLSTATE table and constraint rules as whole requests). */
export function itemProblem(error: NonNullable<SqlItem["error"]>, rowPath = "body") {
  const code: ProblemCode = sqlStateProblems[error.sqlstate] ?? "internal";
  const { status, title } = problemTypes[code];
  if (error.sqlstate.startsWith("P0")) {
    const extensions = businessDetail({ code: error.sqlstate, message: error.message, detail: error.detail ?? "" });
    if (extensions.errors) extensions.errors = locateFieldErrors(extensions.errors, rowPath);
    return { type: PROBLEM_BASE + code, title, status, detail: error.message, ...extensions };
  }
  const rule = error.constraint ? catalogConstraints[error.constraint] : undefined;
  return {
    type: PROBLEM_BASE + code,
    title,
    status,
    detail: rule?.message ?? title,
    ...(rule ? { errors: [constraintFieldError(rule, rowPath)] } : {}),
  };
}

/** Where a failed item's fields sit: its product, or the variant of it at fault. */
async function itemRowPath(tx: Queryable, item: SqlItem, op: BulkRequest["ops"][number] | undefined) {
  const at = `body.ops.${item.index}.product`;
  const variants = op && "product" in op ? (op.product as { variants?: unknown[] } | undefined)?.variants : undefined;
  if (!item.error || !variants?.length) return at;
  const located: Located & Record<string, unknown> = {
    code: item.error.sqlstate,
    message: item.error.message,
    detail: item.error.detail ?? undefined,
    constraint: item.error.constraint ?? undefined,
  };
  await locateRow(tx, located, [{ table: "public.product_variants", path: `${at}.variants`, rows: variants }]);
  return located.rowPath ?? at;
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
    const paths = new Map<number, string>();
    for (const item of raw.results) {
      if (item.error) paths.set(item.index, await itemRowPath(tx, item, request.ops[item.index]));
    }
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
        ...(item.error ? { error: itemProblem(item.error, paths.get(item.index)) } : {}),
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
