import { z } from "@hono/zod-openapi";
import { Problem } from "./problems.ts";

// Optimistic concurrency for every versioned resource: a write names the version it read, by
// `If-Match` or a `version` field; a stale one gets 409 version-conflict with the current state.

export const IfMatchHeaderSchema = z.object({
  "if-match": z
    .string()
    .optional()
    .openapi({ param: { name: "if-match", in: "header" }, description: 'The version you read, e.g. "3"' }),
});

/** The strong ETag of a versioned resource. */
export const etag = (version: number) => `"${version}"`;

/**
 * The version a write expects: `If-Match` ("3", W/"3" or 3) or `version` in the body; they must
 * agree when both are given. Null when neither is.
 */
export function expectedVersion(ifMatch: string | undefined, bodyVersion: number | undefined): number | null {
  let header: number | undefined;
  if (ifMatch !== undefined) {
    // A GET's ETag is "<version>-<body hash>": the version is what a write checks.
    const match = /^\s*(?:W\/)?"?(\d{1,9})(?:-[A-Za-z0-9_-]{1,64})?"?\s*$/.exec(ifMatch);
    if (!match?.[1]) {
      throw new Problem("validation-failed", 'If-Match must be a version such as "3"', {
        errors: [{ field: "header.if-match", message: "not a version" }],
      });
    }
    header = Number(match[1]);
  }
  if (header !== undefined && bodyVersion !== undefined && header !== bodyVersion) {
    throw new Problem("validation-failed", "If-Match and version disagree", {
      errors: [{ field: "body.version", message: "differs from If-Match" }],
    });
  }
  return header ?? bodyVersion ?? null;
}
