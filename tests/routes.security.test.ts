import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// One suite over every route the OpenAPI document declares: a route that needs a bearer token
// must refuse a caller without one (401) and a forged one (401) before touching anything.
const ctx = useTestDatabase();
const DUMMY = "00000000-0000-4000-8000-00000000dead";

interface Operation {
  security?: Record<string, string[]>[];
}

describe(`every secured route refuses the wrong caller on ${engine}`, () => {
  it("answers 401 problem+json without a token and with a forged one", async () => {
    const { request } = createTestApp(ctx.db);
    const spec = (await request("GET", "/v1/openapi.json")).json as {
      paths: Record<string, Record<string, Operation>>;
    };
    const secured = Object.entries(spec.paths).flatMap(([path, operations]) =>
      Object.entries(operations)
        .filter(([, operation]) => operation.security?.some((requirement) => "bearerAuth" in requirement))
        .map(([method, _]) => ({
          method: method.toUpperCase(),
          path: path.replace(/^\/api/, "").replace(/\{[^}]+\}/g, DUMMY),
        })),
    );
    expect(secured.length).toBeGreaterThan(10);

    const forged =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiYXV0aGVudGljYXRlZCIsImFwcF9yb2xlIjoib3duZXIiLCJleHAiOjQxMDI0NDQ4MDB9.c2lnbmF0dXJl";
    const failures: string[] = [];
    for (const { method, path } of secured) {
      for (const token of [undefined, forged]) {
        const response = await request(method, path, { token, body: method === "GET" ? undefined : {} });
        const isProblem = response.headers.get("content-type") === "application/problem+json";
        if (response.status !== 401 || !isProblem)
          failures.push(`${method} ${path} (${token ? "forged" : "no"} token): ${response.status}`);
      }
    }
    expect(failures).toEqual([]);
  });
});
