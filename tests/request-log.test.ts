import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { mintToken } from "../packages/local/src/tokens.ts";
import { createRedactor } from "../packages/server/src/platform/redact.ts";
import { issueKey } from "./helpers/api-keys.ts";
import { createTestApp, DEMO_USERS, TEST_SECRET } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { captureLogs, faultyDb } from "./helpers/logs.ts";

describe(`request logs on ${engine}`, () => {
  const ctx = useTestDatabase();
  const logged = (env: Record<string, string> = {}) => {
    const logs = captureLogs();
    const faulty = faultyDb(ctx.db);
    const api = createTestApp(faulty.db, { LOG_LEVEL: "info", ...env }, { writeLog: logs.write });
    return { ...api, logs, failWith: faulty.failWith };
  };

  it("writes one JSON line per request: id, route template, method, status, duration, caller", async () => {
    const { request, logs } = logged();
    const id = randomUUID();
    const response = await request("GET", `/v1/products/${id}`, {
      as: "viewer",
      headers: { "x-request-id": "client-chosen-id-42" },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get("x-request-id")).toBe("client-chosen-id-42");

    expect(logs.requests()).toHaveLength(1);
    const [line] = logs.requests();
    expect(line).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      level: "warn",
      msg: "request",
      request_id: "client-chosen-id-42",
      method: "GET",
      route: "/api/v1/products/:id",
      status: 404,
      duration_ms: expect.any(Number),
      caller_kind: "user",
      caller_id: DEMO_USERS.viewer,
    });
    // The raw path (with its id) is not in the line: logs group by route and carry no ids from paths.
    expect(logs.raw[0]).not.toContain(id);
  });

  it("generates a request id when the client sends none (or an unusable one) and answers with it", async () => {
    const { request, logs } = logged();
    const plain = await request("GET", "/v1/health");
    const unusable = await request("GET", "/v1/health", { headers: { "x-request-id": 'has spaces; and="quotes"' } });
    const [first, second] = logs.requests();
    for (const [response, line] of [
      [plain, first],
      [unusable, second],
    ] as const) {
      const id = response.headers.get("x-request-id");
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(line).toMatchObject({ request_id: id, route: "/api/v1/health", status: 200, caller_kind: "anonymous" });
    }
    expect(first?.request_id).not.toBe(second?.request_id);
    expect(logs.raw.join("\n")).not.toContain("has spaces");
  });

  it("names the caller kind: service key, anonymous, and a refused token as anonymous without the token", async () => {
    const { request, logs } = logged();
    const service = await mintToken({ secret: TEST_SECRET, role: "service_role" });
    const forged = await mintToken({ secret: "another-secret-that-is-at-least-32-characters", sub: DEMO_USERS.admin });
    expect((await request("GET", "/v1/users/roles", { token: service })).status).toBe(200);
    expect((await request("GET", "/v1/users/roles", { token: forged })).status).toBe(401);
    expect((await request("GET", "/v1/users/roles")).status).toBe(401);
    expect(logs.requests().map((line) => [line.caller_kind, line.caller_id, line.status])).toEqual([
      ["service", undefined, 200],
      ["anonymous", undefined, 401],
      ["anonymous", undefined, 401],
    ]);
    const text = logs.raw.join("\n");
    expect(text).not.toContain(service);
    expect(text).not.toContain(forged);
  });

  it("names an API key caller by its key id, never its secret", async () => {
    const { request, logs } = logged();
    const key = await issueKey(ctx.db, { scopes: ["catalog:read"] });
    expect((await request("GET", "/v1/products", { headers: { "x-api-key": key.secret } })).status).toBe(200);
    const wrong = `${key.secret.slice(0, -4)}AAAA`;
    expect((await request("GET", "/v1/products", { headers: { "x-api-key": wrong } })).status).toBe(401);
    expect(logs.requests().map((line) => [line.caller_kind, line.caller_id, line.status])).toEqual([
      ["api_key", key.id, 200],
      ["anonymous", undefined, 401],
    ]);
    const text = logs.raw.join("\n");
    for (const secret of [key.secret, wrong, key.signing_secret]) expect(text).not.toContain(secret);
  });

  it("logs at the configured level: warn keeps 4xx and 5xx, error keeps only 5xx", async () => {
    for (const [level, statuses] of [
      ["debug", [200, 404, 500]],
      ["warn", [404, 500]],
      ["error", [500]],
      ["silent", []],
    ] as const) {
      const { request, logs, failWith } = logged({ LOG_LEVEL: level });
      await request("GET", "/v1/health");
      await request("GET", "/v1/nowhere");
      failWith(new Error("unexpected"));
      await request("GET", `/v1/products/${randomUUID()}`, { as: "viewer" });
      expect(
        logs.requests().map((line) => line.status),
        level,
      ).toEqual(statuses);
    }
  });

  it("logs a 500 with its stack and the request's id and route, secrets in its message redacted", async () => {
    const { request, logs, failWith } = logged();
    const token = await mintToken({ secret: TEST_SECRET, sub: DEMO_USERS.staff, appRole: "staff" });
    failWith(
      new Error(
        `connect to postgres://storekeep:pg-password-4711@db.internal/app failed; password=hunter2-hunter2 token ${token}; key ${TEST_SECRET}`,
      ),
    );
    const response = await request("GET", `/v1/products/${randomUUID()}`, { token });
    expect(response.status).toBe(500);
    expect(response.text).not.toContain("hunter2");

    const failure = logs.lines.find((line) => line.msg === "unhandled error");
    expect(failure).toMatchObject({
      level: "error",
      request_id: response.headers.get("x-request-id"),
      route: "/api/v1/products/:id",
      method: "GET",
      caller_kind: "user",
      caller_id: DEMO_USERS.staff,
      error: "Error",
    });
    expect(failure?.stack).toMatch(/\n\s+at /);
    expect(failure?.message).toContain("postgres://storekeep:[redacted]@db.internal/app");
    const text = logs.raw.join("\n");
    for (const secret of ["pg-password-4711", "hunter2-hunter2", token, TEST_SECRET])
      expect(text).not.toContain(secret);
    expect(logs.requests()).toMatchObject([{ level: "error", status: 500 }]);
  });
});

describe("the redactor", () => {
  const redact = createRedactor(["configured-secret-value", "short"]);
  it.each([
    ["a configured secret anywhere", "x configured-secret-value y", "x [redacted] y"],
    ["a JWT", "got eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl here", "got [redacted] here"],
    ["a webhook secret", "secret whsec_c2VjcmV0Cg== rotated", "secret [redacted] rotated"],
    ["an Authorization value", "Authorization: Bearer abc.def-123", "Authorization: Bearer [redacted]"],
    ["a URL's password", "postgres://app:p4ss@host:5432/db", "postgres://app:[redacted]@host:5432/db"],
    ["key=value credentials", "host=db password=s3cr3t user=app", "host=db password=[redacted] user=app"],
    ["JSON credentials", '{"api_key": "k-123", "name": "x"}', '{"api_key": "[redacted]", "name": "x"}'],
    ["an API key", "key sk_live_AbCdEfGh0123456789_-AbCdEfGh0123456789abcde!", "key [redacted]!"],
    ["a key's signing secret", "sks_AbCdEfGh0123456789_-AbCdEfGh0123456789abcde", "[redacted]"],
    ["a suffixed credential name", "refresh_token=r-1&x=1", "refresh_token=[redacted]&x=1"],
  ])("masks %s", (_, input, output) => {
    expect(redact(input)).toBe(output);
  });
  it("leaves ordinary text and short configured values alone", () => {
    const text = "token has expired; a short story; GET /api/v1/products/:id 404";
    expect(redact(text)).toBe(text);
  });
});
