import { beforeAll, describe, expect, it } from "vitest";
import type { AppRole } from "../packages/server/src/http/auth.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, onPostgres, useTestDatabase } from "./helpers/db.ts";

// Idempotency-Key on every creating route beyond POST /products (tests/idempotency.test.ts) and
// POST /orders (tests/orders*): a repeat answers the first response and writes nothing.

const ctx = useTestDatabase({ poolMax: 12 });
const api = () => createTestApp(ctx.db);

const countWhere = async (sql: string, prefix: string) =>
  Number((await ctx.db.query<{ n: string }>(sql, [prefix])).rows[0]?.n);

interface CreatingRoute {
  name: string;
  as: AppRole;
  path: () => string;
  /** A body whose rows `count(tag)` finds: every row whose name, code, SKU or URL starts with the tag. */
  body: (tag: string) => Record<string, unknown>;
  count: (tag: string) => Promise<number>;
  /** The body carries a unique code or SKU: two key-less creates need two bodies. */
  unique: boolean;
}

let productId = "";

const routes: CreatingRoute[] = [
  {
    name: "POST /brands",
    as: "staff",
    path: () => "/v1/brands",
    body: (tag) => ({ name: `idem ${tag}` }),
    count: (tag) => countWhere("select count(*) as n from public.brands where name like 'idem ' || $1 || '%'", tag),
    unique: false,
  },
  {
    name: "POST /categories",
    as: "staff",
    path: () => "/v1/categories",
    body: (tag) => ({ name: `idem ${tag}` }),
    count: (tag) => countWhere("select count(*) as n from public.categories where name like 'idem ' || $1 || '%'", tag),
    unique: false,
  },
  {
    name: "POST /products/{id}/variants",
    as: "staff",
    path: () => `/v1/products/${productId}/variants`,
    body: (tag) => ({ sku: `idem-${tag}`, price_amount: 1200, currency: "EUR" }),
    count: (tag) =>
      countWhere("select count(*) as n from public.product_variants where lower(sku) like 'idem-' || $1 || '%'", tag),
    unique: true,
  },
  {
    name: "POST /locations",
    as: "manager",
    path: () => "/v1/locations",
    body: (tag) => ({ code: `idem-${tag}`, name: `Idem ${tag}` }),
    count: (tag) => countWhere("select count(*) as n from public.locations where code like 'idem-' || $1 || '%'", tag),
    unique: true,
  },
  {
    name: "POST /webhooks/endpoints",
    as: "admin",
    path: () => "/v1/webhooks/endpoints",
    body: (tag) => ({ url: `http://127.0.0.1:9/idem/${tag}`, topics: ["idem.*"] }),
    count: (tag) =>
      countWhere(
        "select count(*) as n from public.webhook_endpoints where url like 'http://127.0.0.1:9/idem/' || $1 || '%'",
        tag,
      ),
    unique: false,
  },
];

beforeAll(async () => {
  const host = await api().request("POST", "/v1/products", { as: "staff", body: { title: "Idempotent variants" } });
  expect(host.status).toBe(201);
  productId = host.json.id;
});

describe.each(routes)(`Idempotency-Key on $name on ${engine}`, (route) => {
  const post = (body: unknown, key?: string, as: AppRole = route.as) =>
    api().request("POST", route.path(), { as, body, headers: key ? { "idempotency-key": key } : {} });

  it("the same key twice answers the first response, flagged as replayed, and creates one row", async () => {
    const key = `same-${route.name}`;
    const first = await post(route.body("same"), key);
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await post(route.body("same"), key);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json.id).toBe(first.json.id);
    expect(again.json).toEqual(first.json);
    expect(await route.count("same")).toBe(1);
  });

  it("the same key with another body is a 409 problem on the header and writes nothing", async () => {
    const key = `other-${route.name}`;
    expect((await post(route.body("other"), key)).status).toBe(201);
    const other = await post(route.body("other-b"), key);
    expect(other.status).toBe(409);
    expect(other.headers.get("content-type")).toContain("application/problem+json");
    expect(other.json.errors[0].field).toBe("header.idempotency-key");
    expect(await route.count("other-b")).toBe(0);
    expect(await route.count("other")).toBe(1);
  });

  it("without a key, two requests create two rows", async () => {
    const bodies = route.unique
      ? [route.body("nokey-a"), route.body("nokey-b")]
      : [route.body("nokey"), route.body("nokey")];
    const first = await post(bodies[0]);
    const second = await post(bodies[1]);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(second.json.id).not.toBe(first.json.id);
    expect(await route.count("nokey")).toBe(2);
  });
});

describe(`Idempotency-Key specifics on ${engine}`, () => {
  it("a variant's key covers its product: the same key and body for another product is a 409", async () => {
    const other = await api().request("POST", "/v1/products", { as: "staff", body: { title: "Another host" } });
    const body = { sku: "idem-per-product", price_amount: 900, currency: "EUR" };
    const headers = { "idempotency-key": "variant-per-product" };
    const first = await api().request("POST", `/v1/products/${productId}/variants`, { as: "staff", body, headers });
    expect(first.status).toBe(201);
    const elsewhere = await api().request("POST", `/v1/products/${other.json.id}/variants`, {
      as: "staff",
      body,
      headers,
    });
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.json.errors[0].field).toBe("header.idempotency-key");
  });

  it("a replayed webhook endpoint answers the same signing secret, and the endpoint has one secret", async () => {
    const { request } = api();
    const body = { url: "http://127.0.0.1:9/idem-secret", topics: ["idem.*"] };
    const headers = { "idempotency-key": "endpoint-secret" };
    const first = await request("POST", "/v1/webhooks/endpoints", { as: "admin", body, headers });
    expect(first.status).toBe(201);
    expect(first.json.secret).toMatch(/^whsec_/);
    const again = await request("POST", "/v1/webhooks/endpoints", { as: "admin", body, headers });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json.secret).toBe(first.json.secret);
    const { rows } = await ctx.db.query<{ secret: string }>(
      "select secret from private.webhook_secrets where endpoint_id = $1",
      [first.json.id],
    );
    expect(rows.map((row) => row.secret)).toEqual([first.json.secret]);
  });

  it("another admin's request with the same key is its own: a new endpoint, never the first secret", async () => {
    const { request } = api();
    const body = { url: "http://127.0.0.1:9/idem-namespace", topics: ["idem.*"] };
    const headers = { "idempotency-key": "endpoint-namespace" };
    const byAdmin = await request("POST", "/v1/webhooks/endpoints", { as: "admin", body, headers });
    const byOwner = await request("POST", "/v1/webhooks/endpoints", { as: "owner", body, headers });
    expect([byAdmin.status, byOwner.status]).toEqual([201, 201]);
    expect(byOwner.headers.get("idempotent-replayed")).toBeNull();
    expect(byOwner.json.id).not.toBe(byAdmin.json.id);
    expect(byOwner.json.secret).not.toBe(byAdmin.json.secret);
  });

  it("stored responses (which hold webhook secrets) are as protected as the secrets themselves", async () => {
    const { rows } = await ctx.db.query<Record<string, unknown>>(
      `select c.relname, n.nspname, c.relrowsecurity,
              (select count(*)::int from pg_policies p where p.schemaname = n.nspname and p.tablename = c.relname) as policies,
              (select coalesce(array_agg(g.grantee::text || ':' || g.privilege_type order by 1), '{}')
                 from information_schema.role_table_grants g
                where g.table_schema = n.nspname and g.table_name = c.relname
                  and g.grantee in ('anon', 'authenticated', 'public', 'PUBLIC')) as api_grants
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'private' and c.relname in ('idempotent_requests', 'webhook_secrets')
        order by c.relname`,
    );
    const [requests, secrets] = rows;
    expect(rows.map((row) => row.relname)).toEqual(["idempotent_requests", "webhook_secrets"]);
    for (const table of [requests, secrets]) {
      expect(table).toMatchObject({ nspname: "private", relrowsecurity: true, policies: 0, api_grants: [] });
    }
    for (const role of ["anon", "authenticated"]) {
      const { rows: access } = await ctx.db.query<{ requests: boolean; secrets: boolean }>(
        `select has_table_privilege($1, 'private.idempotent_requests', 'select,insert,update,delete') as requests,
                has_table_privilege($1, 'private.webhook_secrets', 'select,insert,update,delete') as secrets`,
        [role],
      );
      expect(access[0]).toEqual({ requests: false, secrets: false });
    }
  });
});

describe.skipIf(!onPostgres)("concurrent repeats of one Idempotency-Key", () => {
  it.each(routes)("$name: 20 at once create exactly one row and all answer it", async (route) => {
    const { request } = api();
    const headers = { "idempotency-key": `race-${route.name}` };
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        request("POST", route.path(), { as: route.as, body: route.body("race"), headers }),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
    expect(new Set(responses.map((response) => response.json.id)).size).toBe(1);
    expect(responses.filter((response) => response.headers.get("idempotent-replayed") === "true")).toHaveLength(19);
    expect(await route.count("race")).toBe(1);
  });
});
