import { SignJWT } from "jose";
import type { AppRole } from "../../server/src/http/auth.ts";

/** The demo users the seed creates, one per staff role. */
export const DEMO_USERS: Record<AppRole, string> = {
  owner: "00000000-0000-4000-8000-000000000001",
  admin: "00000000-0000-4000-8000-000000000002",
  manager: "00000000-0000-4000-8000-000000000003",
  staff: "00000000-0000-4000-8000-000000000004",
  viewer: "00000000-0000-4000-8000-000000000005",
};

export interface MintOptions {
  secret: string;
  sub?: string;
  appRole?: AppRole | null;
  role?: "authenticated" | "anon" | "service_role";
  expiresIn?: string | number;
  audience?: string;
  extraClaims?: Record<string, unknown>;
}

/** Signs an access token the way Supabase Auth (with our token hook) would, with the local secret. */
export function mintToken(options: MintOptions): Promise<string> {
  const role = options.role ?? "authenticated";
  const claims: Record<string, unknown> = { role, ...options.extraClaims };
  if (options.appRole) claims.app_role = options.appRole;
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setIssuer("storekeep-local")
    .setExpirationTime(options.expiresIn ?? "12h");
  if (role !== "service_role") jwt.setAudience(options.audience ?? "authenticated");
  if (options.sub) jwt.setSubject(options.sub);
  return jwt.sign(new TextEncoder().encode(options.secret));
}

export function mintStaffToken(secret: string, appRole: AppRole, expiresIn?: string | number): Promise<string> {
  return mintToken({ secret, sub: DEMO_USERS[appRole], appRole, expiresIn });
}
