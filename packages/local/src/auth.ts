// A minimal local Supabase Auth (`/auth/v1`) so a PMS frontend signs in unchanged against
// `npm start`: password and refresh_token grants for the seeded users, the current user, logout.
// Access tokens go through the same custom access token hook as production (so app_role is in the
// claims) and are signed with the local JWT secret. Sessions live in memory: a restart signs
// everyone out. Production uses Supabase Auth.
import { randomBytes, randomUUID } from "node:crypto";
import { Hono } from "hono";
import { SignJWT } from "jose";
import type { TokenVerifier } from "../../server/src/http/auth.ts";
import type { Db } from "../../server/src/platform/db/types.ts";

/** The password of every seeded user locally (printed by `npm start`). */
export const LOCAL_PASSWORD = "storekeep-local";
const ACCESS_TOKEN_SECONDS = 3600;

interface Session {
  id: string;
  userId: string;
  refreshToken: string;
}

type UserRow = {
  id: string;
  email: string | null;
  aud: string | null;
  role: string | null;
  raw_app_meta_data: Record<string, unknown>;
  raw_user_meta_data: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
};

export interface LocalAuthOptions {
  db: Db;
  tokens: TokenVerifier;
  jwtSecret: string;
  password?: string;
}

export function createLocalAuth(options: LocalAuthOptions) {
  const { db, tokens } = options;
  const password = options.password ?? LOCAL_PASSWORD;
  const secret = new TextEncoder().encode(options.jwtSecret);
  const sessions = new Map<string, Session>();
  const refreshTokens = new Map<string, string>();

  const findUser = async (where: "email" | "id", value: string) =>
    (await db.query<UserRow>(`select * from auth.users where ${where} = $1`, [value])).rows[0];

  const userJson = (user: UserRow) => ({
    id: user.id,
    aud: user.aud ?? "authenticated",
    role: user.role ?? "authenticated",
    email: user.email,
    email_confirmed_at: new Date(user.created_at).toISOString(),
    phone: "",
    app_metadata: { provider: "email", providers: ["email"], ...user.raw_app_meta_data },
    user_metadata: user.raw_user_meta_data,
    identities: [],
    created_at: new Date(user.created_at).toISOString(),
    updated_at: new Date(user.updated_at).toISOString(),
    is_anonymous: false,
  });

  // The claims Supabase Auth would put in, then the project's hook (as supabase_auth_admin).
  const issue = async (user: UserRow, session: Session) => {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      aud: "authenticated",
      role: "authenticated",
      sub: user.id,
      email: user.email,
      phone: "",
      app_metadata: { provider: "email", providers: ["email"] },
      user_metadata: user.raw_user_meta_data,
      aal: "aal1",
      amr: [{ method: "password", timestamp: now }],
      session_id: session.id,
      is_anonymous: false,
      iss: "storekeep-local/auth/v1",
      iat: now,
      exp: now + ACCESS_TOKEN_SECONDS,
    };
    const hooked = await db.transaction(async (tx) => {
      await tx.query("set local role supabase_auth_admin");
      const { rows } = await tx.query<{ result: { claims: Record<string, unknown> } }>(
        "select public.custom_access_token_hook($1::jsonb) as result",
        [JSON.stringify({ user_id: user.id, claims, authentication_method: "password" })],
      );
      return rows[0]?.result.claims ?? claims;
    });
    const accessToken = await new SignJWT(hooked).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(secret);
    return {
      access_token: accessToken,
      token_type: "bearer",
      expires_in: ACCESS_TOKEN_SECONDS,
      expires_at: now + ACCESS_TOKEN_SECONDS,
      refresh_token: session.refreshToken,
      user: userJson(user),
    };
  };

  const newRefreshToken = (session: Session) => {
    session.refreshToken = randomBytes(18).toString("base64url");
    refreshTokens.set(session.refreshToken, session.id);
  };

  const fail = (status: number, error_code: string, msg: string) =>
    new Response(JSON.stringify({ code: status, error_code, msg }), {
      status,
      headers: { "content-type": "application/json" },
    });

  const bearer = async (header: string | undefined) => {
    const token = header?.match(/^Bearer\s+(.+)$/i)?.[1];
    if (!token) return undefined;
    try {
      const caller = await tokens.verify(token);
      return caller.kind === "user" ? caller : undefined;
    } catch {
      return undefined;
    }
  };

  const app = new Hono();

  app.post("/token", async (c) => {
    const grant = c.req.query("grant_type");
    const body = (await c.req.json().catch(() => ({}))) as Record<string, unknown>;
    if (grant === "password") {
      const email = typeof body.email === "string" ? body.email.trim().toLowerCase() : "";
      const user = email ? await findUser("email", email) : undefined;
      if (!user || body.password !== password) return fail(400, "invalid_credentials", "Invalid login credentials");
      const session: Session = { id: randomUUID(), userId: user.id, refreshToken: "" };
      newRefreshToken(session);
      sessions.set(session.id, session);
      return c.json(await issue(user, session));
    }
    if (grant === "refresh_token") {
      const sessionId = typeof body.refresh_token === "string" ? refreshTokens.get(body.refresh_token) : undefined;
      const session = sessionId ? sessions.get(sessionId) : undefined;
      if (!session || session.refreshToken !== body.refresh_token) {
        return fail(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found");
      }
      const user = await findUser("id", session.userId);
      if (!user) return fail(400, "user_not_found", "User from sub claim in JWT does not exist");
      refreshTokens.delete(session.refreshToken);
      newRefreshToken(session);
      return c.json(await issue(user, session));
    }
    return fail(400, "validation_failed", "grant_type must be password or refresh_token");
  });

  app.get("/user", async (c) => {
    const caller = await bearer(c.req.header("authorization"));
    const user = caller ? await findUser("id", caller.userId) : undefined;
    if (!user) return fail(401, "bad_jwt", "invalid JWT: unable to parse or verify signature");
    return c.json(userJson(user));
  });

  app.post("/logout", async (c) => {
    const caller = await bearer(c.req.header("authorization"));
    if (!caller) return fail(401, "bad_jwt", "invalid JWT: unable to parse or verify signature");
    const sessionId = caller.claims.session_id;
    const scope = c.req.query("scope") ?? "global";
    for (const session of [...sessions.values()]) {
      const mine = scope === "others" ? session.id !== sessionId : scope === "local" ? session.id === sessionId : true;
      if (session.userId === caller.userId && mine) {
        sessions.delete(session.id);
        refreshTokens.delete(session.refreshToken);
      }
    }
    return c.body(null, 204);
  });

  return app;
}
