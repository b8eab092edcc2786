import { sha256 } from "../platform/db/idempotency.ts";
import type { Db } from "../platform/db/types.ts";
import { APP_ROLES, type ApiKeyCaller, type AppRole } from "./auth.ts";
import { Problem, type ProblemCode } from "./problems.ts";

/** `sk_live_` or `sk_test_` and 43 base64url characters (migration api_keys). */
export const API_KEY_PATTERN = /^sk_(live|test)_[A-Za-z0-9_-]{43}$/;

/** A key that may act now, and the secret its signed requests are checked with. */
export interface VerifiedKey {
  caller: ApiKeyCaller;
  signingSecret: string;
}

export interface ApiKeyVerifier {
  /** The key's caller, or a 401 problem saying why it may not act (403 when it acts as nobody). */
  verify(key: string, address: string | null): Promise<VerifiedKey>;
}

interface KeyRow {
  id: string;
  status: "active" | "overlap" | "rotated" | "expired" | "revoked";
  scopes: string[];
  app_role: AppRole | null;
  created_by: string | null;
  signing_secret: string;
  [column: string]: unknown;
}

const REFUSED: Partial<Record<KeyRow["status"], [ProblemCode, string]>> = {
  revoked: ["api-key-revoked", "this API key was revoked"],
  expired: ["api-key-expired", "this API key has expired"],
  rotated: ["api-key-rotated", "this API key was rotated and its overlap is over; use its successor"],
};

/**
 * Looks keys up by the SHA-256 of the key (the database never sees a key), in one statement that
 * also records the use at most once a minute (private.api_key_authenticate).
 */
export function createApiKeyVerifier(db: Db): ApiKeyVerifier {
  return {
    async verify(key, address) {
      if (!API_KEY_PATTERN.test(key)) throw new Problem("api-key-invalid", "X-Api-Key must be sk_live_… or sk_test_…");
      const { rows } = await db.query<KeyRow>(
        "select id, status, scopes, app_role, created_by, signing_secret from private.api_key_authenticate($1, $2)",
        [await sha256(key), address],
      );
      const row = rows[0];
      if (!row) throw new Problem("api-key-invalid", "no such API key");
      const refused = REFUSED[row.status];
      if (refused) throw new Problem(refused[0], refused[1]);
      const appRole = APP_ROLES.find((role) => role === row.app_role);
      if (!appRole) throw new Problem("forbidden", "this API key's creator no longer holds a staff role");
      return {
        signingSecret: row.signing_secret,
        caller: {
          kind: "api_key",
          keyId: row.id,
          appRole,
          scopes: row.scopes,
          claims: {
            role: "authenticated",
            ...(row.created_by ? { sub: row.created_by } : {}),
            app_role: appRole,
            api_key_id: row.id,
            scopes: row.scopes,
          },
        },
      };
    },
  };
}
