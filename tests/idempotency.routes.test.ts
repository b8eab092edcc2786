import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AppRole } from "../packages/server/src/http/auth.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, onPostgres, useTestDatabase } from "./helpers/db.ts";
import { createLocation } from "./helpers/inventory.ts";
import { customer, stocked } from "./helpers/orders.ts";

// Idempotency-Key on every creating route beyond POST /products (tests/idempotency.test.ts) and
// POST /orders (tests/orders*): a repeat answers the first response and writes nothing. Bulk create
// and import create many rows per request; their `count` counts those rows (for an import, staged or
// imported: a chunk moves rows from one to the other in one transaction).

const ctx = useTestDatabase({ poolMax: 12 });
const api = () => createTestApp(ctx.db);

const countWhere = async (sql: string, prefix: string) =>
  Number((await ctx.db.query<{ n: string }>(sql, [prefix])).rows[0]?.n);

interface CreatingRoute {
  name: string;
  as: AppRole;
  path: () => string;
  /** A body whose rows `count(tag)` finds: every row whose name, code, SKU or URL starts with the tag. */
  body: (tag: string) => Record<string, unknown> | string;
  count: (tag: string) => Promise<number>;
  /** The body carries a unique code or SKU: two key-less creates need two bodies. */
  unique: boolean;
  /** The success status (201 unless given). */
  status?: number;
  /** The body's content type (JSON unless given). */
  contentType?: string;
  /** Rows one request creates (1 unless given). */
  rows?: number;
  /** What identifies what a response created (its `id` unless given). */
  created?: (json: any) => string;
}

let productId = "";
let sku = "";

const movementCount = (kind: string) => (tag: string) =>
  countWhere(
    `select count(*) as n from public.stock_movements where kind = '${kind}' and reason like 'idem ' || $1 || '%'`,
    tag,
  );

const routes: CreatingRoute[] = [
  {
    name: "POST /products",
    as: "staff",
    path: () => "/v1/products",
    body: (tag) => ({ title: `idem product ${tag}` }),
    count: (tag) =>
      countWhere("select count(*) as n from public.products where title like 'idem product ' || $1 || '%'", tag),
    unique: false,
  },
  {
    name: "POST /orders",
    as: "staff",
    path: () => "/v1/orders",
    body: (tag) => ({ items: [{ sku, quantity: 1 }], customer, note: `idem ${tag}` }),
    count: (tag) => countWhere("select count(*) as n from public.orders where note like 'idem ' || $1 || '%'", tag),
    unique: false,
  },
  {
    name: "POST /inventory/reservations",
    as: "staff",
    path: () => "/v1/inventory/reservations",
    body: (tag) => ({ items: [{ sku, quantity: 1 }], reference: { type: "external", id: `idem-${tag}` } }),
    count: (tag) =>
      countWhere("select count(*) as n from public.reservations where reference_id like 'idem-' || $1 || '%'", tag),
    unique: false,
  },
  {
    name: "POST /inventory/adjust",
    as: "staff",
    path: () => "/v1/inventory/adjust",
    body: (tag) => ({ sku, location_code: "main", kind: "receipt", delta: 1, reason: `idem ${tag}` }),
    count: movementCount("receipt"),
    unique: false,
    created: (json) => String(json.movement.id),
  },
  {
    name: "POST /inventory/transfers",
    as: "staff",
    path: () => "/v1/inventory/transfers",
    body: (tag) => ({
      sku,
      from_location_code: "main",
      to_location_code: "idem-north",
      quantity: 1,
      reason: `idem ${tag}`,
    }),
    count: movementCount("transfer_out"),
    unique: false,
    created: (json) => json.transfer_id,
  },
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
  {
    name: "POST /products/bulk",
    as: "staff",
    path: () => "/v1/products/bulk",
    body: (tag) => ({
      ops: [
        { action: "create", product: { title: `idem bulk ${tag} one` } },
        { action: "create", product: { title: `idem bulk ${tag} two` } },
      ],
    }),
    count: (tag) =>
      countWhere("select count(*) as n from public.products where title like 'idem bulk ' || $1 || '%'", tag),
    unique: false,
    status: 200,
    rows: 2,
    created: (json) => json.results.map((item: { id: string }) => item.id).join(","),
  },
  {
    name: "POST /products/import",
    as: "staff",
    path: () => "/v1/products/import",
    body: (tag) =>
      `${JSON.stringify({ title: `idem import ${tag} one` })}\n${JSON.stringify({ title: `idem import ${tag} two` })}\n`,
    count: (tag) =>
      countWhere(
        `select (select count(*) from public.products where title like 'idem import ' || $1 || '%')
              + (select count(*) from private.import_rows where data ->> 'title' like 'idem import ' || $1 || '%') as n`,
        tag,
      ),
    unique: false,
    status: 202,
    contentType: "application/x-ndjson",
    rows: 2,
  },
];

const routeNamed = (name: string) => {
  const route = routes.find((candidate) => candidate.name === name);
  if (!route) throw new Error(`no route ${name}`);
  return route;
};
const bulkRoute = routeNamed("POST /products/bulk");
const importRoute = routeNamed("POST /products/import");

const send = (route: CreatingRoute, body: unknown, key?: string, as: AppRole = route.as) =>
  api().request("POST", route.path(), {
    as,
    body,
    headers: {
      ...(key ? { "idempotency-key": key } : {}),
      ...(route.contentType ? { "content-type": route.contentType } : {}),
    },
  });
const created = (route: CreatingRoute, json: any) => (route.created ? route.created(json) : json.id);
const jobCount = async () =>
  Number((await ctx.db.query<{ n: string }>("select count(*) as n from private.background_jobs")).rows[0]?.n);

/** Imports this file started keep running after their answer; let them finish before the database goes. */
async function importsSettled() {
  for (let i = 0; i < 400; i++) {
    const { rows } = await ctx.db.query<{ n: string }>("select count(*) as n from private.import_rows");
    if (Number(rows[0]?.n) === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("imports did not finish");
}
afterAll(importsSettled);

beforeAll(async () => {
  const host = await api().request("POST", "/v1/products", { as: "staff", body: { title: "Idempotent variants" } });
  expect(host.status).toBe(201);
  productId = host.json.id;
  sku = await stocked(ctx.db, "IDEM-STOCK", 10_000);
  await createLocation(ctx.db, "idem-north");
});

/** Creating routes that take no Idempotency-Key, each with the reason. */
const EXEMPT: Record<string, string> = {
  "POST /v1/api-keys":
    "keyed, but a repeat answers the key without its secrets (shown once): tests/api-keys.routes.test.ts",
  "POST /v1/webhooks/inbound/{source}": "Standard Webhooks: the sender's webhook-id is the idempotency key",
  "POST /v1/webhooks/endpoints/{id}/test": "not yet: queues a test event per call (issue 9 item 11 follow-up)",
  "POST /v1/webhooks/endpoints/{id}/replay": "re-queues past events; a delivery per event and endpoint exists once",
  "POST /v1/webhooks/deliveries/{id}/retry": "re-queues one existing delivery; repeating it changes nothing more",
  // Found by this test when the images domain landed: not yet keyed (issue 9 item 11 follow-up).
  "POST /v1/products/{id}/images": "not yet: images domain (issue 14) takes no Idempotency-Key",
  "POST /v1/products/{id}/images/confirm": "not yet: images domain (issue 14) takes no Idempotency-Key",
  "POST /v1/images/signature": "signs an upload; creates nothing (should answer 200)",
};

describe(`every creating route in the OpenAPI document takes Idempotency-Key on ${engine}`, () => {
  it("each POST answering 201 or 202 declares the header and has a case below (replay, 409 on another request)", async () => {
    const spec = (await api().request("GET", "/v1/openapi.json")).json as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; responses: object }>>;
    };
    const creating = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(
          ([method, operation]) => method === "post" && ("201" in operation.responses || "202" in operation.responses),
        )
        .map(([, operation]) => ({ name: `POST ${path.replace(/^\/api/, "")}`, operation })),
    );
    expect(creating.length).toBeGreaterThan(10);
    const covered = new Set(routes.map((route) => route.name.replace(/^POST /, "POST /v1")));
    const missing = creating
      .filter(({ name }) => !(name in EXEMPT))
      .flatMap(({ name, operation }) => [
        ...(operation.parameters?.some((p) => p.in === "header" && p.name === "idempotency-key")
          ? []
          : [`${name}: does not declare the Idempotency-Key header`]),
        ...(covered.has(name) ? [] : [`${name}: no case in tests/idempotency.routes.test.ts`]),
      ]);
    expect(missing).toEqual([]);
  });
});

describe.each(routes)(`Idempotency-Key on $name on ${engine}`, (route) => {
  const post = (body: unknown, key?: string, as: AppRole = route.as) => send(route, body, key, as);
  const status = route.status ?? 201;
  const rows = route.rows ?? 1;

  it("the same key twice answers the first response, flagged as replayed, and creates one row", async () => {
    const key = `same-${route.name}`;
    const first = await post(route.body("same"), key);
    expect(first.status, first.text).toBe(status);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const again = await post(route.body("same"), key);
    expect(again.status).toBe(status);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(created(route, again.json)).toBe(created(route, first.json));
    expect(again.json).toEqual(first.json);
    expect(await route.count("same")).toBe(rows);
  });

  it("the same key with another body is a 409 problem on the header and writes nothing", async () => {
    const key = `other-${route.name}`;
    expect((await post(route.body("other"), key)).status).toBe(status);
    const other = await post(route.body("other-b"), key);
    expect(other.status).toBe(409);
    expect(other.headers.get("content-type")).toContain("application/problem+json");
    expect(other.json.errors[0].field).toBe("header.idempotency-key");
    expect(await route.count("other-b")).toBe(0);
    expect(await route.count("other")).toBe(rows);
  });

  it("without a key, two requests create two rows", async () => {
    const bodies = route.unique
      ? [route.body("nokey-a"), route.body("nokey-b")]
      : [route.body("nokey"), route.body("nokey")];
    const first = await post(bodies[0]);
    const second = await post(bodies[1]);
    expect([first.status, second.status]).toEqual([status, status]);
    expect(second.headers.get("idempotent-replayed")).toBeNull();
    expect(created(route, second.json)).not.toBe(created(route, first.json));
    expect(await route.count("nokey")).toBe(2 * rows);
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

  it("a bulk that partly failed replays exactly its first answer, per-item problems included", async () => {
    const { request } = api();
    const missing = "00000000-0000-4000-8000-00000000dead";
    const body = {
      ops: [
        { action: "create", product: { title: "idem bulk partial ok" } },
        { action: "update", id: missing, product: { title: "idem bulk partial never" } },
        { action: "create", product: { title: "idem bulk partial published", status: "published" } }, // needs manager
      ],
    };
    const headers = { "idempotency-key": "bulk-partial" };
    const first = await request("POST", "/v1/products/bulk", { as: "staff", body, headers });
    expect(first.status, first.text).toBe(200);
    expect(first.json).toMatchObject({ committed: true, succeeded: 1, failed: 2 });
    expect(first.json.results.map((item: { status: string }) => item.status)).toEqual(["ok", "failed", "failed"]);
    const again = await request("POST", "/v1/products/bulk", { as: "staff", body, headers });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    expect(await bulkRoute.count("partial")).toBe(1);
  });

  it("an atomic bulk that rolled back is not recorded: a repeat runs again and still writes nothing", async () => {
    const { request } = api();
    const body = {
      atomic: true,
      ops: [
        { action: "create", product: { title: "idem bulk atomic ok" } },
        { action: "delete", id: "00000000-0000-4000-8000-00000000dead" },
      ],
    };
    const headers = { "idempotency-key": "bulk-atomic" };
    const first = await request("POST", "/v1/products/bulk", { as: "manager", body, headers });
    expect(first.status).toBe(409);
    expect(first.json.results.map((item: { status: string }) => item.status)).toEqual(["rolled_back", "failed"]);
    const again = await request("POST", "/v1/products/bulk", { as: "manager", body, headers });
    expect(again.status).toBe(409);
    expect(again.headers.get("idempotent-replayed")).toBeNull();
    expect(await bulkRoute.count("atomic")).toBe(0);
    const { rows } = await ctx.db.query("select 1 from private.idempotent_requests where key = 'bulk-atomic'");
    expect(rows).toHaveLength(0);
  });

  it("a repeated import answers the job as first answered, with its Location, after the job has finished", async () => {
    const { request } = api();
    const body = `${JSON.stringify({ title: "idem import later one" })}\n{not json\n`;
    const headers = { "idempotency-key": "import-later", "content-type": "application/x-ndjson" };
    const jobsBefore = await jobCount();
    const first = await request("POST", "/v1/products/import", { as: "staff", body, headers });
    expect(first.status, first.text).toBe(202);
    expect(first.json).toMatchObject({ status: "queued", total: 2, done: 0, failed: 1 });
    await importsSettled();
    const now = await request("GET", `/v1/jobs/${first.json.id}`, { as: "staff" });
    expect(now.json).toMatchObject({ status: "completed", done: 1, failed: 1 });

    const again = await request("POST", "/v1/products/import", { as: "staff", body, headers });
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.headers.get("location")).toBe(first.headers.get("location"));
    expect(again.json).toEqual(first.json);
    expect(await jobCount()).toBe(jobsBefore + 1);
    expect(await importRoute.count("later")).toBe(1);
  });

  it("an import's key covers its format: the same body and key as CSV is another request", async () => {
    const { request } = api();
    const body = "title\nidem import format\n";
    const first = await request("POST", "/v1/products/import?format=csv", {
      as: "staff",
      body,
      headers: { "idempotency-key": "import-format", "content-type": "text/plain" },
    });
    expect(first.status, first.text).toBe(202);
    const asLines = await request("POST", "/v1/products/import?format=jsonl", {
      as: "staff",
      body,
      headers: { "idempotency-key": "import-format", "content-type": "text/plain" },
    });
    expect(asLines.status).toBe(409);
    expect(asLines.json.errors[0].field).toBe("header.idempotency-key");
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
  it.each(routes)("$name: 20 at once create exactly one set of rows and all answer it", async (route) => {
    const jobsBefore = await jobCount();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () => send(route, route.body("race"), `race-${route.name}`)),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(route.status ?? 201));
    expect(new Set(responses.map((response) => created(route, response.json))).size).toBe(1);
    for (const response of responses) expect(response.json).toEqual(responses[0]?.json);
    expect(responses.filter((response) => response.headers.get("idempotent-replayed") === "true")).toHaveLength(19);
    expect(await route.count("race")).toBe(route.rows ?? 1);
    expect(await jobCount()).toBe(jobsBefore + (route === importRoute ? 1 : 0));
  });
});
