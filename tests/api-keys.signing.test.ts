import { createHash, createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalRequest, newNonce, signRequest } from "../packages/client/src/signing.ts";
import { type IssuedKey, issueKey } from "./helpers/api-keys.ts";
import { createTestApp, tally } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { hasRedisServer, redisForTests, startPrivateRedis, startTestBridge } from "./helpers/redis.ts";

// Signed requests (README "Signed requests"): every refusal is a 401 whose problem type says which
// check failed. Nonces are kept in the real Redis through the Upstash bridge (and, for local runs
// without Redis, in process): both backends must refuse a replay, also under concurrency.

const ctx = useTestDatabase();
const problem = (type: string) => `https://storekeep.dev/problems/${type}`;
const hasRedis = await redisForTests();
let bridge: Awaited<ReturnType<typeof startTestBridge>> | undefined;

beforeAll(async () => {
  if (hasRedis) bridge = await startTestBridge(undefined, "signing");
});
afterAll(async () => {
  await bridge?.bridge.close();
});

describe("the canonical string", () => {
  it("is method, path with sorted query, timestamp, nonce and the body's SHA-256, one per line", async () => {
    const body = '{"name":"n\\u00e9"}';
    const canonical = await canonicalRequest({
      method: "post",
      url: "https://example.test/functions/v1/api/v1/products?limit=5&b=x+y&a=%7e&a=1",
      body,
      timestamp: "1764608400",
      nonce: "AAAAAAAAAAAAAAAAAAAAAA",
    });
    expect(canonical).toBe(
      [
        "POST",
        "/functions/v1/api/v1/products?a=1&a=~&b=x%20y&limit=5",
        "1764608400",
        "AAAAAAAAAAAAAAAAAAAAAA",
        createHash("sha256").update(body).digest("hex"),
      ].join("\n"),
    );
    const headers = await signRequest({
      method: "POST",
      url: "https://example.test/functions/v1/api/v1/products?limit=5&b=x+y&a=%7e&a=1",
      body,
      signingSecret: "sks_test",
      timestamp: 1764608400,
      nonce: "AAAAAAAAAAAAAAAAAAAAAA",
    });
    expect(headers["x-request-signature"]).toBe(createHmac("sha256", "sks_test").update(canonical).digest("hex"));
  });
});

const backends = [
  // A generous Redis timeout: the bridge shares this process with PGlite on a busy machine.
  {
    name: "Redis through the Upstash bridge",
    env: () => ({ ...bridge?.env, REDIS_TIMEOUT_MS: "3000" }),
    skip: !hasRedis,
  },
  { name: "the in-process store", env: () => ({}), skip: false },
];

describe.each(backends)(`signed key requests on ${engine}, nonces in $name`, ({ env, skip }) => {
  let key: IssuedKey;
  let api: ReturnType<typeof createTestApp>;
  beforeAll(async () => {
    if (skip) return;
    api = createTestApp(ctx.db, env());
    key = await issueKey(ctx.db, { scopes: ["api_keys:manage", "catalog:read"], roleCap: "admin", name: "signer" });
  });

  const body = (name = "made by a key") => JSON.stringify({ name, scopes: ["catalog:read"], role_cap: "viewer" });

  /** Signs `method path body` with `options` and sends it, optionally changed after signing. */
  async function send(
    options: {
      method?: string;
      path?: string;
      body?: string;
      secret?: string;
      timestamp?: number;
      nonce?: string;
      sentBody?: string;
      sentPath?: string;
      drop?: string;
    } = {},
  ) {
    const method = options.method ?? "POST";
    const path = options.path ?? "/v1/api-keys";
    const signed = options.body ?? (method === "POST" ? body() : undefined);
    const headers: Record<string, string> = {
      "x-api-key": key.secret,
      ...(await signRequest({
        method,
        url: `http://local/api${path}`,
        body: signed,
        signingSecret: options.secret ?? key.signing_secret,
        timestamp: options.timestamp,
        nonce: options.nonce,
      })),
    };
    if (options.drop) delete headers[options.drop];
    return api.request(method, options.sentPath ?? path, { body: options.sentBody ?? signed, headers });
  }

  it.skipIf(skip)("a correctly signed write passes; an unsigned read by the key needs no signature", async () => {
    const created = await send();
    expect(created.status, created.text).toBe(201);
    expect(created.json.role_cap).toBe("viewer");
    const read = await api.request("GET", `/v1/api-keys/${created.json.id}`, { headers: { "x-api-key": key.secret } });
    expect(read.status).toBe(200);
  });

  it.skipIf(skip)("a replayed nonce is refused even with a valid signature", async () => {
    const nonce = newNonce();
    const timestamp = Math.floor(Date.now() / 1000);
    expect((await send({ nonce, timestamp })).status).toBe(201);
    const replay = await send({ nonce, timestamp });
    expect(replay.status).toBe(401);
    expect(replay.json.type).toBe(problem("nonce-replayed"));
  });

  it.skipIf(skip)("a stale or future timestamp is refused (±5 minutes)", async () => {
    const now = Math.floor(Date.now() / 1000);
    // A margin either side: a slow request must not drift a case across the edge.
    for (const timestamp of [now - 320, now + 320]) {
      const response = await send({ timestamp });
      expect(response.status).toBe(401);
      expect(response.json.type).toBe(problem("timestamp-out-of-window"));
    }
    expect((await send({ timestamp: now - 270 })).status).toBe(201);
    expect((await send({ timestamp: now + 270 })).status).toBe(201);
  });

  it.skipIf(skip)(
    "a body changed after signing, a path changed after signing and a wrong secret are refused",
    async () => {
      const other = await send();
      expect(other.status).toBe(201);
      const cases = [
        await send({ sentBody: body("changed after signing") }),
        await send({ sentBody: `${body()} ` }),
        await send({ method: "DELETE", path: `/v1/api-keys/${key.id}`, sentPath: `/v1/api-keys/${other.json.id}` }),
        await send({ sentPath: "/v1/api-keys?limit=1" }),
        await send({ secret: `sks_${"x".repeat(43)}` }),
      ];
      expect(cases.map((response) => [response.status, response.json.type])).toEqual(
        cases.map(() => [401, problem("signature-invalid")]),
      );
      // Nothing was revoked by the DELETE whose path changed.
      const still = await api.request("GET", `/v1/api-keys/${other.json.id}`, { headers: { "x-api-key": key.secret } });
      expect(still.json.status).toBe("active");
    },
  );

  it.skipIf(skip)("each missing header is refused with its own problem type", async () => {
    const expected = {
      "x-request-timestamp": "timestamp-missing",
      "x-request-nonce": "nonce-missing",
      "x-request-signature": "signature-missing",
    };
    for (const [header, type] of Object.entries(expected)) {
      const response = await send({ drop: header });
      expect(response.status, header).toBe(401);
      expect(response.json.type, header).toBe(problem(type));
    }
    const unsigned = await api.request("POST", "/v1/api-keys", { body: body(), headers: { "x-api-key": key.secret } });
    expect(unsigned.status).toBe(401);
    expect(unsigned.json.type).toBe(problem("timestamp-missing"));
  });

  it.skipIf(skip)("a short or non-base64url nonce and a non-numeric timestamp are refused", async () => {
    const short = await send({ nonce: "AAAAAAAAAAAAAAAAAAAAA" });
    expect(short.json.type).toBe(problem("nonce-invalid"));
    const odd = await send({ nonce: "AAAAAAAAAAAAAAAAAAAAAA+/" });
    expect(odd.json.type).toBe(problem("nonce-invalid"));
    const headers = { "x-api-key": key.secret, "x-request-timestamp": "soon", "x-request-nonce": newNonce() };
    const wordy = await api.request("POST", "/v1/api-keys", {
      body: body(),
      headers: { ...headers, "x-request-signature": "0".repeat(64) },
    });
    expect(wordy.json.type).toBe(problem("timestamp-invalid"));
  });

  it.skipIf(skip)("a query signed in one order is accepted in another (the canonical query is sorted)", async () => {
    const response = await send({
      method: "GET",
      path: "/v1/api-keys?limit=2&cursor=",
      sentPath: "/v1/api-keys?cursor=&limit=2",
    });
    expect(response.status, response.text).toBe(200);
  });

  it.skipIf(skip)("concurrent replays of one nonce: exactly one passes", async () => {
    const nonce = newNonce();
    const timestamp = Math.floor(Date.now() / 1000);
    const name = `replayed-${nonce}`;
    const responses = await Promise.all(Array.from({ length: 30 }, () => send({ nonce, timestamp, body: body(name) })));
    expect(tally(responses)).toEqual({ 201: 1, 401: 29 });
    expect(responses.filter((r) => r.status === 401).every((r) => r.json.type === problem("nonce-replayed"))).toBe(
      true,
    );
    const { rows } = await ctx.db.query("select 1 from private.api_keys where name = $1", [name]);
    expect(rows).toHaveLength(1);
  });
});

describe(`the API key request counter on ${engine}`, () => {
  it("counts accepted, refused keys, refused signatures and replays", async () => {
    const api = createTestApp(ctx.db);
    const key = await issueKey(ctx.db, { scopes: ["api_keys:manage", "catalog:read"], roleCap: "admin" });
    const body = JSON.stringify({ name: "counted", scopes: ["catalog:read"], role_cap: "viewer" });
    const signed = await signRequest({
      method: "POST",
      url: "http://local/api/v1/api-keys",
      body,
      signingSecret: key.signing_secret,
    });
    const headers = { "x-api-key": key.secret };
    expect((await api.request("POST", "/v1/api-keys", { body, headers: { ...headers, ...signed } })).status).toBe(201);
    expect((await api.request("POST", "/v1/api-keys", { body, headers: { ...headers, ...signed } })).status).toBe(401);
    expect((await api.request("POST", "/v1/api-keys", { body, headers })).status).toBe(401);
    expect((await api.request("GET", "/v1/api-keys", { headers })).status).toBe(200);
    expect(
      (await api.request("GET", "/v1/api-keys", { headers: { "x-api-key": `sk_test_${"B".repeat(43)}` } })).status,
    ).toBe(401);
    const { body: text } = await api.services.metrics.scrape();
    const count = (outcome: string) =>
      Number(new RegExp(`storekeep_api_key_requests_total\\{outcome="${outcome}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect([count("accepted"), count("replayed"), count("signature_refused"), count("key_refused")]).toEqual([
      2, 1, 1, 1,
    ]);
  });
});

describe(`signed requests when Redis stops, on ${engine}`, () => {
  it.skipIf(!hasRedisServer)(
    "a signed write is refused with 503 and Retry-After (no replay can be ruled out); reads go on",
    async () => {
      const redis = await startPrivateRedis();
      const bridge = await startTestBridge(redis.url, "signing-down");
      try {
        const api = createTestApp(ctx.db, { ...bridge.env, REDIS_TIMEOUT_MS: "500" });
        const key = await issueKey(ctx.db, { scopes: ["api_keys:manage", "catalog:read"], roleCap: "admin" });
        const send = async () => {
          const body = JSON.stringify({ name: "while redis is down", scopes: ["catalog:read"], role_cap: "viewer" });
          const url = "http://local/api/v1/api-keys";
          const signature = await signRequest({ method: "POST", url, body, signingSecret: key.signing_secret });
          return api.request("POST", "/v1/api-keys", { body, headers: { ...signature, "x-api-key": key.secret } });
        };
        expect((await send()).status).toBe(201);
        await redis.stop();
        const refused = await send();
        expect(refused.status).toBe(503);
        expect(refused.json.type).toBe(problem("unavailable"));
        expect(refused.headers.get("retry-after")).toBe("1");
        expect(refused.json.detail).toContain("replay protection");
        const read = await api.request("GET", "/v1/api-keys", { headers: { "x-api-key": key.secret } });
        expect(read.status).toBe(200);
        const { rows } = await ctx.db.query("select 1 from private.api_keys where name = 'while redis is down'");
        expect(rows).toHaveLength(1);
      } finally {
        await bridge.bridge.close();
        await redis.stop();
      }
    },
  );
});
