import { beforeAll, describe, expect, it } from "vitest";
import { catalogReads, catalogWarmTargets } from "../packages/server/src/domains/catalog/cache.ts";
import { findJob, runJob } from "../packages/server/src/jobs/registry.ts";
import type { CachedRead } from "../packages/server/src/platform/cache/read-cache.ts";
import { warmCache } from "../packages/server/src/platform/cache/warm.ts";
import { createTestApp } from "./helpers/app.ts";
import { CACHE_TEST_ENV, createSubject } from "./helpers/cache.ts";
import { productInput } from "./helpers/catalog.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { parseSamples } from "./helpers/prometheus.ts";

const ctx = useTestDatabase();
const newApp = () => createTestApp(ctx.db, CACHE_TEST_ENV);
let app: ReturnType<typeof newApp>;
beforeAll(() => {
  app = newApp();
});

describe(`HTTP caching on ${engine}`, () => {
  it("a matching If-None-Match is 304 until the resource changes, then 200 with a new ETag", async () => {
    const s = await createSubject(app);
    for (const path of [`/v1/products/${s.product.id}`, `/v1/products?q=${s.word}`, "/v1/brands?limit=500"]) {
      const first = await app.request("GET", path);
      const tag = first.headers.get("etag") ?? "";
      expect(tag).toMatch(/^"[0-9A-Za-z_.-]+"$/);
      const again = await app.request("GET", path, { headers: { "if-none-match": tag } });
      expect({ path, status: again.status, body: again.text }).toEqual({ path, status: 304, body: "" });
      expect(again.headers.get("etag")).toBe(tag);
      expect(again.headers.get("cache-control")).toBe("public, no-cache");
      // A list of validators, or a weak form of the same one, matches too.
      const listed = await app.request("GET", path, { headers: { "if-none-match": `"nope", W/${tag}` } });
      expect(listed.status).toBe(304);
    }

    const product = `/v1/products/${s.product.id}`;
    const tag = (await app.request("GET", product)).headers.get("etag") ?? "";
    await app.request("PATCH", `/v1/variants/${s.product.variants[0]?.id}`, {
      as: "staff",
      body: { price_amount: 777 },
    });
    const changed = await app.request("GET", product, { headers: { "if-none-match": tag } });
    expect(changed.status).toBe(200);
    expect(changed.json.variants[0].price_amount).toBe(777);
    expect(changed.headers.get("etag")).not.toBe(tag);

    // A product's ETag starts with its version, so it still serves as If-Match for a write.
    const current = changed.headers.get("etag") ?? "";
    expect(current).toMatch(new RegExp(`^"${changed.json.version}-`));
    const patched = await app.request("PATCH", product, {
      as: "staff",
      headers: { "if-match": current },
      body: { description: "if-match from a GET" },
    });
    expect(patched.status).toBe(200);
    const stale = await app.request("PATCH", product, { as: "staff", headers: { "if-match": current }, body: {} });
    expect(stale.status).toBe(409);
  });

  it("public answers may be kept by shared caches, a caller's only privately, and both vary on who asks", async () => {
    const s = await createSubject(app);
    const anon = await app.request("GET", `/v1/products/${s.product.id}`);
    expect(anon.headers.get("cache-control")).toBe("public, no-cache");
    const staff = await app.request("GET", `/v1/products/${s.product.id}`, { as: "staff" });
    expect(staff.headers.get("cache-control")).toBe("private, no-cache");
    for (const response of [anon, staff]) {
      const vary = (response.headers.get("vary") ?? "").split(",").map((name) => name.trim().toLowerCase());
      expect(vary).toEqual(expect.arrayContaining(["authorization", "x-api-key"]));
    }
    // Stock is never cached by us, and no HTTP cache may answer it without asking again.
    const levels = await app.request("GET", "/v1/inventory/history", { as: "staff" });
    expect(levels.status).toBe(200);
    expect(levels.headers.get("x-cache")).toBeNull();
    expect(levels.headers.get("cache-control")).toBe("private, no-cache");
    const tag = levels.headers.get("etag") ?? "";
    expect(tag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    const unchanged = await app.request("GET", "/v1/inventory/history", {
      as: "staff",
      headers: { "if-none-match": tag },
    });
    expect(unchanged.status).toBe(304);
  });
});

describe(`cached views by caller on ${engine}`, () => {
  it("anonymous callers and each staff role have their own entries: a draft never reaches the storefront", async () => {
    const s = await createSubject(app);
    const draft = await app.request("POST", "/v1/products", {
      as: "staff",
      body: productInput({ title: `Draft ${s.word}` }),
    });
    expect(draft.status).toBe(201);
    const search = `/v1/products?q=${s.word}`;
    const titles = (response: { json: { data: { title: string }[] } }) =>
      response.json.data.map((product) => product.title).sort();

    const staffFirst = await app.request("GET", search, { as: "staff" });
    expect(titles(staffFirst)).toEqual([`Draft ${s.word}`, `Subject ${s.word}`]);
    await app.services.cache.settled();
    const anonAfterStaff = await app.request("GET", search);
    expect(anonAfterStaff.headers.get("x-cache")).toBe("miss");
    expect(titles(anonAfterStaff)).toEqual([`Subject ${s.word}`]);
    await app.services.cache.settled();
    const anonAgain = await app.request("GET", search);
    expect(anonAgain.headers.get("x-cache")).toBe("hit");
    expect(titles(anonAgain)).toEqual([`Subject ${s.word}`]);
    const staffAgain = await app.request("GET", search, { as: "staff" });
    expect(staffAgain.headers.get("x-cache")).toBe("hit");
    expect(titles(staffAgain)).toEqual([`Draft ${s.word}`, `Subject ${s.word}`]);
    // Another role is another view (and a signed-in customer sees what anonymous callers see).
    expect((await app.request("GET", search, { as: "viewer" })).headers.get("x-cache")).toBe("miss");
    const draftById = await app.request("GET", `/v1/products/${draft.json.id}`, { as: "staff" });
    expect(draftById.status).toBe(200);
    await app.services.cache.settled();
    expect((await app.request("GET", `/v1/products/${draft.json.id}`)).status).toBe(404);
  });
});

describe(`cache analytics on ${engine}`, () => {
  it("counts hits, misses, stale entries and bytes exactly, per family, and exports them to Prometheus", async () => {
    const own = newApp();
    const s = await createSubject(own);
    const zero = await own.request("GET", "/v1/cache/stats", { as: "manager" });
    expect(zero.status).toBe(200);
    expect(zero.json.families.product).toMatchObject({ hits: 0, misses: 0, hit_ratio: null });

    const product = `/v1/products/${s.product.id}`;
    const bodies: string[] = [];
    for (let i = 0; i < 4; i++) {
      bodies.push((await own.request("GET", product)).text);
      await own.services.cache.settled();
    }
    for (let i = 0; i < 3; i++) {
      await own.request("GET", "/v1/brands?limit=500", { as: "staff" });
      await own.services.cache.settled();
    }
    await own.request("PATCH", product, { as: "staff", body: { description: "counted" } });
    await own.request("GET", product);

    const stats = await own.request("GET", "/v1/cache/stats", { as: "manager" });
    expect(stats.json.backend).toBe("memory");
    expect(stats.json.families.product).toMatchObject({
      hits: 3,
      misses: 2,
      stale: 1,
      hit_ratio: 3 / 5,
      bytes_served: 3 * new TextEncoder().encode(bodies[0]).byteLength,
    });
    expect(stats.json.families.product.read_ms.hit.p50).toBeGreaterThan(0);
    expect(stats.json.families.product.read_ms.miss.p99).toBeGreaterThanOrEqual(
      stats.json.families.product.read_ms.miss.p50,
    );
    expect(stats.json.families.brand).toMatchObject({ hits: 2, misses: 1 });
    expect(stats.json.families["product-list"]).toMatchObject({ hits: 0, misses: 0 });
    expect(stats.json.popular[0]).toEqual({ key: expect.stringContaining(s.product.id), requests: 5 });

    const samples = parseSamples((await own.services.metrics.scrape()).body);
    const value = (name: string, family: string) =>
      samples.find((sample) => sample.name === name && sample.labels.family === family)?.value;
    expect(value("storekeep_cache_hits_total", "product")).toBe(3);
    expect(value("storekeep_cache_misses_total", "product")).toBe(2);
    expect(value("storekeep_cache_hits_total", "brand")).toBe(2);

    expect((await own.request("GET", "/v1/cache/stats", { as: "staff" })).status).toBe(403);
    expect((await own.request("GET", "/v1/cache/stats")).status).toBe(401);
  });
});

describe(`cache warming on ${engine}`, () => {
  it("after a full invalidation, the job reloads the most requested keys and every category's first page", async () => {
    const own = newApp();
    const s = await createSubject(own);
    for (let i = 0; i < 3; i++) await own.request("GET", `/v1/products/${s.product.id}`);
    await own.request("GET", `/v1/products?q=${s.word}`, { as: "staff" });
    await own.services.cache.settled();

    // Everything retired at once (what a full invalidation does).
    await ctx.db.query("update private.cache_generations set generation = generation + 1");
    const job = findJob("cache.warm");
    if (!job) throw new Error("no cache.warm job");
    const result = await runJob(job, own.services);
    const { rows } = await ctx.db.query<{ count: number }>("select count(*)::int as count from public.categories");
    expect(result).toMatchObject({ failed: 0, left: 0 });
    expect(result.warmed).toBeGreaterThanOrEqual(2 + (rows[0]?.count ?? 0));

    // The warmed keys answer from the cache at once, and warming counted no request.
    const detail = await own.request("GET", `/v1/products/${s.product.id}`);
    expect(detail.headers.get("x-cache")).toBe("hit");
    expect((await own.request("GET", `/v1/products?q=${s.word}`, { as: "staff" })).headers.get("x-cache")).toBe("hit");
    const page = await own.request("GET", `/v1/products?category=${s.category.handle}`);
    expect(page.headers.get("x-cache")).toBe("hit");
    expect(page.json.data.map((product: { id: string }) => product.id)).toContain(s.product.id);
    expect((await own.request("GET", "/v1/categories/tree")).headers.get("x-cache")).toBe("hit");
    const stats = await own.request("GET", "/v1/cache/stats", { as: "manager" });
    expect(stats.json.families.product.warmed).toBeGreaterThanOrEqual(1);

    // Bounded: a run does at most `limit` keys and says how many it left for the next one.
    await ctx.db.query("update private.cache_generations set generation = generation + 1");
    const bounded = await warmCache(own.services.cache, {
      reads: Object.values(catalogReads) as CachedRead<never>[],
      targets: await catalogWarmTargets(ctx.db),
      limit: 1,
      budgetMs: 10_000,
    });
    expect(bounded).toMatchObject({ considered: 1, warmed: 1 });
    expect(bounded.left).toBeGreaterThan(0);
  });
});
