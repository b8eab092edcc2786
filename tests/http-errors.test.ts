import { describe, expect, it } from "vitest";
import { PROBLEM_BASE } from "../packages/server/src/http/problems.ts";
import { createTestApp, DEMO_USERS } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);

function expectProblem(response: { status: number; headers: Headers; json: any }, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  expect(response.json).toMatchObject({ type: PROBLEM_BASE + code, status, title: expect.any(String) });
  expect(response.json.request_id).toBe(response.headers.get("x-request-id"));
}

describe(`problem+json errors on ${engine}`, () => {
  it("malformed JSON is 400", async () => {
    const response = await api().request("PUT", `/v1/users/${DEMO_USERS.viewer}/role`, {
      as: "admin",
      body: "{not json",
    });
    expectProblem(response, 400, "malformed-request");
  });

  it("validation failures are 422 naming the field at fault", async () => {
    const badParam = await api().request("PUT", "/v1/users/not-a-uuid/role", {
      as: "admin",
      body: { app_role: "viewer" },
    });
    expectProblem(badParam, 422, "validation-failed");
    expect(badParam.json.errors).toEqual([{ field: "param.user_id", message: expect.any(String) }]);
    const badBody = await api().request("PUT", `/v1/users/${DEMO_USERS.viewer}/role`, {
      as: "admin",
      body: { app_role: "emperor" },
    });
    expectProblem(badBody, 422, "validation-failed");
    expect(badBody.json.errors).toEqual([{ field: "body.app_role", message: expect.any(String) }]);
    const noBody = await api().request("PUT", `/v1/users/${DEMO_USERS.viewer}/role`, { as: "admin" });
    expect(noBody.status).toBe(422);
  });

  it("an invalid query parameter is 422 on that parameter", async () => {
    const response = await api().request("GET", "/v1/users/roles?limit=0", { as: "admin" });
    expectProblem(response, 422, "validation-failed");
    expect(response.json.errors).toEqual([{ field: "query.limit", message: expect.any(String) }]);
  });

  it("a forged cursor is 422, not 500", async () => {
    const response = await api().request("GET", "/v1/users/roles?cursor=bm9wZQ", { as: "admin" });
    expectProblem(response, 422, "validation-failed");
    expect(response.json.errors[0].field).toBe("query.cursor");
  });

  it("an unknown route is 404", async () => {
    expectProblem(await api().request("GET", "/v1/nothing-here"), 404, "not-found");
  });

  it("a wrong method is 405 with Allow", async () => {
    const response = await api().request("DELETE", "/v1/health");
    expectProblem(response, 405, "method-not-allowed");
    expect(response.headers.get("allow")).toBe("GET");
  });

  it("a missing token is 401 and a low role is 403", async () => {
    expectProblem(await api().request("GET", "/v1/users/roles"), 401, "unauthenticated");
    expectProblem(await api().request("GET", "/v1/users/roles", { as: "manager" }), 403, "forbidden");
  });

  it("a database refusal maps through the SQLSTATE table (RLS: an admin may not grant owner)", async () => {
    const response = await api().request("PUT", `/v1/users/${DEMO_USERS.viewer}/role`, {
      as: "admin",
      body: { app_role: "owner" },
    });
    expectProblem(response, 403, "forbidden");
  });

  it("an unexpected error is 500 with the request id and no internals", async () => {
    const { app, services } = api();
    const lines: string[] = [];
    services.logger.error = (msg, fields) => lines.push(JSON.stringify({ msg, ...fields }));
    services.db.query = async () => {
      throw new TypeError("secret internal detail at /srv/app.ts:42");
    };
    services.readiness.database = async () => {
      throw new Error("unused");
    };
    app.get("/v1/boom", async (c) => c.json(await services.db.query("select 1")));
    const response = await app.request("/api/v1/boom", { headers: { "x-request-id": "req-abc-123" } });
    expect(response.status).toBe(500);
    const body = await response.json();
    expect(body).toMatchObject({ type: `${PROBLEM_BASE}internal`, status: 500, request_id: "req-abc-123" });
    expect(JSON.stringify(body)).not.toContain("secret internal detail");
    expect(lines.join("\n")).toContain("req-abc-123");
  });
});

describe("request id, CORS and secure headers", () => {
  it("echoes a given X-Request-Id and generates one otherwise", async () => {
    const given = await api().request("GET", "/v1/health", { headers: { "x-request-id": "abc-123" } });
    expect(given.headers.get("x-request-id")).toBe("abc-123");
    const generated = await api().request("GET", "/v1/health");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a preflight from an allowed origin, allowing the signing and concurrency headers", async () => {
    const response = await api().request("OPTIONS", "/v1/users/roles", {
      headers: {
        origin: "http://localhost:3000",
        "access-control-request-method": "PUT",
        "access-control-request-headers": "x-request-signature,idempotency-key,if-match",
      },
    });
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    const allowed = (response.headers.get("access-control-allow-headers") ?? "").toLowerCase();
    for (const header of [
      "x-request-signature",
      "x-request-timestamp",
      "x-request-nonce",
      "idempotency-key",
      "if-match",
    ]) {
      expect(allowed).toContain(header);
    }
  });

  it("does not allow an origin outside the allow-list", async () => {
    const response = await api().request("GET", "/v1/health", { headers: { origin: "https://evil.example" } });
    expect(response.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("every kind of answer carries the request id, CORS and secure headers: JSON, a problem, a route's own Response, a 304", async () => {
    const origin = "http://localhost:3000";
    const json = await api().request("GET", "/v1/locations", { as: "viewer", headers: { origin } });
    const answers = [
      json,
      await api().request("GET", "/v1/no-such-route", { headers: { origin } }),
      await api().request("GET", "/v1/docs/init.js", { headers: { origin } }),
      await api().request("GET", "/v1/locations", {
        as: "viewer",
        headers: { origin, "if-none-match": json.headers.get("etag") ?? "" },
      }),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([200, 404, 200, 304]);
    for (const answer of answers) {
      expect(answer.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      expect(answer.headers.get("vary")).toMatch(/\bOrigin\b/);
    }
    // A 304 keeps only what it may carry (http-cache.ts); the others carry the whole set.
    for (const answer of answers.slice(0, 3)) {
      expect(answer.headers.get("access-control-allow-origin")).toBe(origin);
      expect(answer.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
      expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    }
  });

  it("sets secure headers", async () => {
    const response = await api().request("GET", "/v1/health");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("strict-transport-security")).toContain("max-age");
  });

  it("writes one JSON log line per request with its request id", async () => {
    const { app, services } = api();
    const lines: Record<string, unknown>[] = [];
    services.logger.info = (msg, fields) => lines.push({ msg, ...fields });
    await app.request("/api/v1/health", { headers: { "x-request-id": "log-me-1" } });
    expect(lines).toEqual([
      expect.objectContaining({ msg: "request", request_id: "log-me-1", status: 200, route: "/api/v1/health" }),
    ]);
  });
});

describe("OpenAPI and docs", () => {
  it("serves an OpenAPI 3.1 document built from the routes", async () => {
    const response = await api().request("GET", "/v1/openapi.json");
    expect(response.status).toBe(200);
    expect(response.json.openapi).toBe("3.1.0");
    expect(Object.keys(response.json.paths)).toEqual(
      expect.arrayContaining(["/api/v1/health", "/api/v1/ready", "/api/v1/me", "/api/v1/users/{user_id}/role"]),
    );
    expect(response.json.paths["/api/v1/users/{user_id}/role"].put.responses["422"]).toBeDefined();
  });

  it("serves an interactive reference page pointing at the document", async () => {
    const response = await api().request("GET", "/v1/docs");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    // Relative to the page: /functions/v1/api/v1/docs resolves them under /functions/v1/api/v1/.
    expect(response.text).toContain('src="docs/swagger-ui-bundle.js"');
    expect(response.text).not.toMatch(/(src|href)="(https?:)?\/\//);
    const init = await api().request("GET", "/v1/docs/init.js");
    expect(init.text).toContain('new URL("openapi.json", document.baseURI)');
    for (const path of [
      "/v1/docs/swagger-ui-bundle.js",
      "/v1/docs/swagger-ui.css",
      "/v1/docs/swagger-ui-bundle.js.LICENSE.txt",
    ]) {
      const asset = await api().request("GET", path);
      expect({ path, status: asset.status }).toEqual({ path, status: 200 });
      expect(asset.text.length).toBeGreaterThan(1_000);
      const again = await api().request("GET", path, { headers: { "if-none-match": asset.headers.get("etag") ?? "" } });
      expect(again.status).toBe(304);
    }
  });
});
