import { Hono } from "hono";
import pg from "pg";
import { migrate } from "../packages/local/src/migrate.ts";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { createApp } from "../packages/server/src/app.ts";
import { createServices } from "../packages/server/src/main.ts";
import { loadConfig } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import type { Db } from "../packages/server/src/platform/db/types.ts";
import { importAndCopy, searchComparison } from "./catalog.ts";
import { flashSale } from "./flash.ts";
import { interleave, opsPerSec, quantile, type Sample, scratchDatabase } from "./lib.ts";

export const description =
  "issue #16's table in one run: every row against its same-run baseline, median and range of rounds, and its aim";

// Setup (migrations, 10k skus, the import of the catalog) dominates on a busy 2-core machine.
export const timeLimitSeconds = 1800;

const CONNECTIONS = 16;
const SKUS = 10_000;
const ROUNDS = 3;
const BUDGET = { ms: 2_000, warmupMs: 300, rounds: ROUNDS, concurrency: CONNECTIONS };
const ROWS = ["ready", "reserve", "orders", "search", "import", "flash"] as const;
type RowName = (typeof ROWS)[number];

/** One line of the final table: per-round subject and baseline figures, ratio per round, the aim. */
export interface Line {
  row: string;
  unit: string;
  subject: number[];
  baseline: number[];
  baselineLabel: string;
  /** Ratio per round: subject/baseline for throughput, baseline-relative cost for latency. */
  ratios: number[];
  aim: string;
  met: boolean | null;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const fmt = (x: number, unit: string) =>
  unit === "ms" ? x.toFixed(x < 10 ? 2 : 1) : unit === "x" ? x.toFixed(2) : Math.round(x).toLocaleString("en-US");
const spread = (xs: number[], unit: string) =>
  xs.length > 1
    ? `${fmt(median(xs), unit)} (${fmt(Math.min(...xs), unit)}–${fmt(Math.max(...xs), unit)})`
    : fmt(xs[0] ?? Number.NaN, unit);
const ratioSpread = (xs: number[]) =>
  xs.length > 1
    ? `${median(xs).toFixed(2)}x (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`
    : `${(xs[0] ?? Number.NaN).toFixed(2)}x`;

/** Throughput line from an interleave result: ratio per round = subject ops/s / baseline ops/s. */
export function throughputLine(
  row: string,
  baselineLabel: string,
  result: { subject: Sample[]; baseline: Sample[] },
  aim: number,
): Line {
  const subject = result.subject.map(opsPerSec);
  const baseline = result.baseline.map(opsPerSec);
  const ratios = subject.map((s, i) => s / (baseline[i] as number));
  return {
    row,
    unit: "ops/s",
    subject,
    baseline,
    baselineLabel,
    ratios,
    aim: `>= ${aim.toFixed(2)}x`,
    met: median(ratios) >= aim,
  };
}

export function printLines(title: string, lines: Line[]): void {
  const cells = [
    ["row", "subject", "baseline (same run)", "baseline", "ratio median (range)", "aim", "met"],
    ...lines.map((line) => [
      line.row,
      `${spread(line.subject, line.unit)} ${line.unit}`,
      line.baselineLabel,
      `${spread(line.baseline, line.unit)} ${line.unit}`,
      ratioSpread(line.ratios),
      line.aim,
      line.met === null ? "-" : line.met ? "yes" : "NO",
    ]),
  ];
  const widths = cells[0]?.map((_, col) => Math.max(...cells.map((cell) => (cell[col] ?? "").length))) ?? [];
  const render = (cell: string[]) => cell.map((text, col) => text.padEnd(widths[col] ?? 0)).join(" | ");
  console.log(`\n${title}`);
  console.log(render(cells[0] ?? []));
  console.log(widths.map((width) => "-".repeat(width)).join("-|-"));
  for (const cell of cells.slice(1)) console.log(render(cell));
}

async function setupInventory(db: Db): Promise<{ variant_id: string; location_id: string }[]> {
  await db.exec(`
    insert into public.products (id, handle, title) values ('b0000000-0000-4000-8000-000000000001', 'bench', 'Bench');
    insert into public.product_variants (product_id, sku, price_amount, currency)
    select 'b0000000-0000-4000-8000-000000000001', 'BENCH-' || n, 100, 'EUR' from generate_series(1, ${SKUS}) n;
    update public.products set status = 'published' where handle = 'bench';
    insert into public.stock_movements (variant_id, location_id, kind, quantity)
    select sl.variant_id, sl.location_id, 'receipt', 1000000 from public.stock_levels sl
    join public.locations l on l.id = sl.location_id and l.code = 'main'
    join public.product_variants v on v.id = sl.variant_id and v.sku like 'BENCH-%';
    create table bench_levels as
      select sl.variant_id, sl.location_id, sl.on_hand, sl.reserved from public.stock_levels sl
      join public.product_variants v on v.id = sl.variant_id and v.sku like 'BENCH-%'
      join public.locations l on l.id = sl.location_id and l.code = 'main';
    alter table bench_levels add primary key (variant_id, location_id);
    analyze;
  `);
  return (
    await db.query<{ variant_id: string; location_id: string }>(
      `select b.variant_id, b.location_id from bench_levels b
       join public.product_variants v on v.id = b.variant_id order by substr(v.sku, 7)::int`,
    )
  ).rows;
}

export default async function perf(args: string[]): Promise<void> {
  const products = Number(args.find((arg) => arg.startsWith("--products="))?.split("=")[1] ?? 20_000);
  const picked = args.filter((arg) => !arg.startsWith("--")) as RowName[];
  const unknown = picked.filter((name) => !ROWS.includes(name));
  if (unknown.length) throw new Error(`unknown rows ${unknown.join(", ")}; rows: ${ROWS.join(", ")}`);
  const wants = (name: RowName) => picked.length === 0 || picked.includes(name);

  const scratch = await scratchDatabase("perf");
  const db = createPostgresDb(scratch.url, { max: CONNECTIONS, applicationName: "storekeep-bench" });
  const pool = new pg.Pool({ connectionString: scratch.url, max: CONNECTIONS, application_name: "storekeep-bench" });
  pool.on("error", () => {});
  const lines: Line[] = [];
  const add = (...items: Line[]) => {
    for (const line of items) console.log(`  ${line.row}: ${ratioSpread(line.ratios)} (aim ${line.aim})`);
    lines.push(...items);
  };
  try {
    await migrate(db, { seed: true });
    const services = createServices(
      loadConfig({ ...LOCAL_DEFAULTS, LOG_LEVEL: "silent", RATE_LIMITS_ENABLED: "false" }),
      { db },
    );
    const app = createApp(services);
    console.log(`scratch database migrated; pools of ${CONNECTIONS}; ${ROUNDS} interleaved rounds per row`);

    if (wants("ready")) {
      const selectOne = async () => {
        await pool.query("select 1");
      };
      const ready = async () => {
        const response = await app.request("/api/v1/ready");
        if (response.status !== 200) throw new Error(`/ready: HTTP ${response.status}`);
        await response.text();
      };
      const bare = new Hono().get("/api/v1/ready", async (c) => {
        await db.query("select 1");
        return c.json({ status: "ready" });
      });
      const bareReady = async () => {
        const response = await bare.request("/api/v1/ready");
        if (response.status !== 200) throw new Error(`bare /ready: HTTP ${response.status}`);
        await response.text();
      };
      const claims = { role: "authenticated" as const, sub: "00000000-0000-4000-8000-000000000004", app_role: "staff" };
      add(
        throughputLine(
          "GET /ready (app.request) c=16",
          "pool.query('select 1')",
          await interleave(ready, selectOne, BUDGET),
          0.8,
        ),
        // Context, no aim: the same select 1 behind a bare Hono app (one route, no middleware), what
        // any in-process HTTP app starts from.
        {
          ...throughputLine(
            "GET /ready, bare Hono app + Db.query c=16",
            "pool.query('select 1')",
            await interleave(bareReady, selectOne, BUDGET),
            0.8,
          ),
          aim: "-",
          met: null,
        },
        throughputLine(
          "Db.query('select 1') c=16",
          "pool.query('select 1')",
          await interleave(() => db.query("select 1"), selectOne, BUDGET),
          0.8,
        ),
        throughputLine(
          "Db.asUser(select 1) c=16",
          "pool.query('select 1')",
          await interleave(() => db.asUser(claims, (tx) => tx.query("select 1")), selectOne, BUDGET),
          0.8,
        ),
        throughputLine(
          "Db.queryAsUser(select 1) c=16",
          "pool.query('select 1')",
          await interleave(() => db.queryAsUser(claims, "select 1"), selectOne, BUDGET),
          0.8,
        ),
      );
    }

    if (wants("reserve") || wants("orders")) {
      const ids = await setupInventory(db);
      const pick = () => Math.floor(Math.random() * SKUS);
      const reserve = (items: () => { sku: string; quantity: number }[]) => async () => {
        await pool.query("select private.reserve_stock($1::jsonb, 900)", [JSON.stringify(items())]);
      };
      const bare = (row: () => { variant_id: string; location_id: string }) => async () => {
        const { variant_id, location_id } = row();
        const { rowCount } = await pool.query(
          "update bench_levels set reserved = reserved + $3 where variant_id = $1 and location_id = $2 and on_hand - reserved >= $3",
          [variant_id, location_id, 1],
        );
        if (rowCount !== 1) throw new Error("the bare update found no stock");
      };
      if (wants("reserve")) {
        add(
          throughputLine(
            "reserve_stock, one hot sku",
            "bare conditional UPDATE",
            await interleave(
              reserve(() => [{ sku: "BENCH-1", quantity: 1 }]),
              bare(() => ids[0] as (typeof ids)[number]),
              BUDGET,
            ),
            0.8,
          ),
          throughputLine(
            `reserve_stock, ${SKUS / 1000}k skus`,
            "bare UPDATE",
            await interleave(
              reserve(() => [{ sku: `BENCH-${pick() + 1}`, quantity: 1 }]),
              bare(() => ids[pick()] as (typeof ids)[number]),
              BUDGET,
            ),
            0.5,
          ),
        );
      }
      if (wants("orders")) {
        // The same three random lines on both sides (skus 2..SKUS: the hot one stays out of it).
        const lines3 = () =>
          Array.from({ length: 3 }, () => ({
            sku: `BENCH-${2 + Math.floor(Math.random() * (SKUS - 1))}`,
            quantity: 1,
          }));
        const placeOrder = async () => {
          await pool.query("select private.place_order($1::jsonb)", [
            JSON.stringify({ items: lines3(), customer: { email: "bench@example.com" } }),
          ]);
        };
        const reserveLines = async () => {
          await pool.query("select private.reserve_stock($1::jsonb, 3600, 'cart', gen_random_uuid()::text)", [
            JSON.stringify(lines3()),
          ]);
        };
        add(
          throughputLine(
            "place_order, 3 lines",
            "reserve_stock, same lines",
            await interleave(placeOrder, reserveLines, BUDGET),
            0.8,
          ),
        );
      }
    }

    if (wants("import") || wants("search")) {
      const run = await importAndCopy(scratch.url, db, pool, app, products, 1);
      if (wants("import")) {
        const ratio = run.copySeconds / run.importSeconds;
        add({
          row: `import ${products / 1000}k products (POST /products/import to completed)`,
          unit: "rows/s",
          subject: [products / run.importSeconds],
          baseline: [products / run.copySeconds],
          baselineLabel: "COPY of the same rows",
          ratios: [ratio],
          aim: ">= 0.50x",
          met: ratio >= 0.5,
        });
        // Context, no aim: what writing the same rows into the real tables costs by COPY alone (their
        // indexes and constraints; user triggers off, then on), the floor any import path stands on.
        const context = (row: string, secondsPerRow: number): Line => ({
          row,
          unit: "rows/s",
          subject: [1 / secondsPerRow],
          baseline: [products / run.copySeconds],
          baselineLabel: "COPY of the same rows",
          ratios: [run.copySeconds / products / secondsPerRow],
          aim: "-",
          met: null,
        });
        add(
          context("  context: COPY into the real tables, triggers off", run.copyRealSecondsPerRow),
          context("  context: COPY into the real tables, triggers on (first 10k)", run.copyRealTriggersSecondsPerRow),
        );
      }
      if (wants("search")) {
        // Shape by shape, each against its own bare SELECT in the same rounds: p50 with the aim, p99 beside it.
        for (const shape of await searchComparison(app, pool, run, { ms: 2_000, warmupMs: 300, rounds: ROUNDS })) {
          for (const [label, q] of [
            ["p50", 0.5],
            ["p99", 0.99],
          ] as const) {
            const subject = shape.subject.map((sample) => quantile([sample], q));
            const baseline = shape.baseline.map((sample) => quantile([sample], q));
            const ratios = subject.map((s, i) => s / (baseline[i] as number));
            const hits = shape.cacheHits ? `, ${shape.cacheHits} cache hits` : "";
            add({
              row: `GET /products ${label}: ${shape.name}, ${products / 1000}k products${hits}`,
              unit: "ms",
              subject,
              baseline,
              baselineLabel: `bare SELECT ${label}`,
              ratios,
              aim: label === "p50" ? "<= 1.50x and p50 <= 20 ms" : "-",
              met: label === "p50" ? median(ratios) <= 1.5 && median(subject) <= 20 : null,
            });
          }
        }
      }
    }

    if (wants("flash")) add(...(await flashSale(scratch.url, db)));

    printLines(
      "Issue #16 on PostgreSQL, one run (`npm run bench -- perf`). subject and baseline: median (min–max) over\n" +
        `rounds that alternate A/B; ratio per round, then its median and range. ${CONNECTIONS} connections and in flight\n` +
        "on both sides unless the row says otherwise. A ratio is subject/baseline: throughput (want high) or p50 (want low).",
      lines,
    );
  } finally {
    await Promise.allSettled([pool.end(), db.close()]);
    await scratch.drop();
  }
}
