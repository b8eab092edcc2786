import type { ProblemCode } from "./problems.ts";

/**
 * Business errors raised in SQL carry our own SQLSTATE (class P0, see the migration
 * `business_errors`) and a JSON DETAIL; standard SQLSTATEs a client can provoke map here too.
 * One table, no matching on message text.
 */
export const sqlStateProblems: Record<string, ProblemCode> = {
  // Storekeep business errors (class P0, codes P0A00-P0Z99 are ours; P0001-P0004 are PL/pgSQL's).
  P0N01: "not-found",
  P0F01: "forbidden",
  P0V01: "validation-failed",
  P0C01: "conflict",
  P0C02: "version-conflict",
  P0S01: "insufficient-stock",
  P0P01: "precondition-failed",
  P0G01: "cursor-expired",
  // Standard SQLSTATEs a request can cause.
  "23505": "conflict", // unique_violation
  "23503": "validation-failed", // foreign_key_violation
  "23514": "validation-failed", // check_violation
  "23502": "validation-failed", // not_null_violation
  "22P02": "validation-failed", // invalid_text_representation
  "22003": "validation-failed", // numeric_value_out_of_range
  "22001": "validation-failed", // string_data_right_truncation
  "22007": "validation-failed", // invalid_datetime_format
  "22008": "validation-failed", // datetime_field_overflow
  "22P05": "validation-failed", // untranslatable_character: \u0000 in a JSON string
  "22021": "validation-failed", // character_not_in_repertoire: a NUL byte in text
  "42501": "forbidden", // insufficient_privilege, including row level security refusals
  "40001": "conflict", // serialization_failure: safe to retry
  "40P01": "conflict", // deadlock_detected: safe to retry
  // A lock not granted within lock_timeout, a statement past statement_timeout: the database is
  // busy, not the request wrong; retry after a moment.
  "55P03": "unavailable", // lock_not_available
  "57014": "unavailable", // query_canceled
};

export interface SqlError {
  code: string;
  message: string;
  detail?: string;
  constraint?: string;
  column?: string;
}

export function isSqlError(error: unknown): error is SqlError {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as { code?: unknown }).code === "string" &&
    /^[0-9A-Z]{5}$/.test((error as { code: string }).code)
  );
}

/** Our business errors put machine-readable JSON in DETAIL; anything else stays private. */
export function businessDetail(error: SqlError): Record<string, unknown> {
  if (!error.code.startsWith("P0") || !error.detail) return {};
  try {
    const parsed: unknown = JSON.parse(error.detail);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}
