import pg from "pg";
import postgres from "postgres";
import { migrate } from "../packages/local/src/migrate.ts";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import { createApp } from "../packages/server/src/app.ts";
import { encodeCursor } from "../packages/server/src/http/pagination.ts";
import { createServices } from "../packages/server/src/main.ts";
import { LOCAL_JWT_SECRET, loadConfig } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import type { Db } from "../packages/server/src/platform/db/types.ts";
import { type Budget, compareRows, interleave, printTable, type Row, type Sample, scratchDatabase } from "./lib.ts";

export const description =
  "100k products through POST /products/import vs. a plain COPY of the same rows; a filtered, searched list vs. a bare query";

// 100k rows through the import path take a minute or two on a busy 2-core machine.
export const timeLimitSeconds = 300;

const ADJECTIVES = ["Blue", "Organic", "Heavy", "Light", "Classic", "Vintage", "Slim", "Warm", "Waterproof", "Linen"];
const NOUNS = ["T-shirt", "Hoodie", "Jacket", "Mug", "Kettle", "Backpack", "Sneaker", "Scarf", "Beanie", "Bottle"];
const BRANDS = 20;
const ROOTS = 5;
const CHILDREN = 4;
const TRIGGERED_COPY_ROWS = 10_000;
const LIST_BUDGET = { ms: 2_000, warmupMs: 300, rounds: 2 };

interface Item {
  title: string;
  description: string;
  brand: string;
  category: string;
  variants: { sku: string; price_amount: number; currency: string; options: Record<string, string> }[];
}

export function makeItems(count: number): Item[] {
  return Array.from({ length: count }, (_, i) => {
    const adjective = ADJECTIVES[i % ADJECTIVES.length] as string;
    const noun = NOUNS[Math.floor(i / ADJECTIVES.length) % NOUNS.length] as string;
    return {
      title: `${adjective} ${noun} ${i}`,
      description: `A ${adjective.toLowerCase()} ${noun.toLowerCase()} for every day, model ${i}.`,
      brand: `brand-${i % BRANDS}`,
      category: `cat-${i % ROOTS}-${Math.floor(i / ROOTS) % CHILDREN}`,
      variants: [
        { sku: `BENCH-${i}`, price_amount: 500 + ((i * 37) % 20_000), currency: "EUR", options: { size: "M" } },
      ],
    };
  });
}

const csv = (value: string | null) => (value === null ? "" : `"${value.replace(/"/g, '""')}"`);
const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

export interface CatalogRun {
  count: number;
  importSeconds: number;
  stagedSeconds: number;
  copySeconds: number;
  /**
   * Context for the import row (rolled back, so the catalog stays as imported): COPY of the same
   * products and variants (other handles and SKUs) into the real tables, on top of the imported
   * catalog, with every index and constraint; user triggers off, and on (audit, outbox, search
   * document, stock levels, realtime, cache generations).
   */
  copyRealSecondsPerRow: number;
  copyRealTriggersSecondsPerRow: number;
  /** The list request of the search comparison and its root category. */
  listPath: string;
  root: string;
}

type App = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };

/**
 * (a) `count` products through POST /products/import and the job's chunks with `workers` workers,
 * then (b) the same rows by COPY into trigger-free, index-free tables of the same shape.
 */
export async function importAndCopy(
  url: string,
  db: Db,
  pool: pg.Pool,
  app: App,
  count: number,
  workers: number,
): Promise<CatalogRun> {
  await db.exec(`
    insert into public.brands (name, handle) select 'Brand ' || n, 'brand-' || n from generate_series(0, ${BRANDS - 1}) n;
    insert into public.categories (name, handle) select 'Department ' || r, 'cat-' || r from generate_series(0, ${ROOTS - 1}) r;
    insert into public.categories (name, handle, parent_id)
      select 'Aisle ' || r || '.' || c, 'cat-' || r || '-' || c, (select id from public.categories where handle = 'cat-' || r)
      from generate_series(0, ${ROOTS - 1}) r, generate_series(0, ${CHILDREN - 1}) c;
    create schema bench_copy;
    create table bench_copy.products (like public.products including defaults);
    create table bench_copy.product_variants (like public.product_variants including defaults);
  `);
  const items = makeItems(count);
  const jsonl = items.map((item) => JSON.stringify(item)).join("\n");

  // (a) the import path: POST /products/import (parse, validate, stage) then the job's chunks,
  // as a staff user with RLS, triggers, audit and outbox, until GET /jobs/{id} says completed.
  const staff = `Bearer ${await mintStaffToken(LOCAL_JWT_SECRET, "staff")}`;
  const importStarted = performance.now();
  const response = await app.request("/api/v1/products/import", {
    method: "POST",
    headers: { authorization: staff, "content-type": "application/x-ndjson" },
    body: jsonl,
  });
  if (response.status !== 202) throw new Error(`import: HTTP ${response.status} ${await response.text()}`);
  const job = (await response.json()) as { id: string };
  const staged = performance.now();
  // The request already started one worker; more workers share the job's chunks (skip locked).
  const { processImport } = await import("../packages/server/src/domains/catalog/transfer/service.ts");
  const claims = { role: "authenticated" as const, sub: "00000000-0000-4000-8000-000000000004", app_role: "staff" };
  const extra = Array.from({ length: workers - 1 }, () => processImport(db, claims, job.id));
  let status: { status: string; done: number; failed: number } = { status: "queued", done: 0, failed: 0 };
  while (status.status !== "completed") {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const polled = await app.request(`/api/v1/jobs/${job.id}`, { headers: { authorization: staff } });
    status = (await polled.json()) as typeof status;
    if (process.env.BENCH_DEBUG) console.log(status.done, ((performance.now() - importStarted) / 1000).toFixed(1));
  }
  await Promise.all(extra);
  const importSeconds = (performance.now() - importStarted) / 1000;
  if (status.done !== count) throw new Error(`import: ${status.done} done, ${status.failed} failed`);

  // (b) the baseline: the same products and variants by COPY into plain tables of the same shape.
  const ids = new Map<string, string>();
  for (const { rows } of [
    await pool.query("select id, handle from public.brands"),
    await pool.query("select id, handle from public.categories"),
  ]) {
    for (const row of rows) ids.set(row.handle, row.id);
  }
  const productIds = items.map(() => crypto.randomUUID());
  const productCsv = items
    .map((item, i) =>
      [
        productIds[i] as string,
        slug(item.title),
        item.title,
        item.description,
        ids.get(item.brand) ?? null,
        ids.get(item.category) ?? null,
        "{}",
      ]
        .map(csv)
        .join(","),
    )
    .join("\n");
  const variantCsv = items
    .map((item, i) => {
      const variant = item.variants[0];
      if (!variant) return "";
      return [
        productIds[i] as string,
        variant.sku,
        String(variant.price_amount),
        variant.currency,
        JSON.stringify(variant.options),
        "1",
      ]
        .map(csv)
        .join(",");
    })
    .join("\n");
  const rowsCsv = (prefix: string) => {
    const ids = items.map(() => crypto.randomUUID());
    const products = productCsv
      .split("\n")
      .map((line, i) => `"${ids[i]}","${prefix.toLowerCase()}-${line.slice(line.indexOf(",") + 2)}`)
      .join("\n");
    const variants = variantCsv
      .split("\n")
      .map((line, i) => `"${ids[i]}","${prefix}-${line.slice(line.indexOf(",") + 2)}`)
      .join("\n");
    return { products, variants };
  };
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const copy = async (tx: postgres.TransactionSql, schema: string, rows: { products: string; variants: string }) => {
    for (const [statement, text] of [
      [
        `copy ${schema}.products (id, handle, title, description, brand_id, category_id, attributes) from stdin with (format csv)`,
        rows.products,
      ],
      [
        `copy ${schema}.product_variants (product_id, sku, price_amount, currency, options, position) from stdin with (format csv)`,
        rows.variants,
      ],
    ] as const) {
      const stream = await tx.unsafe(statement).writable();
      await new Promise<void>((resolve, reject) => {
        stream.on("error", reject);
        stream.end(text, (error?: Error | null) => (error ? reject(error) : resolve()));
      });
    }
  };
  const rolledBack = new Error("rolled back");
  // With triggers on, a batch per transaction (as the import's chunks): a variant's trigger takes a
  // lock per product, and 100k of them overflow the lock table in one transaction. It runs slower
  // than the import (each batch writes its products twice), so it is timed on the first rows only.
  const copyIntoRealTables = async (prefix: string, triggers: boolean) => {
    const rows = rowsCsv(prefix);
    const products = rows.products.split("\n").slice(0, triggers ? TRIGGERED_COPY_ROWS : undefined);
    const variants = rows.variants.split("\n").slice(0, triggers ? TRIGGERED_COPY_ROWS : undefined);
    const batch = triggers ? 1_000 : products.length;
    let seconds = 0;
    for (let at = 0; at < products.length; at += batch) {
      await sql
        .begin(async (tx) => {
          if (!triggers) {
            await tx`alter table public.products disable trigger user`;
            await tx`alter table public.product_variants disable trigger user`;
          }
          const started = performance.now();
          await copy(tx, "public", {
            products: products.slice(at, at + batch).join("\n"),
            variants: variants.slice(at, at + batch).join("\n"),
          });
          await tx`set constraints all immediate`;
          seconds += (performance.now() - started) / 1000;
          throw rolledBack;
        })
        .catch((error: unknown) => {
          if (error !== rolledBack) throw error;
        });
    }
    return seconds / products.length;
  };
  let copySeconds: number;
  let copyRealSecondsPerRow: number;
  let copyRealTriggersSecondsPerRow: number;
  try {
    const copyStarted = performance.now();
    await sql.begin((tx) => copy(tx, "bench_copy", { products: productCsv, variants: variantCsv }));
    copySeconds = (performance.now() - copyStarted) / 1000;
    copyRealSecondsPerRow = await copyIntoRealTables("COPY", false);
    copyRealTriggersSecondsPerRow = await copyIntoRealTables("TRIG", true);
  } finally {
    await sql.end({ timeout: 5 });
  }
  const copied = (await pool.query<{ n: number }>("select count(*)::int as n from bench_copy.product_variants")).rows[0]
    ?.n;
  if (copied !== count) throw new Error(`copy: ${copied} variants`);
  await pool.query("analyze");
  const root = ids.get("cat-0") as string;
  return {
    count,
    importSeconds,
    stagedSeconds: (staged - importStarted) / 1000,
    copySeconds,
    copyRealSecondsPerRow,
    copyRealTriggersSecondsPerRow,
    listPath: `/api/v1/products?q=blue%20tsh&category_id=${root}&price_max=10000&limit=50`,
    root,
  };
}

/** One search the bench measures: the API request (as `as`) and the bare SELECT of the same rows. */
interface SearchShape {
  name: string;
  as: "viewer" | "anon";
  /** The request's query string; `n` spells it differently each time (see `respell`). */
  query: (n: number) => string;
  /** The bare SELECT of the same rows (id, product JSON) in the same order, and its parameters. */
  bare: string;
  params: unknown[];
}

export interface SearchResult {
  name: string;
  subject: Sample[];
  baseline: Sample[];
  rows: number;
  /** Answers the read cache gave (every request is meant to reach Postgres). */
  cacheHits: number;
}

/**
 * `text` with the case of its letters flipped by the bits of `n`, and for text with a space, more
 * spaces after the first word: the same search and the same rows to Postgres (search words are
 * lowercased, words split on any run of non-letters; uuids read in any case), but a different key
 * to the read cache, so every request is a miss that reaches the database. Without this the bench
 * measured cache hits after the first request.
 */
export function respell(text: string, n: number): string {
  let bit = 0;
  const flipped = text.replace(/[a-z]/gi, (ch) => ((n >> bit++) & 1 ? ch.toUpperCase() : ch.toLowerCase()));
  const spaces = text.includes(" ") ? " ".repeat(Math.floor(n / 2 ** bit) % 64) : "";
  return flipped.replace(" ", ` ${spaces}`);
}

// What the API returns for each row: the product without its search document, with its live variants.
const PRODUCT = `(to_jsonb(p) - 'search') || jsonb_build_object('variants', coalesce(
  (select jsonb_agg(to_jsonb(v) order by v.position, v.created_at, v.id) from public.product_variants v
    where v.product_id = p.id and v.deleted_at is null), '[]'::jsonb)) as product`;
const RANKED = `from public.products p, to_tsquery('simple', 'blue:* & tsh:*') q
  where p.deleted_at is null and p.search @@ q`;
const IN_TREE = "p.category_id in (select c.id from public.categories c where c.path @> array[$1::uuid])";
const PRICED = `exists (select 1 from public.product_variants v
  where v.product_id = p.id and v.deleted_at is null and v.price_amount <= 10000)`;
const BY_RANK = "order by ts_rank(p.search, q) desc, p.id desc limit 51";
const MIN_PRICE = `coalesce((select min(v.price_amount) from public.product_variants v
  where v.product_id = p.id and v.deleted_at is null), 2147483647)`;

/**
 * (c) product lists and searches through the app (cache on, every request a miss) vs. bare SELECTs
 * of the same rows in the same order, shape by shape. Half the catalog is published first (the
 * import makes drafts), so the anonymous search has something to find among what it may not see.
 */
export async function searchComparison(
  app: App,
  pool: pg.Pool,
  run: Pick<CatalogRun, "root">,
  budget: Budget & { rounds: number },
): Promise<SearchResult[]> {
  const client = await pool.connect();
  try {
    // Bench set-up, not a product change: no triggers, so no events, audit rows or cache retirements.
    await client.query("begin; set local session_replication_role = replica");
    await client.query(`update public.products set status = 'published', published_at = now()
                        where status = 'draft' and right(handle, 1) in ('0', '2', '4', '6', '8')`);
    await client.query("commit; analyze public.products");
  } finally {
    client.release();
  }
  const leaf = (
    await pool.query<{ id: string }>("select id from public.categories where parent_id = $1 order by handle limit 1", [
      run.root,
    ])
  ).rows[0]?.id as string;
  const words = "blue tsh";
  const issue = (n: number) =>
    `q=${encodeURIComponent(respell(words, n))}&category_id=${run.root}&price_max=10000&limit=50`;
  const shapes: SearchShape[] = [
    {
      name: "q + category_id + price_max (the issue's)",
      as: "viewer",
      query: issue,
      bare: `select p.id, ${PRODUCT} ${RANKED} and ${IN_TREE} and ${PRICED} ${BY_RANK}`,
      params: [run.root],
    },
    {
      name: "q only",
      as: "viewer",
      query: (n) => `q=${encodeURIComponent(respell(words, n))}&limit=50`,
      bare: `select p.id, ${PRODUCT} ${RANKED} ${BY_RANK}`,
      params: [],
    },
    {
      name: "q only, anonymous (published only)",
      as: "anon",
      query: (n) => `q=${encodeURIComponent(respell(words, n))}&limit=50`,
      bare: `select p.id, ${PRODUCT} ${RANKED} and p.status = 'published' ${BY_RANK}`,
      params: [],
    },
    {
      name: "category_id only, newest first",
      as: "viewer",
      query: (n) => `category_id=${respell(run.root, n)}&limit=50`,
      bare: `select p.id, ${PRODUCT} from public.products p where p.deleted_at is null and ${IN_TREE}
             order by p.updated_at desc, p.id desc limit 51`,
      params: [run.root],
    },
    {
      name: "category_id (one leaf) sorted by price",
      as: "viewer",
      query: (n) => `category_id=${respell(leaf, n)}&sort=price&limit=50`,
      bare: `select p.id, ${PRODUCT} from public.products p where p.deleted_at is null and ${IN_TREE}
             order by ${MIN_PRICE}, p.id limit 51`,
      params: [leaf],
    },
  ];
  // Page 2 of the issue's search: the cursor page 1 ends with, and the bare keyset after the same row.
  const first = await pool.query<{ id: string; rank: number }>(
    `select p.id, ts_rank(p.search, q) as rank ${RANKED} and ${IN_TREE} and ${PRICED} ${BY_RANK}`,
    [run.root],
  );
  const last = first.rows[49];
  if (last) {
    const cursor = encodeCursor([last.rank, last.id]);
    shapes.push({
      name: "q + category_id + price_max, page 2 (cursor)",
      as: "viewer",
      query: (n) => `${issue(n)}&cursor=${cursor}`,
      bare: `select p.id, ${PRODUCT} ${RANKED} and ${IN_TREE} and ${PRICED}
             and (ts_rank(p.search, q), p.id) < ($2::real, $3::uuid) ${BY_RANK}`,
      params: [run.root, last.rank, last.id],
    });
  }

  const tokens = { viewer: `Bearer ${await mintStaffToken(LOCAL_JWT_SECRET, "viewer")}`, anon: undefined };
  const results: SearchResult[] = [];
  for (const shape of shapes) {
    let n = 0;
    let cacheHits = 0;
    const request = async () => {
      const authorization = tokens[shape.as];
      const response = await app.request(`/api/v1/products?${shape.query(n++)}`, {
        headers: authorization ? { authorization } : {},
      });
      if (response.status !== 200) throw new Error(`${shape.name}: HTTP ${response.status} ${await response.text()}`);
      if (response.headers.get("x-cache") === "hit") cacheHits++;
      return response.text(); // the body as the client receives it; parsing it is the client's cost
    };
    const bare = () => pool.query<{ id: string }>(shape.bare, shape.params);
    // The bare query must return the page the API returns, in its order.
    const [page, rows] = [JSON.parse(await request()) as { data: { id: string }[] }, (await bare()).rows.slice(0, 50)];
    const ids = page.data.map((product) => product.id);
    if (ids.length === 0 || JSON.stringify(ids) !== JSON.stringify(rows.map((row) => row.id))) {
      throw new Error(
        `${shape.name}: the bare query returns other rows than the API (${ids.length} vs ${rows.length})`,
      );
    }
    cacheHits = 0;
    const measured = await interleave(request, bare, budget);
    results.push({ name: shape.name, ...measured, rows: ids.length, cacheHits });
  }
  return results;
}

export default async function catalog(args: string[]): Promise<void> {
  const count = Number(args[0] ?? 100_000);
  const workers = Number(args[1] ?? 2);
  const scratch = await scratchDatabase("catalog");
  const db = createPostgresDb(scratch.url, { max: workers + 4, applicationName: "storekeep-bench" });
  const pool = new pg.Pool({ connectionString: scratch.url, max: 4, application_name: "storekeep-bench" });
  pool.on("error", () => {});
  try {
    await migrate(db);
    console.log(`scratch database migrated; ${count.toLocaleString("en-US")} products, ${workers} import worker(s)`);
    const services = createServices(
      loadConfig({ ...LOCAL_DEFAULTS, LOG_LEVEL: "silent", RATE_LIMITS_ENABLED: "false" }),
      { db },
    );
    const app = createApp(services);
    const run = await importAndCopy(scratch.url, db, pool, app, count, workers);
    const rows: Row[] = [
      {
        figure: `import ${count.toLocaleString("en-US")} products (rows/s)`,
        value: count / run.importSeconds,
        baseline: "plain COPY of the same rows",
        baselineValue: count / run.copySeconds,
        unit: "ops/s",
      },
      {
        figure: "  context: COPY into the real tables, triggers off",
        value: 1 / run.copyRealSecondsPerRow,
        baseline: "plain COPY of the same rows",
        baselineValue: count / run.copySeconds,
        unit: "ops/s",
      },
      {
        figure: `  context: COPY into the real tables, triggers on (first ${TRIGGERED_COPY_ROWS / 1000}k rows)`,
        value: 1 / run.copyRealTriggersSecondsPerRow,
        baseline: "plain COPY of the same rows",
        baselineValue: count / run.copySeconds,
        unit: "ops/s",
      },
    ];
    const searches = await searchComparison(app, pool, run, LIST_BUDGET);
    for (const search of searches) rows.push(...compareRows(`GET /products: ${search.name}`, "bare SELECT", search));

    printTable(
      `Catalog on PostgreSQL (same run, same server)\n` +
        `(a) import: POST /v1/products/import with ${count.toLocaleString("en-US")} JSON Lines as staff (parse, validate, stage:\n` +
        `    ${run.stagedSeconds.toFixed(1)} s), then the job's chunks with RLS, triggers, search document, audit and\n` +
        `    outbox, ${workers} worker(s), until GET /jobs/{id} says completed: ${run.importSeconds.toFixed(1)} s.\n` +
        `    Baseline: COPY of the same products and variants into trigger-free, index-free tables of the same shape:\n` +
        `    ${run.copySeconds.toFixed(2)} s. Ratio = import rows/s / COPY rows/s. Context: COPY of the same rows (other\n` +
        `    handles and SKUs, rolled back) into the real tables, indexes and constraints kept, user triggers off and on.\n` +
        `(b) GET /v1/products, shape by shape (50 rows of full product JSON; every request a cache miss), vs. the\n` +
        "    bare SELECT of the same rows' ids in the same order, one at a time",
      rows,
    );
  } finally {
    await Promise.allSettled([pool.end(), db.close()]);
    await scratch.drop();
  }
}
