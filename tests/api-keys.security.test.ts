import { describe, expect, it } from "vitest";
import { signRequest } from "../packages/client/src/signing.ts";
import { SCOPES, type Scope } from "../packages/server/src/http/scopes.ts";
import { issueKey } from "./helpers/api-keys.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// Scopes on every route, derived from the OpenAPI document (like tests/routes.security.test.ts):
// each route a bearer token may call also names the one scope an API key needs, a key without that
// scope is refused with 403 (even with every other scope and the owner's role cap), and a key with
// only that scope gets past the guard.
const ctx = useTestDatabase();
const DUMMY = "00000000-0000-4000-8000-00000000dead";

/** Bearer routes no key may call, each with the reason. */
const USERS_ONLY: Record<string, string> = {
  "GET /api/v1/me": "a user's own identity: a key is not a user (seen as anonymous there, 401)",
};

interface Operation {
  security?: Record<string, string[]>[];
}

async function securedRoutes(request: ReturnType<typeof createTestApp>["request"]) {
  const spec = (await request("GET", "/v1/openapi.json")).json as { paths: Record<string, Record<string, Operation>> };
  return Object.entries(spec.paths).flatMap(([path, operations]) =>
    Object.entries(operations)
      .filter(([, operation]) => operation.security?.some((requirement) => "bearerAuth" in requirement))
      .filter(([method]) => !(`${method.toUpperCase()} ${path}` in USERS_ONLY))
      .map(([method, operation]) => ({
        name: `${method.toUpperCase()} ${path}`,
        method: method.toUpperCase(),
        path: path.replace(/^\/api/, "").replace(/\{[^}]+\}/g, DUMMY),
        scopes: operation.security?.flatMap((requirement) => requirement.apiKey ?? []) ?? [],
      })),
  );
}

describe(`API key scopes on every route, on ${engine}`, () => {
  it("the database knows the same scopes as the API", async () => {
    const { rows } = await ctx.db.query<{ scopes: string[] }>("select private.api_key_scopes() as scopes");
    expect([...(rows[0]?.scopes ?? [])].sort()).toEqual([...SCOPES].sort());
  });

  it("every secured route declares exactly one known scope beside bearer", async () => {
    const { request } = createTestApp(ctx.db);
    const routes = await securedRoutes(request);
    expect(routes.length).toBeGreaterThan(50);
    const wrong = routes
      .filter((route) => route.scopes.length !== 1 || !SCOPES.includes(route.scopes[0] as Scope))
      .map((route) => `${route.name}: ${JSON.stringify(route.scopes)}`);
    expect(wrong).toEqual([]);
  });

  it("a key on a users-only route is refused", async () => {
    const { request } = createTestApp(ctx.db);
    const key = await issueKey(ctx.db, { scopes: [...SCOPES], roleCap: "owner" });
    const me = await request("GET", "/v1/me", { headers: { "x-api-key": key.secret } });
    expect(me.status).toBe(401);
  });

  it("a key without the route's scope gets 403; a key with only that scope gets past the guard", async () => {
    const { request } = createTestApp(ctx.db);
    const routes = await securedRoutes(request);
    const allBut = new Map<string, Awaited<ReturnType<typeof issueKey>>>();
    const only = new Map<string, Awaited<ReturnType<typeof issueKey>>>();
    for (const scope of SCOPES) {
      const others = SCOPES.filter((candidate) => candidate !== scope);
      allBut.set(scope, await issueKey(ctx.db, { scopes: others, roleCap: "owner", name: `all but ${scope}` }));
      only.set(scope, await issueKey(ctx.db, { scopes: [scope], roleCap: "owner", name: `only ${scope}` }));
    }

    const call = async (route: (typeof routes)[number], key: Awaited<ReturnType<typeof issueKey>>) => {
      const body = route.method === "GET" ? undefined : "{}";
      const signature = await signRequest({
        method: route.method,
        url: `http://local/api${route.path}`,
        body,
        signingSecret: key.signing_secret,
      });
      return request(route.method, route.path, { body, headers: { "x-api-key": key.secret, ...signature } });
    };

    const failures: string[] = [];
    for (const route of routes) {
      const scope = route.scopes[0] as Scope;
      const without = await call(route, allBut.get(scope) as Awaited<ReturnType<typeof issueKey>>);
      if (without.status !== 403 || without.json?.required_scope !== scope)
        failures.push(`${route.name} without ${scope}: ${without.status} ${without.json?.detail}`);
      const withIt = await call(route, only.get(scope) as Awaited<ReturnType<typeof issueKey>>);
      if (withIt.status === 401 || (withIt.status === 403 && withIt.json?.required_scope))
        failures.push(`${route.name} with ${scope}: ${withIt.status} ${withIt.json?.detail}`);
    }
    expect(failures).toEqual([]);
  });

  it("a key with the scope but a role cap below the route's role gets 403", async () => {
    const { request } = createTestApp(ctx.db);
    const viewer = await issueKey(ctx.db, { scopes: ["catalog:write", "inventory:read"], roleCap: "viewer" });
    const body = JSON.stringify({ title: "by a viewer key" });
    const signature = await signRequest({
      method: "POST",
      url: "http://local/api/v1/products",
      body,
      signingSecret: viewer.signing_secret,
    });
    const write = await request("POST", "/v1/products", {
      body,
      headers: { "x-api-key": viewer.secret, ...signature },
    });
    expect(write.status).toBe(403);
    expect(write.json.detail).toContain("needs role staff");
    const read = await request("GET", "/v1/locations", { headers: { "x-api-key": viewer.secret } });
    expect(read.status).toBe(200);
  });

  it("an admin cannot issue a key capped above their role, nor can a manager issue any", async () => {
    await expect(issueKey(ctx.db, { scopes: ["catalog:read"], roleCap: "owner", as: "admin" })).rejects.toMatchObject({
      code: "P0F01",
    });
    await expect(
      issueKey(ctx.db, { scopes: ["catalog:read"], roleCap: "viewer", as: "manager" }),
    ).rejects.toMatchObject({ code: "P0F01" });
  });

  it("a key acts with the lesser of its cap and its creator's current role", async () => {
    const { request } = createTestApp(ctx.db);
    const key = await issueKey(ctx.db, { scopes: ["inventory:read"], roleCap: "admin", as: "admin" });
    expect((await request("GET", "/v1/locations", { headers: { "x-api-key": key.secret } })).status).toBe(200);
    const admin = "00000000-0000-4000-8000-000000000002";
    await ctx.db.query("update public.user_roles set app_role = 'staff' where user_id = $1", [admin]);
    try {
      const { rows } = await ctx.db.query<{ app_role: string }>(
        "select app_role from private.api_key_authenticate(encode(sha256(convert_to($1, 'UTF8')), 'hex'), null)",
        [key.secret],
      );
      expect(rows[0]?.app_role).toBe("staff");
      await ctx.db.query("delete from public.user_roles where user_id = $1", [admin]);
      const none = await request("GET", "/v1/locations", { headers: { "x-api-key": key.secret } });
      expect(none.status).toBe(403);
    } finally {
      await ctx.db.query(
        "insert into public.user_roles (user_id, app_role) values ($1, 'admin') on conflict (user_id) do update set app_role = 'admin'",
        [admin],
      );
    }
  });

  it("on an open route a key without its read scope is seen as anonymous (published products only)", async () => {
    const { request } = createTestApp(ctx.db);
    const draft = await request("POST", "/v1/products", { as: "staff", body: { title: "A draft for keys" } });
    expect(draft.status).toBe(201);
    const blind = await issueKey(ctx.db, { scopes: ["orders:read"], roleCap: "owner" });
    const reader = await issueKey(ctx.db, { scopes: ["catalog:read"], roleCap: "viewer" });
    const asBlind = await request("GET", `/v1/products/${draft.json.id}`, { headers: { "x-api-key": blind.secret } });
    expect(asBlind.status).toBe(404);
    const asReader = await request("GET", `/v1/products/${draft.json.id}`, { headers: { "x-api-key": reader.secret } });
    expect(asReader.status).toBe(200);
  });
});
