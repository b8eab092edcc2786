import { createRemoteJWKSet, decodeProtectedHeader, type JWTPayload, errors as joseErrors, jwtVerify } from "jose";
import type { DbClaims } from "../platform/db/types.ts";
import { Problem } from "./problems.ts";
import type { Scope } from "./scopes.ts";

/** Staff roles, most powerful first. Customers carry no `app_role`. */
export const APP_ROLES = ["owner", "admin", "manager", "staff", "viewer"] as const;
export type AppRole = (typeof APP_ROLES)[number];

/**
 * Who may call a route: callers holding `role` or a more powerful one; an API key also needs
 * `scope` (see `requireAccess`).
 */
export interface Access {
  role: AppRole;
  scope: Scope;
}

export type Caller =
  | { kind: "anonymous"; claims: DbClaims }
  | { kind: "user"; userId: string; appRole: AppRole | null; claims: DbClaims }
  | { kind: "service"; claims: DbClaims }
  | ApiKeyCaller;

/**
 * A server of another system calling with `X-Api-Key`. It acts with its scopes only, and in the
 * database as its creator with `appRole` (its role cap, bounded by the creator's current role):
 * `claims` carry that role, `api_key_id` and `scopes`, so RLS and the SQL functions see the key.
 */
export interface ApiKeyCaller {
  kind: "api_key";
  keyId: string;
  appRole: AppRole;
  scopes: readonly string[];
  claims: DbClaims;
}

export const ANONYMOUS: Caller = { kind: "anonymous", claims: { role: "anon" } };

export interface TokenVerifier {
  verify(token: string): Promise<Caller>;
}

const SYMMETRIC_ALGORITHMS = ["HS256"];
const ASYMMETRIC_ALGORITHMS = ["ES256", "RS256", "EdDSA"];

/**
 * Verifies Supabase access tokens: the legacy HS256 secret and/or the project's JWKS.
 * Algorithms are allow-listed per key kind (never `none`); `exp` is required; user tokens
 * must be for audience `authenticated`.
 */
export function createTokenVerifier(options: { secret?: string; jwksUrl?: string }): TokenVerifier {
  const secret = options.secret ? new TextEncoder().encode(options.secret) : undefined;
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl), { cacheMaxAge: 10 * 60_000 }) : undefined;

  async function verifySignature(token: string): Promise<JWTPayload> {
    const header = decodeHeader(token);
    const verifyOptions = { requiredClaims: ["exp"], clockTolerance: 5 };
    if (secret && header.alg === "HS256") {
      return (await jwtVerify(token, secret, { ...verifyOptions, algorithms: SYMMETRIC_ALGORITHMS })).payload;
    }
    if (jwks && ASYMMETRIC_ALGORITHMS.includes(header.alg)) {
      return (await jwtVerify(token, jwks, { ...verifyOptions, algorithms: ASYMMETRIC_ALGORITHMS })).payload;
    }
    throw new Problem("unauthenticated", `tokens signed with ${header.alg} are not accepted`);
  }

  return {
    async verify(token) {
      let payload: JWTPayload;
      try {
        payload = await verifySignature(token);
      } catch (error) {
        if (error instanceof Problem) throw error;
        throw new Problem("unauthenticated", describeJoseError(error));
      }
      return callerFromClaims(payload);
    },
  };
}

function callerFromClaims(payload: JWTPayload): Caller {
  const role = payload.role;
  // Supabase's service key: trusted backend calls, RLS bypassed by the database role itself.
  if (role === "service_role") return { kind: "service", claims: { ...payload, role: "service_role" } };
  const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (role === "anon" && !payload.sub) return ANONYMOUS;
  if (!audiences.includes("authenticated"))
    throw new Problem("unauthenticated", "token audience must be authenticated");
  if (role !== "authenticated" || typeof payload.sub !== "string") {
    throw new Problem("unauthenticated", "token is not a user access token");
  }
  const appRole = APP_ROLES.find((candidate) => candidate === payload.app_role) ?? null;
  return {
    kind: "user",
    userId: payload.sub,
    appRole,
    claims: { ...payload, role: "authenticated", sub: payload.sub },
  };
}

function decodeHeader(token: string): { alg: string } {
  try {
    const { alg } = decodeProtectedHeader(token);
    if (alg) return { alg };
  } catch {
    // reported below
  }
  throw new Problem("unauthenticated", "token is malformed");
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "token has expired";
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `token claim ${error.claim} is invalid`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return "token signature is invalid";
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return "token algorithm is not allowed";
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "token key is unknown";
  return "token is invalid";
}

/** Whether a caller holds at least `minimum` (service role passes every check). */
export function hasRole(caller: Caller, minimum: AppRole): boolean {
  if (caller.kind === "service") return true;
  if ((caller.kind !== "user" && caller.kind !== "api_key") || !caller.appRole) return false;
  return APP_ROLES.indexOf(caller.appRole) <= APP_ROLES.indexOf(minimum);
}
