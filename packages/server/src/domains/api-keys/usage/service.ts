// API key usage: requests per key by day, route template and status, counted in the shared store
// (one hash per key and day, one field per route and status), never in Postgres: a request adds one
// buffered increment that rides in the next rate-limit check's pipeline (platform/kv Counters).

import { Problem } from "../../../http/problems.ts";
import { callAsUser } from "../../../platform/db/call.ts";
import type { Db, DbClaims } from "../../../platform/db/types.ts";
import { type Counters, StoreUnavailableError } from "../../../platform/kv/index.ts";
import type { ApiKeyUsage } from "./schemas.ts";

const DAY_MS = 86_400_000;
/** The most days one request may ask for (one pipelined read). */
export const MAX_USAGE_DAYS = 92;

const usageKey = (keyId: string, day: string) => `usage:${keyId}:${day}`;
const dayOf = (at: number) => new Date(at).toISOString().slice(0, 10);

/** Counts one request of a key; its day's hash lives `retentionDays` after the day ends. */
export function countRequest(
  counters: Counters,
  request: { keyId: string; method: string; route: string; status: number; at: number },
  retentionDays: number,
) {
  const day = dayOf(request.at);
  const expireAt = Math.floor((Date.parse(day) + DAY_MS * (1 + retentionDays)) / 1000);
  counters.add(usageKey(request.keyId, day), `${request.method} ${request.route} ${request.status}`, 1, expireAt);
}

/** The days from..to (UTC), defaulting to the last seven; a clear 422 for a range we cannot answer. */
export function usageDays(query: { from?: string; to?: string }, now: number): string[] {
  const to = query.to ?? dayOf(now);
  const from = query.from ?? dayOf(Date.parse(to) - 6 * DAY_MS);
  const span = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
  if (span < 1) throw invalid("from", "must not be after to");
  if (span > MAX_USAGE_DAYS) throw invalid("from", `at most ${MAX_USAGE_DAYS} days from to`);
  return Array.from({ length: span }, (_, i) => dayOf(Date.parse(from) + i * DAY_MS));
}

function invalid(field: string, message: string) {
  return new Problem("validation-failed", `${field} ${message}`, { errors: [{ field: `query.${field}`, message }] });
}

/** A key's usage over the days, for a caller allowed to see the key (admins and up; else 403, unknown 404). */
export async function readUsage(
  db: Db,
  counters: Counters,
  claims: DbClaims,
  keyId: string,
  days: string[],
): Promise<ApiKeyUsage> {
  await callAsUser(db, claims, "select private.api_key_get($1) as result", [keyId]);
  let hashes: Record<string, number>[];
  try {
    hashes = await counters.read(days.map((day) => usageKey(keyId, day)));
  } catch (error) {
    if (error instanceof StoreUnavailableError) {
      throw new Problem("unavailable", "usage counters live in Redis, which is unavailable right now");
    }
    throw error;
  }
  const perDay = days.map((date, i) => {
    const requests = Object.entries(hashes[i] ?? {}).map(([field, count]) => {
      const [method = "", route = "", status = ""] = splitField(field);
      return { method, route, status: Number(status), count };
    });
    requests.sort((a, b) => b.count - a.count || a.route.localeCompare(b.route) || a.status - b.status);
    return { date, total: requests.reduce((sum, line) => sum + line.count, 0), requests };
  });
  return {
    api_key_id: keyId,
    from: days[0] ?? "",
    to: days[days.length - 1] ?? "",
    total: perDay.reduce((sum, day) => sum + day.total, 0),
    days: perDay,
  };
}

/** `GET /v1/products/{id} 200` -> method, route, status (routes hold no spaces). */
function splitField(field: string): [string, string, string] {
  const first = field.indexOf(" ");
  const last = field.lastIndexOf(" ");
  return [field.slice(0, first), field.slice(first + 1, last), field.slice(last + 1)];
}
