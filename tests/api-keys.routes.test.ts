import { describe, expect, it } from "vitest";
import { signRequest } from "../packages/client/src/signing.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// The /api-keys routes as an owner or admin uses them: secrets shown once, rotation with an
// overlap after which the old key stops, revocation at once.
const ctx = useTestDatabase();
const problem = (type: string) => `https://storekeep.dev/problems/${type}`;

const newKey = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  scopes: ["inventory:read", "inventory:write"],
  role_cap: "staff",
  ...extra,
});

describe(`API key routes on ${engine}`, () => {
  it("creates a key (201, Location, secrets once); get and list never show a secret", async () => {
    const { request } = createTestApp(ctx.db);
    const created = await request("POST", "/v1/api-keys", { as: "admin", body: newKey("erp") });
    expect(created.status, created.text).toBe(201);
    expect(created.headers.get("location")).toBe(`/api/v1/api-keys/${created.json.id}`);
    expect(created.json).toMatchObject({
      name: "erp",
      environment: "live",
      scopes: ["inventory:read", "inventory:write"],
      role_cap: "staff",
      status: "active",
      created_by: "00000000-0000-4000-8000-000000000002",
      rotated_from: null,
    });
    expect(created.json.secret).toMatch(/^sk_live_[A-Za-z0-9_-]{43}$/);
    expect(created.json.prefix).toBe(created.json.secret.slice(0, 16));
    expect(created.json.signing_secret).toMatch(/^sks_/);

    const one = await request("GET", `/v1/api-keys/${created.json.id}`, { as: "owner" });
    expect(one.status).toBe(200);
    expect(one.json).not.toHaveProperty("secret");
    expect(one.json).not.toHaveProperty("signing_secret");
    expect(one.text).not.toContain(created.json.secret.slice(16));

    const works = await request("GET", "/v1/locations", { headers: { "x-api-key": created.json.secret } });
    expect(works.status).toBe(200);
    const seen = await request("GET", `/v1/api-keys/${created.json.id}`, { as: "owner" });
    expect(seen.json.last_used_at).not.toBeNull();
  });

  it("lists every key page by page, oldest first", async () => {
    const { request } = createTestApp(ctx.db);
    for (const name of ["page-a", "page-b", "page-c"]) {
      expect((await request("POST", "/v1/api-keys", { as: "owner", body: newKey(name) })).status).toBe(201);
    }
    const names: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { json: { data: { name: string }[]; next_cursor: string | null } } = await request(
        "GET",
        `/v1/api-keys?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
        { as: "admin" },
      );
      names.push(...page.json.data.map((key) => key.name));
      cursor = page.json.next_cursor;
    } while (cursor);
    expect(names.filter((name) => name.startsWith("page-"))).toEqual(["page-a", "page-b", "page-c"]);
    expect(new Set(names).size).toBe(names.length);
  });

  it("a repeated Idempotency-Key answers the same key without its secrets, and creates one", async () => {
    const { request } = createTestApp(ctx.db);
    const headers = { "idempotency-key": "key-once" };
    const first = await request("POST", "/v1/api-keys", { as: "admin", body: newKey("idem"), headers });
    const again = await request("POST", "/v1/api-keys", { as: "admin", body: newKey("idem"), headers });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual({ ...first.json, secret: null, signing_secret: null });
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    const other = await request("POST", "/v1/api-keys", { as: "admin", body: newKey("idem-other"), headers });
    expect(other.status).toBe(409);
    const { rows } = await ctx.db.query("select 1 from private.api_keys where name like 'idem%'");
    expect(rows).toHaveLength(1);
    // The recorded response holds no secret.
    const stored = await ctx.db.query<{ response: string }>(
      "select response::text as response from private.idempotent_requests where key = 'key-once'",
    );
    expect(stored.rows[0]?.response).not.toContain(first.json.secret);
    expect(stored.rows[0]?.response).not.toContain(first.json.signing_secret);
  });

  it("a rotated key works during the overlap and fails after; its successor works from the start", async () => {
    const { request } = createTestApp(ctx.db);
    const old = await request("POST", "/v1/api-keys", { as: "admin", body: newKey("rotating") });
    const rotated = await request("POST", `/v1/api-keys/${old.json.id}/rotate`, {
      as: "admin",
      body: { overlap_seconds: 3600 },
    });
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.json).toMatchObject({ name: "rotating", rotated_from: old.json.id, status: "active" });
    expect(rotated.json.secret).not.toBe(old.json.secret);
    expect(rotated.json.signing_secret).not.toBe(old.json.signing_secret);

    const read = (secret: string) => request("GET", "/v1/locations", { headers: { "x-api-key": secret } });
    expect((await read(old.json.secret)).status).toBe(200);
    expect((await read(rotated.json.secret)).status).toBe(200);
    const during = await request("GET", `/v1/api-keys/${old.json.id}`, { as: "admin" });
    expect(during.json).toMatchObject({ status: "overlap", rotated_to: rotated.json.id });
    expect(Date.parse(during.json.overlap_ends_at) - Date.now()).toBeGreaterThan(3500_000);

    // The overlap ends (moved into the past rather than waiting an hour).
    await ctx.db.query("update private.api_keys set overlap_ends_at = now() - interval '1 second' where id = $1", [
      old.json.id,
    ]);
    const after = await read(old.json.secret);
    expect(after.status).toBe(401);
    expect(after.json.type).toBe(problem("api-key-rotated"));
    expect((await read(rotated.json.secret)).status).toBe(200);

    const twice = await request("POST", `/v1/api-keys/${old.json.id}/rotate`, { as: "admin" });
    expect(twice.status).toBe(409);
  });

  it("a rotation with no overlap stops the old key at once; the default overlap is the configured one", async () => {
    const { request } = createTestApp(ctx.db, { API_KEY_ROTATION_OVERLAP_SECONDS: "120" });
    const first = await request("POST", "/v1/api-keys", { as: "admin", body: newKey("no-overlap") });
    const next = await request("POST", `/v1/api-keys/${first.json.id}/rotate`, {
      as: "admin",
      body: { overlap_seconds: 0 },
    });
    expect(next.status).toBe(200);
    const stopped = await request("GET", "/v1/locations", { headers: { "x-api-key": first.json.secret } });
    expect(stopped.json.type).toBe(problem("api-key-rotated"));

    const third = await request("POST", `/v1/api-keys/${next.json.id}/rotate`, { as: "admin" });
    expect(third.status).toBe(200);
    const previous = await request("GET", `/v1/api-keys/${next.json.id}`, { as: "admin" });
    const overlap = Date.parse(previous.json.overlap_ends_at) - Date.now();
    expect(overlap).toBeGreaterThan(100_000);
    expect(overlap).toBeLessThanOrEqual(120_000);
  });

  it("a revoked key fails at once, even during an overlap, and stays listed as revoked", async () => {
    const { request } = createTestApp(ctx.db);
    const key = await request("POST", "/v1/api-keys", { as: "admin", body: newKey("revoked") });
    await request("POST", `/v1/api-keys/${key.json.id}/rotate`, { as: "admin", body: { overlap_seconds: 3600 } });
    expect((await request("GET", "/v1/locations", { headers: { "x-api-key": key.json.secret } })).status).toBe(200);
    expect((await request("DELETE", `/v1/api-keys/${key.json.id}`, { as: "admin" })).status).toBe(204);
    const refused = await request("GET", "/v1/locations", { headers: { "x-api-key": key.json.secret } });
    expect(refused.status).toBe(401);
    expect(refused.json.type).toBe(problem("api-key-revoked"));
    const listed = await request("GET", `/v1/api-keys/${key.json.id}`, { as: "admin" });
    expect(listed.json.status).toBe("revoked");
    expect((await request("DELETE", `/v1/api-keys/${key.json.id}`, { as: "admin" })).status).toBe(204);
    expect((await request("DELETE", `/v1/api-keys/${crypto.randomUUID()}`, { as: "admin" })).status).toBe(404);
  });

  it("an expired key is refused with api-key-expired", async () => {
    const { request } = createTestApp(ctx.db);
    const key = await request("POST", "/v1/api-keys", {
      as: "admin",
      body: newKey("expiring", { expires_at: new Date(Date.now() + 60_000).toISOString() }),
    });
    expect(key.status).toBe(201);
    await ctx.db.query(
      "update private.api_keys set created_at = now() - interval '2 days', expires_at = now() - interval '1 day' where id = $1",
      [key.json.id],
    );
    const refused = await request("GET", "/v1/locations", { headers: { "x-api-key": key.json.secret } });
    expect(refused.json.type).toBe(problem("api-key-expired"));
  });

  it("refuses bad input naming the field, and callers below admin", async () => {
    const { request } = createTestApp(ctx.db);
    const cases: [Record<string, unknown>, string][] = [
      [newKey("", {}), "body.name"],
      [newKey("x", { scopes: [] }), "body.scopes"],
      [newKey("x", { scopes: ["catalog:everything"] }), "body.scopes.0"],
      [newKey("x", { role_cap: "emperor" }), "body.role_cap"],
      [newKey("x", { environment: "prod" }), "body.environment"],
      [newKey("x", { expires_at: "tomorrow" }), "body.expires_at"],
      [newKey("x", { secret: "mine" }), "body.secret"],
    ];
    for (const [body, field] of cases) {
      const response = await request("POST", "/v1/api-keys", { as: "admin", body });
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(response.json.errors.map((error: { field: string }) => error.field)).toContain(field);
    }
    const past = await request("POST", "/v1/api-keys", {
      as: "admin",
      body: newKey("x", { expires_at: new Date(Date.now() - 1000).toISOString() }),
    });
    expect(past.status).toBe(422);
    expect(past.json.errors[0].field).toBe("body.expires_at");
    const tooLong = await request("POST", "/v1/api-keys/00000000-0000-4000-8000-00000000dead/rotate", {
      as: "admin",
      body: { overlap_seconds: 31 * 86_400 },
    });
    expect(tooLong.status).toBe(422);

    const above = await request("POST", "/v1/api-keys", { as: "admin", body: newKey("x", { role_cap: "owner" }) });
    expect(above.status).toBe(403);
    expect(above.json.errors[0].field).toBe("body.role_cap");
    for (const as of ["manager", "staff", "viewer"] as const) {
      expect((await request("POST", "/v1/api-keys", { as, body: newKey("x") })).status).toBe(403);
      expect((await request("GET", "/v1/api-keys", { as })).status).toBe(403);
    }
    const { rows } = await ctx.db.query("select 1 from private.api_keys where name = 'x'");
    expect(rows).toHaveLength(0);
  });

  it("a key managing keys hands on only the scopes it holds", async () => {
    const { request } = createTestApp(ctx.db);
    const manager = await request("POST", "/v1/api-keys", {
      as: "owner",
      body: { name: "key manager", scopes: ["api_keys:manage", "catalog:read"], role_cap: "admin" },
    });
    const send = async (body: string) => {
      const headers = await signRequest({
        method: "POST",
        url: "http://local/api/v1/api-keys",
        body,
        signingSecret: manager.json.signing_secret,
      });
      return request("POST", "/v1/api-keys", { body, headers: { ...headers, "x-api-key": manager.json.secret } });
    };
    const within = await send(JSON.stringify({ name: "child", scopes: ["catalog:read"], role_cap: "viewer" }));
    expect(within.status, within.text).toBe(201);
    const beyond = await send(JSON.stringify({ name: "child", scopes: ["orders:write"], role_cap: "viewer" }));
    expect(beyond.status).toBe(403);
    expect(beyond.json.errors[0].field).toBe("body.scopes");
    const above = await send(JSON.stringify({ name: "child", scopes: ["catalog:read"], role_cap: "owner" }));
    expect(above.status).toBe(403);
  });
});
