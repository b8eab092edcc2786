import { randomUUID } from "node:crypto";
import { parseEnvelope } from "@sentry/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { mintToken } from "../packages/local/src/tokens.ts";
import { loadConfig } from "../packages/server/src/platform/config.ts";
import { createTestApp, DEMO_USERS, TEST_SECRET } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { captureLogs, faultyDb } from "./helpers/logs.ts";
import { startIngest, waitFor } from "./helpers/sentry.ts";

describe(`error reporting (Sentry) on ${engine}`, () => {
  const ctx = useTestDatabase();
  let ingest: Awaited<ReturnType<typeof startIngest>>;
  beforeAll(async () => {
    ingest = await startIngest();
  });
  afterAll(async () => {
    await ingest.close();
  });

  const METRICS_TOKEN = "metrics-token-for-error-reports";
  const setup = () => {
    const faulty = faultyDb(ctx.db);
    const logs = captureLogs();
    const api = createTestApp(
      faulty.db,
      { SENTRY_DSN: ingest.dsn, SENTRY_ENVIRONMENT: "test", METRICS_TOKEN, LOG_LEVEL: "info" },
      { writeLog: logs.write },
    );
    return { ...api, logs, failWith: faulty.failWith };
  };

  it("sends an unexpected error to the DSN with the request id and route, and no secret", async () => {
    const { request, services, failWith } = setup();
    expect(services.reporter.enabled).toBe(true);
    const token = await mintToken({ secret: TEST_SECRET, sub: DEMO_USERS.manager, appRole: "manager" });
    failWith(
      new TypeError(
        `pool said: postgres://app:db-password-31337@10.0.0.5/prod; bearer ${token}; secret=${TEST_SECRET}; metrics ${METRICS_TOKEN}`,
      ),
    );
    const before = ingest.received.length;
    const response = await request("GET", `/v1/products/${randomUUID()}`, { token });
    expect(response.status).toBe(500);
    const requestId = response.headers.get("x-request-id") ?? "";
    await waitFor(() => ingest.received.length > before);

    const [delivery] = ingest.received.slice(before);
    expect(delivery?.path).toMatch(/^\/api\/4242\/envelope\/\?/);
    expect(delivery?.path).toContain("sentry_key=publickey0123456789");
    const [, items] = parseEnvelope(delivery?.body ?? "");
    const [itemHeader, event] = items[0] as [{ type: string }, Record<string, any>];
    expect(itemHeader.type).toBe("event");
    expect(event).toMatchObject({
      environment: "test",
      level: "error",
      tags: { request_id: requestId, route: "/api/v1/products/:id", method: "GET", caller_kind: "user" },
      user: { id: DEMO_USERS.manager },
    });
    const exception = event.exception.values[0];
    expect(exception.type).toBe("TypeError");
    expect(exception.value).toContain("postgres://app:[redacted]@10.0.0.5/prod");
    expect(exception.mechanism).toMatchObject({ type: "storekeep", handled: false });
    // A real stack trace, parsed into frames, reaching into our code.
    expect(exception.stacktrace.frames.length).toBeGreaterThan(1);
    expect(
      exception.stacktrace.frames.some((frame: { filename?: string }) => frame.filename?.includes("/tests/")),
    ).toBe(true);
    // Nothing about the request beyond the tags: no headers, no cookies, no IP.
    expect(event.request).toBeUndefined();
    for (const secret of ["db-password-31337", token, TEST_SECRET, METRICS_TOKEN]) {
      expect(delivery?.body).not.toContain(secret);
    }
  });

  it("does not report client errors (4xx) or refusals, only the 500s", async () => {
    const { request, services, failWith } = setup();
    const before = ingest.received.length;
    const answers = [
      await request("GET", `/v1/products/${randomUUID()}`, { as: "viewer" }), // 404
      await request("GET", "/v1/users/roles"), // 401
      await request("GET", "/v1/users/roles", { token: "not.a.jwt" }), // 401
      await request("GET", "/v1/users/roles", { as: "viewer" }), // 403
      await request("POST", "/v1/brands", { as: "admin", body: { name: "" } }), // 422
      await request("POST", "/v1/brands", { as: "admin", body: "{not json" }), // 400
      await request("DELETE", "/v1/health"), // 405
      await request("GET", "/v1/metrics", { token: "wrong-metrics-token-0000" }), // 401
    ];
    expect(answers.map((answer) => answer.status)).toEqual([404, 401, 401, 403, 422, 400, 405, 401]);
    expect(await services.reporter.flush(2000)).toBe(true);
    expect(ingest.received.length).toBe(before);

    failWith(new Error("now something really broke"));
    expect((await request("GET", `/v1/products/${randomUUID()}`, { as: "viewer" })).status).toBe(500);
    await waitFor(() => ingest.received.length === before + 1);
    expect(await services.reporter.flush(2000)).toBe(true);
    expect(ingest.received.length).toBe(before + 1);
  });

  it("reports nothing and sends nothing without SENTRY_DSN (the error is still logged)", async () => {
    const faulty = faultyDb(ctx.db);
    const logs = captureLogs();
    const { request, services } = createTestApp(faulty.db, { LOG_LEVEL: "error" }, { writeLog: logs.write });
    expect(services.reporter.enabled).toBe(false);
    const before = ingest.received.length;
    faulty.failWith(new Error("unreported"));
    expect((await request("GET", `/v1/products/${randomUUID()}`, { as: "viewer" })).status).toBe(500);
    expect(logs.lines.map((line) => line.msg)).toEqual(["unhandled error", "request"]);
    expect(ingest.received.length).toBe(before);
  });

  it("refuses at start-up a SENTRY_DSN the SDK could not use (it would drop every report silently)", () => {
    for (const dsn of ["https://sentry.example.com/1", "https://key-with-dash@o1.ingest.sentry.io/1", "not a url"]) {
      expect(() => loadConfig({ ...LOCAL_DEFAULTS, SENTRY_DSN: dsn }), dsn).toThrow(/SENTRY_DSN/);
    }
    const config = loadConfig({ ...LOCAL_DEFAULTS, SENTRY_DSN: "https://abc123@o42.ingest.us.sentry.io/4507" });
    expect(config.sentry?.dsn).toBe("https://abc123@o42.ingest.us.sentry.io/4507");
  });
});
