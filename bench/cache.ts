import { randomBytes } from "node:crypto";
import { type Context, Hono } from "hono";
import { migrate } from "../packages/local/src/migrate.ts";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import { startUpstashBridge } from "../packages/local/src/upstash-bridge/bridge.ts";
import { createApp } from "../packages/server/src/app.ts";
import { catalogReads } from "../packages/server/src/domains/catalog/cache.ts";
import { ProductListQuerySchema } from "../packages/server/src/domains/catalog/schemas.ts";
import type { Services } from "../packages/server/src/http/env.ts";
import { createServices } from "../packages/server/src/main.ts";
import { LOCAL_JWT_SECRET, loadConfig } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import { compareRows, interleave, measure, printTable, type Row, type Sample, scratchDatabase } from "./lib.ts";

// The read cache, measured in one run on one machine: list and detail reads served warm from
// Redis (through the Upstash bridge, as production reaches Upstash over HTTP) beside the same reads
// with the cache off and beside a static response of the same bytes; then a Zipf-distributed mix
// of reads with 1 % writes, counting where each read came from.

export const timeLimitSeconds = 300;
export const description =
  "catalog reads warm from Redis vs uncached vs a static response; hit ratio of a Zipf read mix with 1 % writes";

const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const BUDGET = { ms: 2_000, warmupMs: 300, rounds: 2 };
const PRODUCTS = 200;
const CATEGORIES = 10;

/**
 * `npm run bench -- cache [zipf] [memory] [no-local]`: only the Zipf mix; the in-process store
 * instead of Redis; no copy of entries in process (every read asks Redis, as before that tier).
 */
export default async function cache(args: string[] = []): Promise<void> {
  const onlyZipf = args.includes("zipf");
  const inProcess = args.includes("memory");
  const noLocal = args.includes("no-local");
  const scratch = await scratchDatabase("cache");
  const db = createPostgresDb(scratch.url, { max: 10, applicationName: "storekeep-bench" });
  const bridge = await startUpstashBridge({ redisUrl: REDIS_URL, token: randomBytes(16).toString("hex") });
  const prefix = `bench:cache:${randomBytes(4).toString("hex")}`;
  try {
    await migrate(db);
    const env = {
      ...LOCAL_DEFAULTS,
      LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "silent",
      ...(inProcess ? {} : { UPSTASH_REDIS_REST_URL: bridge.url, UPSTASH_REDIS_REST_TOKEN: bridge.token }),
      REDIS_KEY_PREFIX: prefix,
      REDIS_TIMEOUT_MS: "5000",
      RATE_LIMITS_ENABLED: "false",
      ...(noLocal ? { CACHE_LOCAL_MAX_BYTES: "0" } : {}),
    };
    const services = createServices(loadConfig(env), { db });
    const app = createApp(services);
    // Routes are fixed at the first request: the static routes answer what is put here later.
    const statics: Record<string, { body: string; headers: Record<string, string> }> = {};
    const bareApp = new Hono();
    const answerStatic = (c: Context) => {
      const found = statics[c.req.param("name") ?? ""];
      return found ? c.body(found.body, 200, found.headers) : c.notFound();
    };
    app.get("/v1/bench-static/:name", answerStatic); // the app is based at /api
    bareApp.get("/api/v1/bench-static/:name", answerStatic);
    // The same app with the cache off: every read loads from Postgres (no generation check either).
    const uncachedServices: Services = {
      ...services,
      cache: {
        ...services.cache,
        get: async (read, claims, params) => ({
          body: JSON.stringify(await read.load(db, claims, params)),
          etag: '"off"',
          source: "bypass",
        }),
      },
    };
    const uncached = createApp(uncachedServices);
    const manager = await mintStaffToken(LOCAL_JWT_SECRET, "manager");

    // A catalog: categories, and products spread over them, each published with two variants.
    const categories: { id: string; handle: string }[] = [];
    for (let i = 0; i < CATEGORIES; i++) {
      categories.push(await call(app, manager, "POST", "/api/v1/categories", { name: `Bench category ${i}` }));
    }
    const products: { id: string; variants: { id: string }[] }[] = [];
    for (let i = 0; i < PRODUCTS; i++) {
      products.push(
        await call(app, manager, "POST", "/api/v1/products", {
          title: `Bench product ${i}`,
          description: "A product for the cache benchmark, with a description of ordinary length.",
          category_id: categories[i % CATEGORIES]?.id,
          status: "published",
          variants: [
            { sku: `BENCH-${i}-S`, price_amount: 1000 + i, currency: "EUR", options: { size: "S" } },
            { sku: `BENCH-${i}-M`, price_amount: 1100 + i, currency: "EUR", options: { size: "M" } },
          ],
        }),
      );
    }
    console.log(
      `scratch database: ${PRODUCTS} products in ${CATEGORIES} categories; cache: ${services.shared.backend} via the bridge${noLocal ? ", no copy in process" : ", with a copy in process"}`,
    );

    // Every X-Cache answer of the cached app over the whole run, to hold /v1/cache/stats against.
    const answered: Record<string, number> = {};
    const tally = (response: Response) => {
      const source = response.headers.get("x-cache");
      if (source) answered[source] = (answered[source] ?? 0) + 1;
      return source ?? "none";
    };
    const detailPath = `/api/v1/products/${products[0]?.id}`;
    const listPath = `/api/v1/products?category=${categories[0]?.handle}&limit=20`;
    // The static response: the same bytes and headers from a route of the same app (the same
    // middleware: request id, log, metrics, HTTP caching), so the ratio is what caching costs over
    // the least any answer of this API costs; and from a bare Hono app, for scale.
    for (const [name, path] of [
      ["detail", detailPath],
      ["list", listPath],
    ] as const) {
      const response = await app.request(path);
      tally(response);
      statics[name] = {
        body: await response.text(),
        headers: {
          "content-type": "application/json",
          etag: response.headers.get("etag") ?? "",
          "cache-control": response.headers.get("cache-control") ?? "",
        },
      };
    }
    await services.cache.settled();

    // Where the "cached" reads came from: a read that is not a hit (the store stalled on this busy
    // machine) is counted and reported, not hidden.
    const seen: Record<string, number> = {};
    const get =
      (target: { request: (path: string) => Response | Promise<Response> }, path: string, counted = false) =>
      async () => {
        const response = await target.request(path);
        if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status}`);
        const source = target === app ? tally(response) : "none";
        if (counted) seen[source] = (seen[source] ?? 0) + 1;
        await response.text();
      };
    // The floor of a cached read: the generation check alone, the same Db.query the read makes.
    const listQuery = ProductListQuerySchema.parse({ category: categories[0]?.handle, limit: 20 });
    const floors: Record<string, () => Promise<unknown>> = {
      detail: () => services.cache.generation(catalogReads.product, { id: products[0]?.id ?? "" }),
      list: () => services.cache.generation(catalogReads.products, listQuery),
    };

    const rows: Row[] = [];
    for (const [name, path] of (onlyZipf
      ? []
      : [
          ["detail", detailPath],
          ["list", listPath],
        ]) as [string, string][]) {
      const cached = get(app, path, true);
      const staticPath = `/api/v1/bench-static/${name}`;
      const versusStatic = await interleave(cached, get(app, staticPath), BUDGET);
      rows.push(
        ...compareRows(`${name} cached`, "static, same app", versusStatic),
        cpuRow(name, "static, same app", versusStatic),
      );
      const versusUncached = await interleave(cached, get(uncached, path), BUDGET);
      rows.push(...compareRows(`${name} cached`, "uncached", versusUncached), cpuRow(name, "uncached", versusUncached));
      const versusFloor = await interleave(cached, async () => void (await floors[name]?.()), BUDGET);
      rows.push(...compareRows(`${name} cached`, "generation check alone (Db.query)", versusFloor));
      const appVersusBare = await interleave(get(app, staticPath), get(bareApp, staticPath), BUDGET);
      rows.push(...compareRows(`${name} static, same app`, "static, bare Hono", appVersusBare).slice(-2));
    }
    if (!onlyZipf)
      printTable("warm cache vs static and vs uncached (ratio > 1 on ms and µs: the cached read costs more)", rows);
    console.log(`  where the cached reads came from: ${JSON.stringify(seen)}`);

    // The Zipf mix: 1 % writes (a variant's price, through the API), reads over details and category
    // pages with popularity ~ 1/rank.
    const keys = [
      ...products.map((product) => `/api/v1/products/${product.id}`),
      ...categories.map((category) => `/api/v1/products?category=${category.handle}&limit=20`),
    ];
    const shuffled = keys.sort(() => Math.random() - 0.5);
    const weights = shuffled.map((_, rank) => 1 / (rank + 1));
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    const pick = () => {
      let r = Math.random() * total;
      for (let i = 0; i < shuffled.length; i++) {
        r -= weights[i] as number;
        if (r <= 0) return shuffled[i] as string;
      }
      return shuffled[0] as string;
    };
    // Start warm (what the cache.warm job does after a deploy): every key read once.
    for (const key of shuffled) await tally(await app.request(key)).length;
    await services.cache.settled();
    const OPS = 2_000;
    const sources: Record<string, number> = {};
    let writes = 0;
    const started = performance.now();
    for (let i = 0; i < OPS; i++) {
      if (Math.random() < 0.01) {
        const product = products[Math.floor(Math.random() * products.length)];
        await call(app, manager, "PATCH", `/api/v1/variants/${product?.variants[0]?.id}`, { price_amount: 900 + i });
        writes++;
        continue;
      }
      const response = await app.request(pick());
      await response.text();
      const source = tally(response);
      sources[source] = (sources[source] ?? 0) + 1;
    }
    await services.cache.settled();
    const seconds = (performance.now() - started) / 1000;
    const reads = OPS - writes;
    const hits = sources.hit ?? 0;
    console.log(
      `\nZipf mix over ${keys.length} keys (s = 1), ${OPS} operations in ${seconds.toFixed(1)} s: ${reads} reads, ${writes} writes`,
    );
    console.log(`  where reads came from: ${JSON.stringify(sources)}`);
    console.log(`  hit ratio: ${((100 * hits) / reads).toFixed(1)} % (aim: at least 90 %)`);
    // Inside the store's cooldown after a failure the stats cannot be read: wait it out.
    const stats = await services.cache.stats().catch(async () => {
      await new Promise((resolve) => setTimeout(resolve, 5_500));
      return services.cache.stats();
    });
    const counted = { hit: 0, miss: 0, bypass: 0 };
    for (const [family, figures] of Object.entries(stats)) {
      counted.hit += figures.hits;
      counted.miss += figures.misses;
      counted.bypass += figures.bypass;
      if (figures.hits + figures.misses === 0) continue;
      console.log(
        `  ${family}: hits ${figures.hits} (in process ${figures.hits_in_process}), misses ${figures.misses} (stale ${figures.stale}), hit p50 ${figures.read_ms.hit.p50} ms, miss p50 ${figures.read_ms.miss.p50} ms`,
      );
    }
    // Every cached read of this run, as X-Cache said, beside what /v1/cache/stats counted.
    console.log(
      `  whole run, X-Cache answers: ${JSON.stringify(answered)}; /v1/cache/stats: ${JSON.stringify(counted)}`,
    );
    const failures = (await services.metrics.scrape()).body
      .split("\n")
      .filter(
        (line) => line.startsWith("storekeep_redis_failures_total{") || line.startsWith("storekeep_cache_stats_"),
      );
    console.log(`  store failures: ${failures.length ? failures.join("; ") : "none"}`);

    // The generation check alone (what every cached read adds to Postgres), beside `select 1`.
    const check = await interleave(
      async () => {
        await db.query("select * from private.cache_generation($1::text[], $2::uuid, null)", [
          ["product.created"],
          products[0]?.id,
        ]);
      },
      async () => {
        await db.query("select 1");
      },
      BUDGET,
    );
    printTable("the generation check", compareRows("cache_generation()", "select 1", check));

    // The write side: every catalog commit bumps its topic's counter row, so concurrent product
    // updates serialise on it at commit. The same updates with the bumping trigger disabled.
    const bump = "alter table private.events %s trigger events_after_insert_bump_cache_generations";
    let next = 0;
    const update = async () => {
      const product = products[next++ % products.length];
      await db.query("update public.products set description = $2 where id = $1", [product?.id, `d${next}`]);
    };
    const updates: { subject: Sample[]; baseline: Sample[] } = { subject: [], baseline: [] };
    for (let round = 0; round < 2; round++) {
      for (const on of round === 0 ? [true, false] : [false, true]) {
        await db.query(bump.replace("%s", on ? "enable" : "disable"));
        updates[on ? "subject" : "baseline"].push(await measure(update, { ...BUDGET, concurrency: 8 }));
      }
    }
    await db.query(bump.replace("%s", "enable"));
    printTable(
      "concurrent product updates (8 clients, distinct products)",
      compareRows("with the generation bump", "without it", updates),
    );
  } finally {
    await db.close();
    await bridge.close();
    await scratch.drop();
  }
}

/** CPU time of this process (app, bridge, drivers; not Postgres or Redis) per read, mean over rounds. */
function cpuRow(name: string, baseline: string, result: { subject: Sample[]; baseline: Sample[] }): Row {
  const perRead = (samples: Sample[]) =>
    (1e6 * samples.reduce((sum, sample) => sum + (sample.cpuSeconds ?? 0), 0)) /
    samples.reduce((sum, sample) => sum + sample.ops, 0);
  return {
    figure: `${name} cached CPU per read (this process)`,
    value: perRead(result.subject),
    baseline: `${baseline} CPU per read`,
    baselineValue: perRead(result.baseline),
    unit: "µs/q",
  };
}

async function call(
  app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> },
  token: string,
  method: string,
  path: string,
  body: unknown,
) {
  const response = await app.request(path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return JSON.parse(text);
}
