import { callAsUser } from "../../platform/db/call.ts";
import type { Db, DbClaims } from "../../platform/db/types.ts";
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
  Transfer,
  TransferResult,
  VerifyResult,
} from "./schemas.ts";

// Every stock rule lives in SQL (supabase/migrations/202611220200xx_*): each function here is one
// call into one SQL function, run as the caller so the function can check the caller's role.
// Nothing here reads a number, decides and writes it back.

/** What a call that takes an idempotency key answers: the result, and whether it repeats the first. */
type Replayable<T> = T & { replayed: boolean };

export function adjustStock(db: Db, claims: DbClaims, input: Adjust) {
  if (input.kind === "count") {
    return callAsUser<Replayable<AdjustResult>>(
      db,
      claims,
      "select private.count_stock($1, $2, $3, $4, $5, $6, $7) as result",
      [
        input.sku,
        input.location_code,
        input.counted ?? null,
        input.reason ?? null,
        input.reference?.type ?? null,
        input.reference?.id ?? null,
        input.idempotency_key ?? null,
      ],
    );
  }
  return callAsUser<Replayable<AdjustResult>>(
    db,
    claims,
    "select private.adjust_stock($1, $2, $3, $4, $5, $6, $7, $8) as result",
    [
      input.sku,
      input.location_code,
      input.delta ?? null,
      input.kind,
      input.reason ?? null,
      input.reference?.type ?? null,
      input.reference?.id ?? null,
      input.idempotency_key ?? null,
    ],
  );
}

export function transferStock(db: Db, claims: DbClaims, input: Transfer) {
  return callAsUser<Replayable<TransferResult>>(
    db,
    claims,
    "select private.transfer_stock($1, $2, $3, $4, $5, $6) as result",
    [
      input.sku,
      input.from_location_code,
      input.to_location_code,
      input.quantity,
      input.reason ?? null,
      input.idempotency_key ?? null,
    ],
  );
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

export function reserveStock(db: Db, claims: DbClaims, input: Reserve, idempotencyKey?: string) {
  return callAsUser<Replayable<Reservation>>(
    db,
    claims,
    "select private.reserve_stock($1::jsonb, $2, $3, $4, $5) as result",
    [
      JSON.stringify(input.items),
      input.ttl_seconds,
      input.reference?.type ?? null,
      input.reference?.id ?? null,
      idempotencyKey ?? null,
    ],
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
