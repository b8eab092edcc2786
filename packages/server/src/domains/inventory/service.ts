import { callAsUser } from "../../platform/db/call.ts";
import { idempotentAsUser } from "../../platform/db/idempotency.ts";
import type { Db, DbClaims, Queryable } from "../../platform/db/types.ts";
import type {
  Adjust,
  AdjustResult,
  Level,
  LevelPolicy,
  Movement,
  ReorderSuggestion,
  Reservation,
  Reserve,
  StockStatus,
  StockTransfer,
  Transfer,
  TransferResult,
  VerifyResult,
} from "./schemas.ts";

// Every stock rule lives in SQL (supabase/migrations/202611220200xx_*): each function here is one
// call into one SQL function, run as the caller so the function can check the caller's role.
// Nothing here reads a number, decides and writes it back.

/** One SQL call in the caller's transaction, answering its `result` without the SQL's own `replayed`. */
async function resultIn<T>(tx: Queryable, sql: string, params: unknown[]): Promise<T> {
  const { rows } = await tx.query<{ result: T & { replayed?: boolean } }>(sql, params);
  const { replayed: _, ...result } = rows[0]?.result ?? ({} as T & { replayed?: boolean });
  return result as T;
}

/**
 * Creating calls run through the idempotency store (the key claimed and the first answer recorded
 * in the writing transaction; the same key with another request is a 409), whichever way the key
 * came: the Idempotency-Key header or the body's `idempotency_key` alias. The ledger's own unique
 * key stays as a second guard for direct SQL callers.
 */
export function adjustStock(db: Db, claims: DbClaims, input: Adjust, key?: string) {
  const { idempotency_key: _, ...request } = input;
  return idempotentAsUser(db, claims, key, "adjustStock", request, (tx) =>
    input.kind === "count"
      ? resultIn<AdjustResult>(tx, "select private.count_stock($1, $2, $3, $4, $5, $6, $7) as result", [
          input.sku,
          input.location_code,
          input.counted ?? null,
          input.reason ?? null,
          input.reference?.type ?? null,
          input.reference?.id ?? null,
          key ?? null,
        ])
      : resultIn<AdjustResult>(tx, "select private.adjust_stock($1, $2, $3, $4, $5, $6, $7, $8) as result", [
          input.sku,
          input.location_code,
          input.delta ?? null,
          input.kind,
          input.reason ?? null,
          input.reference?.type ?? null,
          input.reference?.id ?? null,
          key ?? null,
        ]),
  );
}

export function transferStock(db: Db, claims: DbClaims, input: Transfer, key?: string) {
  const { idempotency_key: _, ...request } = input;
  return idempotentAsUser(db, claims, key, "transferStock", request, (tx) =>
    resultIn<TransferResult>(tx, "select private.transfer_stock($1, $2, $3, $4, $5, $6) as result", [
      input.sku,
      input.from_location_code,
      input.to_location_code,
      input.quantity,
      input.reason ?? null,
      key ?? null,
    ]),
  );
}

export function getStockMovement(db: Db, claims: DbClaims, id: number) {
  return callAsUser<Movement>(db, claims, "select private.get_stock_movement($1) as result", [id]);
}

export function getStockTransfer(db: Db, claims: DbClaims, id: string) {
  return callAsUser<StockTransfer>(db, claims, "select private.get_stock_transfer($1) as result", [id]);
}

export function setLevelPolicy(db: Db, claims: DbClaims, input: LevelPolicy) {
  return callAsUser<Level>(db, claims, "select private.set_level_policy($1, $2, $3, $4, $5) as result", [
    input.sku,
    input.location_code,
    input.reorder_point ?? null,
    input.reorder_quantity ?? null,
    input.allow_backorder ?? null,
  ]);
}

export function closeReorderSuggestion(db: Db, claims: DbClaims, id: string, status: "resolved" | "dismissed") {
  return callAsUser<ReorderSuggestion>(db, claims, "select private.close_reorder_suggestion($1, $2) as result", [
    id,
    status,
  ]);
}

/**
 * The key lives in the idempotency store, per caller, compared with the request: the same key with
 * other lines is a 409, never the first reservation passed off as this one.
 */
export function reserveStock(db: Db, claims: DbClaims, input: Reserve, idempotencyKey?: string) {
  return idempotentAsUser(db, claims, idempotencyKey, "createReservation", input, (tx) =>
    resultIn<Reservation>(tx, "select private.reserve_stock($1::jsonb, $2, $3, $4, null) as result", [
      JSON.stringify(input.items),
      input.ttl_seconds,
      input.reference?.type ?? null,
      input.reference?.id ?? null,
    ]),
  );
}

export function releaseReservation(db: Db, claims: DbClaims, id: string) {
  return callAsUser<Reservation>(db, claims, "select private.release_reservation($1) as result", [id]);
}

export function commitReservation(db: Db, claims: DbClaims, id: string) {
  return callAsUser<Reservation>(db, claims, "select private.commit_reservation($1) as result", [id]);
}

export function getReservation(db: Db, claims: DbClaims, id: string) {
  return callAsUser<Reservation>(db, claims, "select private.get_reservation($1) as result", [id]);
}

export function stockStatus(
  db: Db,
  claims: DbClaims,
  query: { sku?: string; location_code?: string; stock?: string; after?: string; limit: number },
) {
  return callAsUser<StockStatus[]>(db, claims, "select private.stock_status($1, $2, $3, $4, $5) as result", [
    query.sku ?? null,
    query.location_code ?? null,
    query.stock ?? null,
    query.after ?? null,
    query.limit,
  ]);
}

export function stockHistory(
  db: Db,
  claims: DbClaims,
  query: { sku?: string; location_code?: string; beforeId?: number; limit: number },
) {
  return callAsUser<Movement[]>(db, claims, "select private.stock_history($1, $2, $3, $4) as result", [
    query.sku ?? null,
    query.location_code ?? null,
    query.beforeId ?? null,
    query.limit,
  ]);
}

export function listReorderSuggestions(
  db: Db,
  claims: DbClaims,
  query: { status: string | null; before?: [string, string]; limit: number },
) {
  return callAsUser<(ReorderSuggestion & { cursor_created_at: string })[]>(
    db,
    claims,
    "select private.list_reorder_suggestions($1, $2, $3, $4) as result",
    [query.status, query.before?.[0] ?? null, query.before?.[1] ?? null, query.limit],
  );
}

export function verifyLedger(db: Db, claims: DbClaims) {
  return callAsUser<VerifyResult>(db, claims, "select private.check_stock_ledger() as result", []);
}
