import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import type { AppRole } from "../packages/server/src/http/auth.ts";
import { createTestApp, TEST_SECRET } from "./helpers/app.ts";
import { engine, onPostgres, useTestDatabase } from "./helpers/db.ts";
import { type LocalProvider, makeImage, startLocalProvider } from "./helpers/images.ts";
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

const send = (
  route: CreatingRoute,
  body: unknown,
  key?: string,
  as: AppRole = route.as,
  headers: Record<string, string> = {},
) =>
  api().request("POST", route.path(), {
    as,
    body,
    headers: {
      ...headers,
      ...(key ? { "idempotency-key": key } : {}),
      ...(route.contentType ? { "content-type": route.contentType } : {}),
    },
  });

// Item 16's guard: a created resource is one the client can follow. The gateway strips its prefix
// (`/functions/v1` on Supabase and in `npm start`) and announces it; the Location must be the path
// the client called, and GET on it (through the gateway) must answer 200.
const GATEWAY = { "x-forwarded-prefix": "/functions/v1" };
async function expectFollowable(location: string | null, as: AppRole) {
  expect(location).toMatch(/^\/functions\/v1\/api\/v1\//);
  const followed = await api().request("GET", (location ?? "").replace(/^\/functions\/v1\/api/, ""), { as });
  expect(followed.status, `GET ${location}: ${followed.text}`).toBe(200);
  return followed;
}
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
};

/** Routes answering 201 outside `routes` whose cases below follow their Location. */
const LOCATED_ELSEWHERE = [
  "POST /v1/products/{id}/images",
  "POST /v1/products/{id}/images/confirm",
  "POST /v1/api-keys",
];

/**
 * Keyed routes whose requests are not JSON rows to count (multipart uploads, a browser upload's
 * confirmation, webhook actions that re-queue what exists): each has its own cases further down.
 */

const ACTION_CASES = [
  "POST /v1/products/{id}/images",
  "POST /v1/products/{id}/images/{image_id}/replace",
  "POST /v1/products/{id}/images/confirm",
  "POST /v1/images/signature",
  "POST /v1/webhooks/endpoints/{id}/test",
  "POST /v1/webhooks/endpoints/{id}/replay",
  "POST /v1/webhooks/deliveries/{id}/retry",
];

describe(`every creating route in the OpenAPI document takes Idempotency-Key on ${engine}`, () => {
  it("each POST answering 201 or 202 declares the header, and each keyed POST has a case below (replay, 409 on another request)", async () => {
    const spec = (await api().request("GET", "/v1/openapi.json")).json as {
      paths: Record<string, Record<string, { parameters?: { in: string; name: string }[]; responses: object }>>;
    };
    const declares = (operation: { parameters?: { in: string; name: string }[] }) =>
      operation.parameters?.some((p) => p.in === "header" && p.name === "idempotency-key") ?? false;
    const creating = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(
          ([method, operation]) =>
            method === "post" && ("201" in operation.responses || "202" in operation.responses || declares(operation)),
        )
        .map(([, operation]) => ({ name: `POST ${path.replace(/^\/api/, "")}`, operation })),
    );
    expect(creating.length).toBeGreaterThan(10);
    const covered = new Set([...routes.map((route) => route.name.replace(/^POST /, "POST /v1")), ...ACTION_CASES]);
    const missing = creating
      .filter(({ name }) => !(name in EXEMPT))
      .flatMap(({ name, operation }) => [
        ...(declares(operation) ? [] : [`${name}: does not declare the Idempotency-Key header`]),
        ...(covered.has(name) ? [] : [`${name}: no case in tests/idempotency.routes.test.ts`]),
      ]);
    expect(missing).toEqual([]);
  });

  it("each POST answering 201 has a case that follows its Location", async () => {
    const spec = (await api().request("GET", "/v1/openapi.json")).json as {
      paths: Record<string, Record<string, { responses: object }>>;
    };
    const creating = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([method, operation]) => method === "post" && "201" in operation.responses)
        .map(() => `POST ${path.replace(/^\/api/, "")}`),
    );
    const located = new Set([
      ...routes
        .filter((route) => (route.status ?? 201) === 201)
        .map((route) => route.name.replace(/^POST /, "POST /v1")),
      ...LOCATED_ELSEWHERE,
    ]);
    expect(creating.length).toBeGreaterThan(10);
    expect(creating.filter((name) => !located.has(name))).toEqual([]);
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

  it.skipIf(status !== 201)("answers a Location with the called path, which GET follows", async () => {
    const response = await send(route, route.body("located"), undefined, route.as, GATEWAY);
    expect(response.status, response.text).toBe(201);
    await expectFollowable(response.headers.get("location"), route.as);
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

// The keyed routes of ACTION_CASES. Images go through the real cloudinary SDK and the local
// Cloudinary-compatible endpoint; an upload repeated with its key must not upload again.
describe(`Idempotency-Key on image uploads on ${engine}`, () => {
  let local: LocalProvider;
  let images: ReturnType<typeof createTestApp>;
  beforeAll(async () => {
    local = await startLocalProvider();
    images = createTestApp(ctx.db, local.env);
  });
  afterAll(() => local?.close());

  const uploadsAtProvider = () => local.requests.filter((request) => request.endsWith("/image/upload")).length;
  const imageCount = async (productId: string) =>
    Number(
      (
        await ctx.db.query<{ n: string }>("select count(*) as n from public.product_images where product_id = $1", [
          productId,
        ])
      ).rows[0]?.n,
    );
  const versionCount = async (imageId: string) =>
    Number(
      (
        await ctx.db.query<{ n: string }>(
          "select count(*) as n from public.product_image_versions where image_id = $1",
          [imageId],
        )
      ).rows[0]?.n,
    );

  async function product(): Promise<string> {
    const created = await images.request("POST", "/v1/products", { as: "staff", body: { title: "idem images" } });
    expect(created.status, created.text).toBe(201);
    return created.json.id;
  }

  async function postFile(path: string, bytes: Uint8Array, key?: string, fields: Record<string, string> = {}) {
    const form = new FormData();
    form.append("file", new Blob([new Uint8Array(bytes)], { type: "image/png" }), "photo.png");
    for (const [name, value] of Object.entries(fields)) form.append(name, value);
    const headers: Record<string, string> = {
      ...GATEWAY,
      authorization: `Bearer ${await mintStaffToken(TEST_SECRET, "staff")}`,
    };
    if (key) headers["idempotency-key"] = key;
    const response = await images.app.request(`/api${path}`, { method: "POST", body: form, headers });
    const text = await response.text();
    return { status: response.status, headers: response.headers, text, json: text ? JSON.parse(text) : undefined };
  }

  it("POST /v1/products/{id}/images: a repeat answers the first image and uploads nothing; another file is a 409", async () => {
    const productId = await product();
    const bytes = await makeImage("png", 40, 30);
    const uploads = uploadsAtProvider();
    const first = await postFile(`/v1/products/${productId}/images`, bytes, "image-same");
    expect(first.status, first.text).toBe(201);
    expect((await expectFollowable(first.headers.get("location"), "staff")).json.id).toBe(first.json.id);
    const again = await postFile(`/v1/products/${productId}/images`, bytes, "image-same");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    expect(uploadsAtProvider()).toBe(uploads + 1);
    expect(await imageCount(productId)).toBe(1);

    const other = await postFile(`/v1/products/${productId}/images`, await makeImage("png", 41, 30), "image-same");
    expect(other.status).toBe(409);
    expect(other.json.errors[0].field).toBe("header.idempotency-key");
    expect(await imageCount(productId)).toBe(1);

    const unkeyed = [
      await postFile(`/v1/products/${productId}/images`, bytes),
      await postFile(`/v1/products/${productId}/images`, bytes),
    ];
    expect(unkeyed.map((response) => response.status)).toEqual([201, 201]);
    expect(await imageCount(productId)).toBe(3);
  });

  it("POST /v1/products/{id}/images/{image_id}/replace: a repeat adds no second version; another file is a 409", async () => {
    const productId = await product();
    const image = (await postFile(`/v1/products/${productId}/images`, await makeImage("png", 20, 20))).json;
    const path = `/v1/products/${productId}/images/${image.id}/replace`;
    const bytes = await makeImage("png", 60, 20);
    const first = await postFile(path, bytes, "replace-same");
    expect(first.status, first.text).toBe(200);
    const uploads = uploadsAtProvider();
    const again = await postFile(path, bytes, "replace-same");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    expect(uploadsAtProvider()).toBe(uploads);
    expect(await versionCount(image.id)).toBe(2);
    const other = await postFile(path, await makeImage("png", 61, 20), "replace-same");
    expect(other.status).toBe(409);
    expect(await versionCount(image.id)).toBe(2);
  });

  it("POST /v1/images/signature: a repeat answers the same signed upload and reserves nothing more", async () => {
    const productId = await product();
    const reservations = async () =>
      Number(
        (
          await ctx.db.query<{ n: string }>("select count(*) as n from private.image_uploads where product_id = $1", [
            productId,
          ])
        ).rows[0]?.n,
      );
    const sign = (body: unknown, key?: string) =>
      images.request("POST", "/v1/images/signature", {
        as: "staff",
        body,
        headers: key ? { "idempotency-key": key } : {},
      });
    const first = await sign({ product_id: productId }, "sign-same");
    expect(first.status, first.text).toBe(200);
    const again = await sign({ product_id: productId }, "sign-same");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    expect(await reservations()).toBe(1);
    const other = await sign({ product_id: await product() }, "sign-same");
    expect(other.status).toBe(409);
    expect(other.json.errors[0].field).toBe("header.idempotency-key");
    await sign({ product_id: productId });
    expect(await reservations()).toBe(2);
  });

  it("POST /v1/products/{id}/images/confirm: a repeat answers the first image; another body is a 409", async () => {
    const productId = await product();
    const signed = (
      await images.request("POST", "/v1/images/signature", { as: "staff", body: { product_id: productId } })
    ).json;
    const form = new FormData();
    for (const [name, value] of Object.entries<string>(signed.fields)) form.append(name, value);
    form.append("file", new Blob([new Uint8Array(await makeImage("png", 30, 30))]), "photo");
    const upload = await (await fetch(signed.upload_url, { method: "POST", body: form })).json();
    const confirm = (body: unknown, key: string) =>
      images.request("POST", `/v1/products/${productId}/images/confirm`, {
        as: "staff",
        body,
        headers: { ...GATEWAY, "idempotency-key": key },
      });
    const first = await confirm({ upload, alt_text: "first" }, "confirm-same");
    expect(first.status, first.text).toBe(201);
    expect((await expectFollowable(first.headers.get("location"), "staff")).json.id).toBe(first.json.id);
    const again = await confirm({ upload, alt_text: "first" }, "confirm-same");
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    const other = await confirm({ upload, alt_text: "second" }, "confirm-same");
    expect(other.status).toBe(409);
    expect(await imageCount(productId)).toBe(1);
    expect((await local.files()).some((file) => file.startsWith(signed.public_id))).toBe(true);
  });

  it.skipIf(!onPostgres)("ten concurrent uploads with one key record one image and keep one asset", async () => {
    const productId = await product();
    const bytes = await makeImage("png", 50, 50);
    const before = (await local.files()).length;
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => postFile(`/v1/products/${productId}/images`, bytes, "image-race")),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(10).fill(201));
    expect(new Set(responses.map((response) => response.json.id)).size).toBe(1);
    expect(await imageCount(productId)).toBe(1);
    // Uploads that lost the race were deleted at the provider (an asset is a bytes and a metadata file).
    expect((await local.files()).length - before).toBe(2);
  });
});

describe(`Location of the routes answering 201 outside \`routes\` on ${engine}`, () => {
  it("POST /v1/api-keys answers a Location with the called path, which GET follows", async () => {
    const created = await api().request("POST", "/v1/api-keys", {
      as: "admin",
      body: { name: "located", scopes: ["inventory:read"], role_cap: "viewer" },
      headers: GATEWAY,
    });
    expect(created.status, created.text).toBe(201);
    expect((await expectFollowable(created.headers.get("location"), "admin")).json.id).toBe(created.json.id);
  });
});

describe(`Idempotency-Key on webhook actions on ${engine}`, () => {
  const request: ReturnType<typeof api>["request"] = (...args) => api().request(...args);
  const admin = (path: string, key?: string) =>
    api().request("POST", path, { as: "admin", headers: key ? { "idempotency-key": key } : {} });
  const endpoint = async (topics: string[]) =>
    (
      await request("POST", "/v1/webhooks/endpoints", {
        as: "admin",
        body: { url: "http://127.0.0.1:9/idem-actions", topics },
      })
    ).json.id as string;
  const deliveries = async (endpointId: string, status?: string) =>
    Number(
      (
        await ctx.db.query<{ n: string }>(
          "select count(*) as n from private.webhook_deliveries where endpoint_id = $1 and ($2::text is null or status = $2)",
          [endpointId, status ?? null],
        )
      ).rows[0]?.n,
    );
  const settle = (endpointId: string) =>
    ctx.db.query("update private.webhook_deliveries set status = 'delivered', attempts = 1 where endpoint_id = $1", [
      endpointId,
    ]);

  it("POST /v1/webhooks/endpoints/{id}/test: a repeat queues no second test event; another endpoint is a 409", async () => {
    const id = await endpoint(["idem.*"]);
    const first = await admin(`/v1/webhooks/endpoints/${id}/test`, "test-same");
    expect(first.status, first.text).toBe(202);
    const again = await admin(`/v1/webhooks/endpoints/${id}/test`, "test-same");
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    expect(await deliveries(id)).toBe(1);
    const elsewhere = await endpoint(["idem.*"]);
    const other = await admin(`/v1/webhooks/endpoints/${elsewhere}/test`, "test-same");
    expect(other.status).toBe(409);
    expect(other.json.errors[0].field).toBe("header.idempotency-key");
    expect(await deliveries(elsewhere)).toBe(0);
    await admin(`/v1/webhooks/endpoints/${id}/test`);
    expect(await deliveries(id)).toBe(2);
  });

  it("POST /v1/webhooks/endpoints/{id}/replay: a repeat re-queues nothing; another window is a 409", async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    const created = await request("POST", "/v1/products", { as: "staff", body: { title: "idem replay" } });
    expect(created.status).toBe(201);
    const id = await endpoint(["product.*"]);
    const path = `/v1/webhooks/endpoints/${id}/replay?since=${encodeURIComponent(since)}`;
    const first = await admin(path, "replay-same");
    expect(first.status, first.text).toBe(202);
    expect(first.json.queued).toBeGreaterThan(0);
    await settle(id);
    const again = await admin(path, "replay-same");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    expect(await deliveries(id, "pending")).toBe(0);
    const other = await admin(`${path}&until=${encodeURIComponent(new Date().toISOString())}`, "replay-same");
    expect(other.status).toBe(409);
    expect(await deliveries(id, "pending")).toBe(0);
    // Without a key the same request re-queues them all again.
    expect((await admin(path)).json.queued).toBe(first.json.queued);
    expect(await deliveries(id, "pending")).toBe(first.json.queued);
  });

  it("POST /v1/webhooks/deliveries/{id}/retry: a repeat resets nothing again; another delivery is a 409", async () => {
    const id = await endpoint(["idem.*"]);
    const one = (await admin(`/v1/webhooks/endpoints/${id}/test`)).json.delivery_id;
    const two = (await admin(`/v1/webhooks/endpoints/${id}/test`)).json.delivery_id;
    await ctx.db.query("update private.webhook_deliveries set status = 'failed', attempts = 7 where endpoint_id = $1", [
      id,
    ]);
    const first = await admin(`/v1/webhooks/deliveries/${one}/retry`, "retry-same");
    expect(first.status, first.text).toBe(202);
    expect(first.json).toMatchObject({ status: "pending", attempts: 0 });
    await settle(id);
    const again = await admin(`/v1/webhooks/deliveries/${one}/retry`, "retry-same");
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    expect(await deliveries(id, "pending")).toBe(0);
    const other = await admin(`/v1/webhooks/deliveries/${two}/retry`, "retry-same");
    expect(other.status).toBe(409);
    expect(await deliveries(id, "pending")).toBe(0);
  });
});
