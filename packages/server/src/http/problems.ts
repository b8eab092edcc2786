import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { publicPath } from "./public-path.ts";

/** The closed set of problem types this API answers with (RFC 9457 `type` is PROBLEM_BASE + code). */
export const PROBLEM_BASE = "https://storekeep.dev/problems/";

export const problemTypes = {
  "malformed-request": { status: 400, title: "Malformed request" },
  unauthenticated: { status: 401, title: "Not authenticated" },
  // API keys (X-Api-Key) and signed requests (README "Signed requests"): each refusal says which.
  "api-key-invalid": { status: 401, title: "Unknown or malformed API key" },
  "api-key-revoked": { status: 401, title: "API key revoked" },
  "api-key-expired": { status: 401, title: "API key expired" },
  "api-key-rotated": { status: 401, title: "API key rotated and its overlap is over: use its successor" },
  "signature-missing": { status: 401, title: "X-Request-Signature missing" },
  "timestamp-missing": { status: 401, title: "X-Request-Timestamp missing" },
  "nonce-missing": { status: 401, title: "X-Request-Nonce missing" },
  "signature-invalid": { status: 401, title: "Request signature does not match" },
  "timestamp-invalid": { status: 401, title: "X-Request-Timestamp is not unix seconds" },
  "timestamp-out-of-window": { status: 401, title: "Request timestamp outside the allowed window" },
  "nonce-invalid": { status: 401, title: "X-Request-Nonce is not 16 or more base64url bytes" },
  "nonce-replayed": { status: 401, title: "Request nonce already used" },
  forbidden: { status: 403, title: "Not allowed" },
  "not-found": { status: 404, title: "Not found" },
  "method-not-allowed": { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "Conflict" },
  "version-conflict": { status: 409, title: "Version conflict" },
  "insufficient-stock": { status: 409, title: "Insufficient stock" },
  "cursor-expired": { status: 410, title: "Cursor expired: reload" },
  "precondition-failed": { status: 412, title: "Precondition failed" },
  "payload-too-large": { status: 413, title: "Payload too large" },
  "unsupported-media-type": { status: 415, title: "Unsupported media type" },
  "validation-failed": { status: 422, title: "Validation failed" },
  "rate-limited": { status: 429, title: "Too many requests" },
  internal: { status: 500, title: "Internal error" },
  unavailable: { status: 503, title: "Service unavailable" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export const RETRY_AFTER_SECONDS = 1;

export type ProblemCode = keyof typeof problemTypes;

export interface FieldError {
  /** Dotted path to the field at fault, e.g. `items.0.quantity`; empty for the whole body. */
  field: string;
  message: string;
  /** Machine-readable reason when there is one: taken, invalid, not_found, ... */
  code?: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

/** An error a handler or service throws to answer with a problem; onError renders it. */
export class Problem extends Error {
  override name = "Problem";
  constructor(
    readonly code: ProblemCode,
    detail?: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail ?? problemTypes[code].title);
  }
  get status(): ContentfulStatusCode {
    return problemTypes[this.code].status;
  }
}

export function problemBody(
  code: ProblemCode,
  detail: string | undefined,
  extensions: Record<string, unknown> = {},
): ProblemBody {
  const { status, title } = problemTypes[code];
  const body: ProblemBody = { type: PROBLEM_BASE + code, title, status, ...(detail ? { detail } : {}) };
  // RFC 9457's own members win over an extension of the same name (a SQL detail's `status` is a
  // row's status, never the HTTP one).
  for (const [name, value] of Object.entries(extensions)) if (!(name in body)) body[name] = value;
  return body;
}

export function problemResponse(
  c: Context,
  code: ProblemCode,
  detail?: string,
  extensions: Record<string, unknown> = {},
): Response {
  const body = problemBody(code, detail, { ...extensions, instance: publicPath(c), request_id: c.get("requestId") });
  const headers: Record<string, string> = { "content-type": "application/problem+json" };
  // Every 503 is a passing condition (a lost connection, a busy pool or lock): say when to retry.
  if (code === "unavailable") headers["retry-after"] = String(RETRY_AFTER_SECONDS);
  return c.body(JSON.stringify(body), problemTypes[code].status, headers);
}
