import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../packages/local/src/tokens.ts";
import { createTokenVerifier, hasRole } from "../packages/server/src/http/auth.ts";
import { Problem } from "../packages/server/src/http/problems.ts";
import { TEST_SECRET } from "./helpers/app.ts";

const sub = "00000000-0000-4000-8000-000000000004";
const verifier = createTokenVerifier({ secret: TEST_SECRET });

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(Problem);
    expect((error as Problem).code).toBe("unauthenticated");
    return (error as Problem).message;
  }
  throw new Error("the token was accepted");
}

describe("HS256 tokens (Supabase legacy secret)", () => {
  it("accepts a valid user token and reads app_role", async () => {
    const caller = await verifier.verify(await mintToken({ secret: TEST_SECRET, sub, appRole: "staff" }));
    expect(caller).toMatchObject({ kind: "user", userId: sub, appRole: "staff" });
    expect(hasRole(caller, "staff")).toBe(true);
    expect(hasRole(caller, "manager")).toBe(false);
  });

  it("treats an unknown app_role as none", async () => {
    const caller = await verifier.verify(
      await mintToken({ secret: TEST_SECRET, sub, extraClaims: { app_role: "god" } }),
    );
    expect(caller).toMatchObject({ kind: "user", appRole: null });
    expect(hasRole(caller, "viewer")).toBe(false);
  });

  it("rejects an expired token", async () => {
    const token = await mintToken({
      secret: TEST_SECRET,
      sub,
      appRole: "staff",
      expiresIn: Math.floor(Date.now() / 1000) - 60,
    });
    expect(await rejection(verifier.verify(token))).toMatch(/expired/);
  });

  it("rejects a token without exp", async () => {
    const token = await new SignJWT({ role: "authenticated", aud: "authenticated", sub })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode(TEST_SECRET));
    expect(await rejection(verifier.verify(token))).toMatch(/exp/);
  });

  it("rejects a token signed with another secret", async () => {
    const token = await mintToken({ secret: "another-secret-that-is-at-least-32-characters", sub, appRole: "owner" });
    expect(await rejection(verifier.verify(token))).toMatch(/signature/);
  });

  it("rejects alg none", async () => {
    const token = new UnsecuredJWT({ role: "authenticated", sub, app_role: "owner" })
      .setAudience("authenticated")
      .setExpirationTime("1h")
      .encode();
    expect(await rejection(verifier.verify(token))).toMatch(/none/);
  });

  it("rejects the wrong audience", async () => {
    const token = await mintToken({ secret: TEST_SECRET, sub, appRole: "owner", audience: "storefront" });
    expect(await rejection(verifier.verify(token))).toMatch(/audience/);
  });

  it("rejects garbage", async () => {
    expect(await rejection(verifier.verify("not.a.jwt"))).toMatch(/malformed/);
  });

  it("accepts the service role", async () => {
    const caller = await verifier.verify(await mintToken({ secret: TEST_SECRET, role: "service_role" }));
    expect(caller.kind).toBe("service");
    expect(hasRole(caller, "owner")).toBe(true);
  });
});

describe("asymmetric tokens from a JWKS URL", () => {
  let server: Server;
  let jwksUrl: string;
  const keys = generateKeyPair("ES256");

  beforeAll(async () => {
    const { publicKey } = await keys;
    const jwk = { ...(await exportJWK(publicKey)), kid: "key-1", alg: "ES256", use: "sig" };
    server = createServer((_, response) => {
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/auth/v1/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const sign = async (claims: Record<string, unknown>, kid = "key-1") =>
    new SignJWT({ role: "authenticated", ...claims })
      .setProtectedHeader({ alg: "ES256", kid })
      .setAudience("authenticated")
      .setSubject(sub)
      .setExpirationTime("1h")
      .sign((await keys).privateKey);

  it("accepts a token signed by a key in the set", async () => {
    const caller = await createTokenVerifier({ jwksUrl }).verify(await sign({ app_role: "manager" }));
    expect(caller).toMatchObject({ kind: "user", appRole: "manager" });
  });

  it("rejects a token signed by another key", async () => {
    const other = await generateKeyPair("ES256");
    const token = await new SignJWT({ role: "authenticated" })
      .setProtectedHeader({ alg: "ES256", kid: "key-1" })
      .setAudience("authenticated")
      .setSubject(sub)
      .setExpirationTime("1h")
      .sign(other.privateKey);
    expect(await rejection(createTokenVerifier({ jwksUrl }).verify(token))).toMatch(/signature/);
  });

  it("refuses HS256 when only a JWKS is configured", async () => {
    const token = await mintToken({ secret: TEST_SECRET, sub, appRole: "owner" });
    expect(await rejection(createTokenVerifier({ jwksUrl }).verify(token))).toMatch(/HS256/);
  });
});
