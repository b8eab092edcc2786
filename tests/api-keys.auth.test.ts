import { describe, expect, it } from "vitest";
import { issueKey } from "./helpers/api-keys.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// X-Api-Key authentication: which keys may act, and how each refusal reads.
const ctx = useTestDatabase();
const problem = (type: string) => `https://storekeep.dev/problems/${type}`;

describe(`API key authentication on ${engine}`, () => {
  it("refuses a malformed or unknown key with api-key-invalid", async () => {
    const { request } = createTestApp(ctx.db);
    for (const key of ["sk_live_short", `sk_live_${"A".repeat(43)}`, "Bearer x"]) {
      const response = await request("GET", "/v1/products", { headers: { "x-api-key": key } });
      expect(response.status, key).toBe(401);
      expect(response.json.type).toBe(problem("api-key-invalid"));
    }
  });

  it("refuses a request carrying both a bearer token and a key", async () => {
    const { request } = createTestApp(ctx.db);
    const key = await issueKey(ctx.db, { scopes: ["catalog:read"] });
    const response = await request("GET", "/v1/products", { as: "staff", headers: { "x-api-key": key.secret } });
    expect(response.status).toBe(401);
    expect(response.json.detail).toContain("not both");
  });

  it("keeps only the hash: the key itself is nowhere in the table", async () => {
    const key = await issueKey(ctx.db, { scopes: ["catalog:read"] });
    expect(key.secret).toMatch(/^sk_test_[A-Za-z0-9_-]{43}$/);
    expect(key.signing_secret).toMatch(/^sks_[A-Za-z0-9_-]{43}$/);
    const { rows } = await ctx.db.query<{ row: string }>(
      "select a::text as row from private.api_keys a where id = $1",
      [key.id],
    );
    expect(rows[0]?.row).not.toContain(key.secret.slice(8));
    expect(rows[0]?.row).toContain(key.secret.slice(0, 16));
  });

  it("a revoked key fails at once, with api-key-revoked", async () => {
    const { request } = createTestApp(ctx.db);
    const key = await issueKey(ctx.db, { scopes: ["catalog:read"] });
    const before = await request("GET", "/v1/products", { headers: { "x-api-key": key.secret } });
    expect(before.status).not.toBe(401);
    await ctx.db.query("update private.api_keys set revoked_at = now() where id = $1", [key.id]);
    const after = await request("GET", "/v1/products", { headers: { "x-api-key": key.secret } });
    expect(after.status).toBe(401);
    expect(after.json.type).toBe(problem("api-key-revoked"));
  });

  it("records the last use with its address at most once a minute", async () => {
    const { request } = createTestApp(ctx.db);
    const key = await issueKey(ctx.db, { scopes: ["catalog:read"] });
    // The hop the gateway appended (the last, TRUSTED_PROXY_HOPS=1), not one the client wrote ahead of it.
    const headers = { "x-api-key": key.secret, "x-forwarded-for": "10.0.0.1, 203.0.113.7" };
    await request("GET", "/v1/products", { headers });
    const used = async () =>
      (
        await ctx.db.query<{ last_used_at: Date; last_used_address: string }>(
          "select last_used_at, last_used_address from private.api_keys where id = $1",
          [key.id],
        )
      ).rows[0];
    const first = await used();
    expect(first?.last_used_address).toBe("203.0.113.7");
    await request("GET", "/v1/products", { headers: { ...headers, "x-forwarded-for": "198.51.100.1" } });
    expect(await used()).toEqual(first);
    await ctx.db.query("update private.api_keys set last_used_at = now() - interval '61 seconds' where id = $1", [
      key.id,
    ]);
    await request("GET", "/v1/products", { headers: { ...headers, "x-forwarded-for": "198.51.100.1" } });
    expect((await used())?.last_used_address).toBe("198.51.100.1");
  });
});
