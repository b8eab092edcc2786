import type { Queryable } from "../platform/db/types.ts";
import type { FieldError } from "./problems.ts";
import { businessDetail, isSqlError, type SqlError } from "./sql-errors.ts";

/**
 * What a named database constraint (check, unique, foreign key, or unique index) means to a client:
 * the field of the row it guards (relative to the row, as the API names it; null when no client
 * field can break it) and a sentence a form can show. Each domain exports its own table
 * (`domains/<name>/constraints.ts`); the composition root gathers them, and a test fails when a
 * constraint in the migrations has no entry.
 */
export interface ConstraintRule {
  table: string;
  field: string | null;
  /** Machine-readable: taken, invalid, too_long, out_of_range, not_found, in_use, inconsistent, ... */
  code: string;
  message: string;
}

export type ConstraintRules = Record<string, ConstraintRule>;

/** Builds one domain's table: `rules("public.brands", { brands_handle_key: ["handle", "taken", "..."] })`. */
export function rules(
  table: string,
  entries: Record<string, [field: string | null, code: string, message: string]>,
): ConstraintRules {
  return Object.fromEntries(
    Object.entries(entries).map(([name, [field, code, message]]) => [name, { table, field, code, message }]),
  );
}

/** A field path that already says where it is (`body.x`, `query.x`, ...) rather than naming a row's column. */
const LOCATED = /^(body|query|path|header)(\.|$)/;

/**
 * Where the rows a request writes sit in its body, so an error about one row names it:
 * `{ table: "public.product_variants", path: "body.variants", rows: input.variants }`.
 */
export interface RowsAt {
  table: string;
  path: string;
  rows: readonly unknown[];
}

/** An error thrown while writing rows, with the path of the row at fault when it was found. */
export interface Located {
  rowPath?: string;
}

/** The field error for a broken constraint: its rule's field under the row's path (`body` by default). */
export function constraintFieldError(rule: ConstraintRule, rowPath = "body"): FieldError & { code: string } {
  const field = !rule.field ? rowPath : LOCATED.test(rule.field) ? rule.field : `${rowPath}.${rule.field}`;
  return { field, code: rule.code, message: rule.message };
}

/**
 * Business errors raised by row triggers name a row's column (`currency`); this puts such a field
 * under the path of the row it came from (`body` when unknown), and drops the row's `sku` that
 * served to find it.
 */
export function locateFieldErrors(errors: unknown, rowPath = "body"): unknown {
  if (!Array.isArray(errors)) return errors;
  return errors.map((item) => {
    if (typeof item !== "object" || item === null) return item;
    const { sku: _, ...error } = item as { field?: unknown; sku?: unknown };
    if (typeof error.field !== "string" || LOCATED.test(error.field)) return error;
    return { ...error, field: `${rowPath}.${error.field}` };
  });
}

/**
 * Finds the row of `rowsAt` an error is about and records its path on the error (`rowPath`): for a
 * broken constraint the database evaluates the constraint itself over the rows given (a check's
 * expression, or a unique index against stored rows and the other rows given); for a business
 * error, the sku it names. `tx` must be usable (a fresh transaction, or one whose failed part was
 * rolled back to a savepoint). Errors of any other kind pass untouched.
 */
export async function locateRow(tx: Queryable, error: unknown, rowsAt: readonly RowsAt[]): Promise<void> {
  if (!isSqlError(error)) return;
  const located = error as SqlError & Located;
  if (error.constraint) {
    for (const at of rowsAt) {
      if (at.rows.length === 0) continue;
      const found = await tx
        .query<{ found: number[] }>("select private.rows_breaking($1, $2::regclass, $3::jsonb) as found", [
          error.constraint,
          at.table,
          JSON.stringify(at.rows),
        ])
        .catch(() => undefined); // locating is a courtesy: never let it hide the error itself
      const index = found?.rows[0]?.found?.[0];
      if (index !== undefined) {
        located.rowPath = `${at.path}.${index}`;
        return;
      }
    }
    return;
  }
  const errors = businessDetail(error).errors;
  if (!Array.isArray(errors)) return;
  const sku = errors.map((item) => (item as { sku?: unknown })?.sku).find((value) => typeof value === "string");
  if (typeof sku !== "string") return;
  for (const { path, rows } of rowsAt) {
    const index = rows.findIndex((row) => {
      const rowSku = (row as { sku?: unknown } | null)?.sku;
      return typeof rowSku === "string" && rowSku.toLowerCase() === sku.toLowerCase();
    });
    if (index >= 0) {
      located.rowPath = `${path}.${index}`;
      return;
    }
  }
}
