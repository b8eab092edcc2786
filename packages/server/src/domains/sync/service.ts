import { callAsUser } from "../../platform/db/call.ts";
import type { Db, DbClaims } from "../../platform/db/types.ts";

// Catch-up runs in SQL (private.sync_changes / sync_status): the caller's role decides which
// topics it reads, and a cursor older than retention raises P0G01 (410).

export interface SyncPage {
  data: { cursor: string; event_id: number; topic: string; data: Record<string, unknown>; occurred_at: string }[];
  next_cursor: string;
  has_more: boolean;
}

export function changesSince(db: Db, claims: DbClaims, query: { since: string; topics?: string[]; limit: number }) {
  return callAsUser<SyncPage>(db, claims, "select private.sync_changes($1, $2, $3) as result", [
    query.since,
    query.topics ?? null,
    query.limit,
  ]);
}

export interface SyncStatus {
  cursor?: string;
  head_cursor: string;
  oldest_cursor: string;
  behind?: number;
  up_to_date?: boolean;
}

export function syncStatus(db: Db, claims: DbClaims, query: { cursor?: string; topics?: string[] }) {
  return callAsUser<SyncStatus>(db, claims, "select private.sync_status($1, $2) as result", [
    query.cursor ?? null,
    query.topics ?? null,
  ]);
}
