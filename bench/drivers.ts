import pg from "pg";
import postgres from "postgres";
import { printTable, type Row, scratchDatabase } from "./lib.ts";

export const description =
  "pg vs postgres.js (prepare: false; --prepare for its default) under sustained load on a saturated pool";

const POOL_MAX = 10;
const WORKERS = 64;
const TOTAL = 180_000;
const WINDOW = 20_000;
const WARMUP = 5_000;
/** All four runs share this; a run that overruns its share stops early, so the benchmark stays under a minute. */
const BUDGET_MS = 50_000;

interface Driver {
  query(n: number): Promise<number>;
  close(): Promise<void>;
}

/** node-postgres: `pool.query(text, values)` sends unnamed statements (its default). */
function pgDriver(url: string): Driver {
  const pool = new pg.Pool({ connectionString: url, max: POOL_MAX });
  pool.on("error", () => {}); // as the app's adapter does: a client dropped while closing must not crash the run
  return {
    query: async (n) => (await pool.query<{ n: number }>("select $1::int as n", [n])).rows[0]?.n ?? Number.NaN,
    close: () => pool.end(),
  };
}

/** postgres.js: `prepare: false` is what Supabase's transaction pooler needs (unnamed statements). */
function postgresJsDriver(url: string, prepare: boolean): Driver {
  const sql = postgres(url, { max: POOL_MAX, prepare, onnotice: () => {} });
  return {
    query: async (n) => (await sql<{ n: number }[]>`select ${n}::int as n`)[0]?.n ?? Number.NaN,
    close: () => sql.end({ timeout: 5 }),
  };
}

interface Window {
  qps: number;
  /** This process's CPU time (user + system) per query: less disturbed by other processes than q/s, not immune. */
  cpuMicros: number;
}

interface Run {
  queries: number;
  seconds: number;
  windows: Window[];
}

/** WORKERS loops share TOTAL queries on one pool of POOL_MAX, without pause; a mark every WINDOW completions. */
async function sustained(driver: Driver, capMs: number): Promise<Run> {
  let issued = 0;
  let done = 0;
  const workers = (limit: number, deadline: number, onDone: () => void) =>
    Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (issued < limit && performance.now() < deadline) {
          const n = issued++;
          if ((await driver.query(n)) !== n) throw new Error(`select ${n} returned something else`);
          onDone();
        }
      }),
    );

  await workers(WARMUP, Number.POSITIVE_INFINITY, () => {}); // opens every connection
  issued = 0;
  const windows: Window[] = [];
  const started = performance.now();
  let mark = { at: started, cpu: process.cpuUsage() };
  await workers(TOTAL, started + capMs, () => {
    if (++done % WINDOW !== 0) return;
    const now = { at: performance.now(), cpu: process.cpuUsage() };
    const cpu = now.cpu.user + now.cpu.system - mark.cpu.user - mark.cpu.system;
    windows.push({ qps: WINDOW / ((now.at - mark.at) / 1000), cpuMicros: cpu / WINDOW });
    mark = now;
  });
  return { queries: done, seconds: (performance.now() - started) / 1000, windows };
}

const k = (n: number) => `${Math.round(n / 1000)}k`;
const span = (i: number) => `${k(i * WINDOW)}-${k((i + 1) * WINDOW)}`;

export default async function drivers(args: string[]): Promise<void> {
  const prepare = args.includes("--prepare");
  const pjs = `postgres.js${prepare ? " prepare" : ""}`;
  const scratch = await scratchDatabase("drivers");
  const deadline = performance.now() + BUDGET_MS;
  try {
    console.log(
      `pool ${POOL_MAX}, ${WORKERS} workers, 'select $1::int' x ${TOTAL.toLocaleString("en-US")} per run ` +
        `after ${WARMUP.toLocaleString("en-US")} warm-up queries; pg: unnamed statements; postgres.js: prepare: ${prepare}`,
    );
    // ABBA, each run on a fresh pool: r1 pg, r1 postgres.js, r2 postgres.js, r2 pg.
    const plan = [
      ["r1", "pg"],
      ["r1", pjs],
      ["r2", pjs],
      ["r2", "pg"],
    ] as const;
    const runs = new Map<string, Run>();
    for (const [i, [round, name]] of plan.entries()) {
      const driver = name === "pg" ? pgDriver(scratch.url) : postgresJsDriver(scratch.url, prepare);
      const capMs = (deadline - performance.now()) / (plan.length - i);
      try {
        const run = await sustained(driver, capMs);
        runs.set(`${round} ${name}`, run);
        const capped = run.queries < TOTAL ? ` (stopped at its ${(capMs / 1000).toFixed(1)} s share)` : "";
        console.log(`  ${round} ${name}: ${k(run.queries)} queries in ${run.seconds.toFixed(1)} s${capped}`);
      } finally {
        await driver.close();
      }
    }

    report(runs, pjs);
  } finally {
    await scratch.drop();
  }
}

/** Three tables: q/s and CPU per query, window by window, pg against postgres.js; then each run against itself. */
function report(runs: Map<string, Run>, pjs: string): void {
  const row = (
    figure: string,
    unit: Row["unit"],
    value: number | undefined,
    baseline: string,
    other?: number,
  ): Row => ({
    figure,
    value: value ?? Number.NaN,
    baseline,
    baselineValue: other ?? Number.NaN,
    unit,
  });
  const qps: Row[] = [];
  const cpu: Row[] = [];
  const drift: Row[] = [];
  for (const round of ["r1", "r2"]) {
    const a = runs.get(`${round} pg`) as Run;
    const b = runs.get(`${round} ${pjs}`) as Run;
    for (let i = 0; i < Math.max(a.windows.length, b.windows.length); i++) {
      const [x, y] = [a.windows[i], b.windows[i]];
      qps.push(row(`${round} pg ${span(i)}`, "q/s", x?.qps, pjs, y?.qps));
      cpu.push(row(`${round} pg ${span(i)}`, "µs/q", x?.cpuMicros, pjs, y?.cpuMicros));
    }
    qps.push(row(`${round} pg overall`, "q/s", a.queries / a.seconds, pjs, b.queries / b.seconds));
    for (const [name, run] of [
      ["pg", a],
      [pjs, b],
    ] as const) {
      const last = run.windows.length - 1;
      const [first, end] = [run.windows[0], run.windows[last]];
      if (!first || !end || last === 0) continue;
      const figure = `${round} ${name} ${span(last)}`;
      drift.push(row(figure, "q/s", end.qps, `same run ${span(0)}`, first.qps));
      drift.push(row(figure, "µs/q", end.cpuMicros, `same run ${span(0)}`, first.cpuMicros));
    }
  }
  const order = "runs in order r1 pg, r1 postgres.js, r2 postgres.js, r2 pg, each on a fresh pool";
  printTable(`queries/s per window of ${k(WINDOW)} queries, pool saturated; ratio = pg / ${pjs} (${order})`, qps);
  printTable(`this process's CPU time per query in the same windows; ratio = pg / ${pjs} (below 1: pg cheaper)`, cpu);
  printTable("drift within each run: last window against the first one of the same run (a slowdown shows here)", drift);
}
