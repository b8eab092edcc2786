import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "svix";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { LOCAL_PASSWORD } from "../packages/local/src/auth.ts";
import { type LocalStack, startLocalStack } from "../packages/local/src/stack.ts";
import { mintToken } from "../packages/local/src/tokens.ts";
import { issueKey } from "./helpers/api-keys.ts";
import { productInput } from "./helpers/catalog.ts";
import { createTestDatabase, engine, type TestDatabase } from "./helpers/db.ts";
import { makeImage } from "./helpers/images.ts";
import { captureLogs, faultyDb } from "./helpers/logs.ts";
import { subscribe, supabaseClient } from "./helpers/realtime.ts";
import { REDIS_URL, redisForTests, uniquePrefix } from "./helpers/redis.ts";
import { startIngest, waitFor } from "./helpers/sentry.ts";

// The must-show of issue #15: drive the whole local stack (api, /auth/v1, /realtime/v1, the image
// endpoint, the webhook dispatcher, Upstash bridge, Sentry) through a broad mix of traffic that
// carries every kind of credential, capture every line it logs (and everything written to the
// console, and every error report), and find none of those credentials in any of it.

const JWT_SHAPE = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
const CREDENTIAL_SHAPES = [JWT_SHAPE, /whsec_[A-Za-z0-9+/=]{8,}/g, /\bsks?_[A-Za-z0-9_-]{20,}/g];

/** Every place in `text` where a known secret value or a credential shape appears. */
function findLeaks(text: string, secrets: Record<string, string>): string[] {
  const leaks = Object.entries(secrets)
    .filter(([, value]) => value && text.includes(value))
    .map(([name]) => `secret ${name}`);
  for (const shape of CREDENTIAL_SHAPES) {
    for (const match of text.matchAll(shape)) leaks.push(`shape ${match[0].slice(0, 12)}…`);
  }
  return leaks;
}

describe(`no credential in any log line, console output or error report (${engine})`, () => {
  const logs = captureLogs();
  const consoleOutput: string[] = [];
  const deliveries: { headers: Record<string, unknown>; body: string }[] = [];
  const secrets: Record<string, string> = {};
  let database: TestDatabase;
  let faulty: ReturnType<typeof faultyDb>;
  let stack: LocalStack;
  let ingest: Awaited<ReturnType<typeof startIngest>>;
  let receiver: ReturnType<typeof createServer>;
  let receiverUrl = "";
  let apiCalls = 0;

  beforeAll(async () => {
    for (const method of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        consoleOutput.push(args.map(String).join(" "));
      });
    }
    receiver = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        deliveries.push({ headers: request.headers, body });
        // The first delivery fails, so the dispatcher has a failed attempt to log.
        response.writeHead(deliveries.length === 1 ? 500 : 204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    ingest = await startIngest();

    Object.assign(secrets, {
      jwtSecret: `log-scan-jwt-secret-${randomBytes(24).toString("hex")}`,
      metricsToken: `log-scan-metrics-${randomBytes(16).toString("hex")}`,
      inboundSecret: `whsec_${randomBytes(32).toString("base64")}`,
      cloudinarySecret: "local-secret", // the local image endpoint's account (packages/local/src/stack.ts)
      password: LOCAL_PASSWORD,
    });
    const env: Record<string, string> = {
      LOG_LEVEL: "debug",
      SUPABASE_JWT_SECRET: secrets.jwtSecret as string,
      METRICS_TOKEN: secrets.metricsToken as string,
      INBOUND_WEBHOOK_SECRETS: JSON.stringify({ "pms-product": secrets.inboundSecret }),
      SENTRY_DSN: ingest.dsn,
    };
    if (await redisForTests()) Object.assign(env, { REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix("logscan") });

    database = await createTestDatabase();
    faulty = faultyDb(database.db);
    stack = await startLocalStack({
      db: faulty.db,
      env,
      port: 0,
      runJobs: true,
      realtimePollMs: 50,
      writeLog: logs.write,
    });
    if (stack.config.upstash) secrets.redisBridgeToken = stack.config.upstash.token;
    secrets.anonKey = stack.anonKey;
  }, 120_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    await stack?.close();
    await database?.drop();
    await ingest?.close();
    await new Promise<void>((resolve) => receiver?.close(() => resolve()));
  });

  /** A request to the api function at its public URL; the response body is read and returned. */
  async function call(
    method: string,
    path: string,
    options: { token?: string; headers?: Record<string, string>; body?: unknown; form?: FormData } = {},
  ) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | FormData | undefined = options.form;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    apiCalls++;
    const response = await fetch(`${stack.url}${path}`, { method, headers, body });
    const text = await response.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, text, json };
  }

  const auth = (path: string, body: unknown, token?: string) =>
    fetch(`${stack.supabaseUrl}/auth/v1${path}`, {
      method: "POST",
      headers: {
        apikey: stack.anonKey,
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify(body),
    });

  it("drives every kind of credential through the stack and finds none of them logged", async () => {
    const statuses: Record<string, number> = {};
    const note = (name: string, status: number) => {
      statuses[name] = status;
    };

    // Passwords and sessions at /auth/v1: sign-in, a wrong password, refresh, user, logout.
    const signIn = await auth("/token?grant_type=password", {
      email: "admin@storekeep.local",
      password: LOCAL_PASSWORD,
    });
    const session = (await signIn.json()) as { access_token: string; refresh_token: string };
    note("sign in", signIn.status);
    secrets.adminAccess = session.access_token;
    secrets.refreshToken = session.refresh_token;
    secrets.wrongPassword = `wrong-password-${randomBytes(6).toString("hex")}`;
    note(
      "wrong password",
      (await auth("/token?grant_type=password", { email: "staff@storekeep.local", password: secrets.wrongPassword }))
        .status,
    );
    const refreshed = await auth("/token?grant_type=refresh_token", { refresh_token: session.refresh_token });
    const renewed = (await refreshed.json()) as { access_token: string; refresh_token: string };
    note("refresh", refreshed.status);
    secrets.renewedAccess = renewed.access_token;
    secrets.renewedRefresh = renewed.refresh_token;
    const user = await fetch(`${stack.supabaseUrl}/auth/v1/user`, {
      headers: { apikey: stack.anonKey, authorization: `Bearer ${renewed.access_token}` },
    });
    note("auth user", user.status);
    const admin = renewed.access_token;

    // Users with JWTs of every role, and the service key.
    const staff = await mintToken({ secret: secrets.jwtSecret as string, sub: randomUUID(), appRole: "staff" });
    const viewer = await mintToken({ secret: secrets.jwtSecret as string, sub: randomUUID(), appRole: "viewer" });
    const service = await mintToken({ secret: secrets.jwtSecret as string, role: "service_role" });
    Object.assign(secrets, { staff, viewer, service });
    note("me", (await call("GET", "/v1/me", { token: admin })).status);
    note("roles as service", (await call("GET", "/v1/users/roles", { token: service })).status);
    const product = await call("POST", "/v1/products", { token: admin, body: productInput({ status: "draft" }) });
    note("create product", product.status);
    note("viewer write", (await call("POST", "/v1/brands", { token: viewer, body: { name: "x" } })).status);
    note("product", (await call("GET", `/v1/products/${product.json?.id}`, { token: staff })).status);

    // Bad tokens: another secret, expired, malformed, a bearer in the query string, Basic auth.
    const forged = await mintToken({ secret: `forged-${randomBytes(24).toString("hex")}`, appRole: "owner" });
    const expired = await mintToken({ secret: secrets.jwtSecret as string, appRole: "owner", expiresIn: -60 });
    Object.assign(secrets, { forged, expired });
    note("forged", (await call("GET", "/v1/me", { token: forged })).status);
    note("expired", (await call("GET", "/v1/me", { token: expired })).status);
    note("malformed", (await call("GET", "/v1/me", { token: `${staff.slice(0, 40)}.` })).status);
    note("token in query", (await call("GET", `/v1/products?access_token=${staff}`)).status);
    secrets.basic = Buffer.from(`admin:${LOCAL_PASSWORD}`).toString("base64");
    note("basic", (await call("GET", "/v1/me", { headers: { authorization: `Basic ${secrets.basic}` } })).status);
    // A body carrying credentials: refused or not, bodies are never logged.
    secrets.bodyPassword = `body-password-${randomBytes(6).toString("hex")}`;
    note(
      "body with password",
      (await call("POST", "/v1/brands", { token: admin, body: { name: "B", password: secrets.bodyPassword } })).status,
    );

    // Metrics: the right token, a wrong one.
    note("metrics", (await call("GET", "/v1/metrics", { token: secrets.metricsToken })).status);
    secrets.wrongMetrics = `wrong-metrics-${randomBytes(8).toString("hex")}`;
    note("metrics wrong token", (await call("GET", "/v1/metrics", { token: secrets.wrongMetrics })).status);

    // Outbound webhooks: an endpoint (its secret in the answer), a rotation, a test delivery (signed
    // with the secret; the first attempt fails, so the dispatcher logs it), a secret in its URL.
    secrets.urlToken = `url-token-${randomBytes(8).toString("hex")}`;
    const endpoint = await call("POST", "/v1/webhooks/endpoints", {
      token: admin,
      body: { url: `${receiverUrl}?token=${secrets.urlToken}`, topics: ["product.*"] },
    });
    note("create endpoint", endpoint.status);
    secrets.endpointSecret = endpoint.json?.secret;
    const rotated = await call("POST", `/v1/webhooks/endpoints/${endpoint.json?.id}/rotate-secret`, {
      token: admin,
      body: {},
    });
    note("rotate secret", rotated.status);
    if (rotated.json?.secret) secrets.rotatedSecret = rotated.json.secret;
    note(
      "test delivery",
      (await call("POST", `/v1/webhooks/endpoints/${endpoint.json?.id}/test`, { token: admin, body: {} })).status,
    );
    note(
      "update product",
      (
        await call("PATCH", `/v1/products/${product.json?.id}`, {
          token: admin,
          headers: { "if-match": `"${product.json?.version}"` },
          body: { title: "Renamed" },
        })
      ).status,
    );

    // Inbound webhooks: a correctly signed message, a forged signature.
    const message = JSON.stringify({
      sku: `SCAN-${randomBytes(3).toString("hex")}`,
      title: "In",
      price_amount: 100,
      currency: "EUR",
    });
    const id = `msg_${randomUUID()}`;
    const at = new Date();
    const signature = new Webhook(secrets.inboundSecret as string).sign(id, at, message);
    secrets.inboundSignature = signature.split(",")[1] ?? signature;
    const inboundHeaders = { "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)) };
    note(
      "inbound signed",
      (
        await call("POST", "/v1/webhooks/inbound/pms-product", {
          body: message,
          headers: { ...inboundHeaders, "webhook-signature": signature },
        })
      ).status,
    );
    note(
      "inbound forged",
      (
        await call("POST", "/v1/webhooks/inbound/pms-product", {
          body: message,
          headers: {
            ...inboundHeaders,
            "webhook-id": `${id}x`,
            "webhook-signature": `v1,${Buffer.from("forged").toString("base64")}`,
          },
        })
      ).status,
    );

    // Images: an upload through the API (signed with the account secret), a signed direct upload.
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(await makeImage("png", 20, 20))], { type: "image/png" }), "a.png");
    note("upload", (await call("POST", `/v1/products/${product.json?.id}/images`, { token: staff, form })).status);
    const signed = await call("POST", "/v1/images/signature", { token: staff, body: { product_id: product.json?.id } });
    note("image signature", signed.status);
    const direct = new FormData();
    for (const [key, value] of Object.entries(signed.json?.fields ?? {})) direct.append(key, String(value));
    direct.append("file", new Blob([new Uint8Array(await makeImage("jpeg", 20, 20))]), "b.jpg");
    const uploaded = await fetch(signed.json?.upload_url, { method: "POST", body: direct });
    const upload = (await uploaded.json()) as Record<string, unknown>;
    note("direct upload", uploaded.status);
    note(
      "confirm",
      (await call("POST", `/v1/products/${product.json?.id}/images/confirm`, { token: staff, body: { upload } }))
        .status,
    );

    // API keys: the key alone (a read), a wrong key, a signed read and a signed write, a bad signature.
    const key = await issueKey(database.db, { scopes: ["catalog:read", "catalog:write"], roleCap: "staff" });
    Object.assign(secrets, { apiKey: key.secret, signingSecret: key.signing_secret });
    note("key read", (await call("GET", "/v1/products", { headers: { "x-api-key": key.secret } })).status);
    secrets.wrongKey = `${key.secret.slice(0, -6)}AAAAAA`;
    note("wrong key", (await call("GET", "/v1/products", { headers: { "x-api-key": secrets.wrongKey } })).status);
    const signedHeaders = (method: string, path: string, body: string) => {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const nonce = randomBytes(16).toString("base64url");
      const url = new URL(`${stack.url}${path}`);
      const digest = createHash("sha256").update(body).digest("hex");
      const canonical = [method, url.pathname, timestamp, nonce, digest].join("\n");
      return {
        "x-api-key": key.secret,
        "x-request-timestamp": timestamp,
        "x-request-nonce": nonce,
        "x-request-signature": createHmac("sha256", key.signing_secret).update(canonical).digest("hex"),
      };
    };
    const signedRead = signedHeaders("GET", "/v1/brands", "");
    secrets.requestSignature = signedRead["x-request-signature"];
    note("signed read", (await call("GET", "/v1/brands", { headers: signedRead })).status);
    const brand = JSON.stringify({ name: `Signed ${randomBytes(3).toString("hex")}` });
    note(
      "signed write",
      (await call("POST", "/v1/brands", { body: brand, headers: signedHeaders("POST", "/v1/brands", brand) })).status,
    );
    note(
      "bad signature",
      (
        await call("POST", "/v1/brands", {
          body: brand,
          headers: { ...signedHeaders("POST", "/v1/brands", brand), "x-request-signature": "0".repeat(64) },
        })
      ).status,
    );

    // Realtime: a signed-in client joins a private channel (the token travels in the socket's join).
    const client = await supabaseClient(stack, { accessToken: admin });
    const joined = await subscribe(client.channel("inventory:main", { config: { private: true } }));
    note("realtime join", joined.status === "SUBSCRIBED" ? 200 : 500);
    await client.removeAllChannels();

    // An unexpected error whose message carries secrets, as a driver's might.
    faulty.failWith(
      new Error(
        `connect postgres://app:${secrets.password}@db/app failed: jwt_secret=${secrets.jwtSecret} bearer ${staff} key ${key.secret}`,
      ),
    );
    note("unexpected", (await call("GET", `/v1/products/${product.json?.id}`, { token: staff })).status);
    faulty.failWith(undefined);

    // Sign out last (the refresh token dies with the session).
    note("logout", (await auth("/logout", {}, renewed.access_token)).status);

    // Let the dispatcher retry the failed delivery and the reporter send, then look.
    await waitFor(() => deliveries.length >= 2, 20_000);
    // Two events may be delivered at once: the second can arrive before the first's failure is logged.
    await waitFor(() => logs.lines.some((line) => line.msg === "webhook attempt failed"), 20_000);
    await waitFor(() => ingest.received.length >= 1, 10_000);
    await stack.services.reporter.flush(2_000);

    // The traffic did what it should have, so the scan below looked at real logs of real outcomes.
    expect(statuses).toMatchObject({
      "sign in": 200,
      "wrong password": 400,
      refresh: 200,
      "auth user": 200,
      me: 200,
      "roles as service": 200,
      "create product": 201,
      "viewer write": 403,
      product: 200,
      forged: 401,
      expired: 401,
      malformed: 401,
      "token in query": 422,
      basic: 401,
      metrics: 200,
      "metrics wrong token": 401,
      "create endpoint": 201,
      "rotate secret": 200,
      "inbound forged": 401,
      upload: 201,
      "direct upload": 200,
      confirm: 201,
      "key read": 200,
      "wrong key": 401,
      "signed read": 200,
      "signed write": 201,
      "bad signature": 401,
      "realtime join": 200,
      unexpected: 500,
    });
    expect([200, 201, 202, 204]).toContain(statuses["inbound signed"]);
    expect([200, 201]).toContain(statuses["image signature"]);
    expect(deliveries[0]?.headers["webhook-signature"]).toMatch(/^v1,/);

    const logged = logs.raw.join("\n");
    const requestLines = logs.requests();
    // One request line per call to the api function, each with its route template.
    expect(requestLines.length).toBe(apiCalls);
    expect(requestLines.every((line) => typeof line.route === "string" && !String(line.route).includes("?"))).toBe(
      true,
    );
    expect(logs.lines.some((line) => line.msg === "unhandled error" && typeof line.stack === "string")).toBe(true);
    expect(logs.lines.some((line) => line.msg === "webhook attempt failed")).toBe(true);
    expect(Object.keys(secrets).length).toBeGreaterThanOrEqual(25);

    expect(findLeaks(logged, secrets), "log lines").toEqual([]);
    expect(findLeaks(consoleOutput.join("\n"), secrets), "console").toEqual([]);
    expect(findLeaks(ingest.received.map((report) => report.body).join("\n"), secrets), "error reports").toEqual([]);
  }, 120_000);

  it("the scan itself finds a planted secret, a JWT and a webhook secret", () => {
    const planted = `{"msg":"x","note":"${secrets.jwtSecret}"} Bearer ${secrets.adminAccess} whsec_${"A".repeat(20)}`;
    expect(findLeaks(planted, { jwtSecret: secrets.jwtSecret as string })).toEqual([
      "secret jwtSecret",
      expect.stringMatching(/^shape eyJ/),
      expect.stringMatching(/^shape whsec_/),
    ]);
  });
});
