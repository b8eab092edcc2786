import pg from "pg";

/** A benchmark module: `bench/<name>.ts` exports a default function and a one-line description. */
export interface Benchmark {
  default: (args: string[]) => Promise<void>;
  description?: string;
  /** How long the runner lets it go before stopping it (default 60 s). */
  timeLimitSeconds?: number;
}

// ---------------------------------------------------------------------------------------------
// Measuring

export interface Budget {
  /** Stop after this long (ms)... */
  ms?: number;
  /** ...or after this many operations, whichever comes first. */
  count?: number;
  /** Operations in flight at once (each worker awaits its own before starting the next). */
  concurrency?: number;
  /** Run (and discard) for this long first. */
  warmupMs?: number;
}

export interface Sample {
  ops: number;
  seconds: number;
  /** Per-operation latency in ms. */
  latencies: number[];
  /** CPU time this process spent (user + system), in seconds: unlike wall time, blind to other processes. */
  cpuSeconds?: number;
}

/** Runs `op` with `concurrency` workers until the budget is spent; records every latency. */
export async function measure(op: () => Promise<unknown>, budget: Budget): Promise<Sample> {
  const concurrency = budget.concurrency ?? 1;
  if (budget.warmupMs) await loop(op, concurrency, budget.warmupMs, Number.POSITIVE_INFINITY, null);
  const latencies: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  await loop(
    op,
    concurrency,
    budget.ms ?? Number.POSITIVE_INFINITY,
    budget.count ?? Number.POSITIVE_INFINITY,
    latencies,
  );
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  return { ops: latencies.length, seconds, latencies, cpuSeconds: (used.user + used.system) / 1e6 };
}

async function loop(
  op: () => Promise<unknown>,
  concurrency: number,
  ms: number,
  count: number,
  latencies: number[] | null,
): Promise<void> {
  const deadline = performance.now() + ms;
  let issued = 0;
  const worker = async () => {
    while (issued < count && performance.now() < deadline) {
      issued++;
      const t0 = performance.now();
      await op();
      latencies?.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/**
 * Measures `subject` and `baseline` in alternating order (ABBA...) so drift on a noisy machine
 * hits both alike. Returns one sample per round for each.
 */
export async function interleave(
  subject: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
  budget: Budget & { rounds: number },
): Promise<{ subject: Sample[]; baseline: Sample[] }> {
  const result = { subject: [] as Sample[], baseline: [] as Sample[] };
  for (let round = 0; round < budget.rounds; round++) {
    const subjectFirst = round % 2 === 0;
    for (const which of subjectFirst ? (["subject", "baseline"] as const) : (["baseline", "subject"] as const)) {
      result[which].push(await measure(which === "subject" ? subject : baseline, budget));
    }
  }
  return result;
}

export const opsPerSec = (sample: Sample): number => sample.ops / sample.seconds;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface Overhead {
  /** Median over rounds of (time per operation of subject) / (time per operation of baseline). */
  ratio: number;
  /** Each round's ratio, in round order. */
  ratios: number[];
  /** Median over rounds of (subject p50 latency) / (baseline p50 latency): blind to stalls. */
  p50Ratio: number;
  /**
   * Median over rounds of this process's CPU time per operation, subject / baseline: what the subject
   * costs in work, nearly blind to other processes on the machine (the database's work is not in it).
   */
  cpuRatio: number;
  /** Median over rounds of the CPU time per operation the subject adds, in µs. */
  cpuAddedMicros: number;
  subject: Sample[];
  baseline: Sample[];
}

/**
 * What `subject` costs over `baseline` per operation, made to hold on a noisy shared machine: both
 * warm up, then many short rounds, each measuring the two back to back in alternating order
 * (ABBA...), so drift hits both sides of a pair alike; the answer is the median of the per-round
 * ratios (one disturbed round moves it little).
 */
export async function overhead(
  subject: () => Promise<unknown>,
  baseline: () => Promise<unknown>,
  budget: Budget & { rounds: number },
): Promise<Overhead> {
  if (budget.warmupMs) {
    const warmup = { ms: budget.warmupMs, concurrency: budget.concurrency };
    await measure(subject, warmup);
    await measure(baseline, warmup);
  }
  const result = await interleave(subject, baseline, { ...budget, warmupMs: 0 });
  const ratios = result.subject.map((sample, i) => opsPerSec(result.baseline[i] as Sample) / opsPerSec(sample));
  const p50Ratios = result.subject.map(
    (sample, i) => quantile([sample], 0.5) / quantile([result.baseline[i] as Sample], 0.5),
  );
  const cpuPerOp = (sample: Sample) => (sample.cpuSeconds ?? Number.NaN) / sample.ops;
  const cpuRatios = result.subject.map((sample, i) => cpuPerOp(sample) / cpuPerOp(result.baseline[i] as Sample));
  const cpuAdded = result.subject.map((sample, i) => (cpuPerOp(sample) - cpuPerOp(result.baseline[i] as Sample)) * 1e6);
  return {
    ratio: median(ratios),
    ratios,
    p50Ratio: median(p50Ratios),
    cpuRatio: median(cpuRatios),
    cpuAddedMicros: median(cpuAdded),
    ...result,
  };
}

/** A median ops/s row, p50/p99 rows, and the overhead line for an `overhead` result. */
export function overheadRows(label: string, baselineLabel: string, result: Overhead): Row[] {
  return [
    {
      figure: `${label} ops/s (median of ${result.ratios.length} rounds)`,
      value: median(result.subject.map(opsPerSec)),
      baseline: `${baselineLabel} ops/s`,
      baselineValue: median(result.baseline.map(opsPerSec)),
      unit: "ops/s",
    },
    ...compareRows(label, baselineLabel, { subject: result.subject, baseline: result.baseline }).filter(
      (row) => row.unit === "ms",
    ),
  ];
}

/** `label: 1.040x time per request (median of 15 paired rounds; rounds 0.97x-1.10x); p50 latency 1.03x; CPU ...`. */
export function describeOverhead(label: string, result: Overhead): string {
  const low = Math.min(...result.ratios);
  const high = Math.max(...result.ratios);
  return (
    `${label}: ${result.ratio.toFixed(3)}x time per request (median of ${result.ratios.length} paired rounds; ` +
    `rounds ${low.toFixed(2)}x-${high.toFixed(2)}x); p50 latency ${result.p50Ratio.toFixed(3)}x; ` +
    `CPU per request ${result.cpuRatio.toFixed(3)}x (${result.cpuAddedMicros.toFixed(1)} µs added)`
  );
}

/** The q-th quantile (0..1) of the latencies of all samples together, in ms. */
export function quantile(samples: Sample[], q: number): number {
  const all = samples.flatMap((sample) => sample.latencies).sort((a, b) => a - b);
  if (all.length === 0) return Number.NaN;
  return all[Math.min(all.length - 1, Math.floor(q * all.length))] ?? Number.NaN;
}

// ---------------------------------------------------------------------------------------------
// Reporting

export interface Row {
  figure: string;
  value: number;
  baseline: string;
  baselineValue: number;
  /** How `value`/`baselineValue` are printed. */
  unit: "ops/s" | "q/s" | "ms" | "µs/q";
}

/** Rows of ops/s per round plus p50/p99 over all rounds, for an `interleave` result. */
export function compareRows(
  label: string,
  baselineLabel: string,
  result: { subject: Sample[]; baseline: Sample[] },
): Row[] {
  const rows: Row[] = result.subject.map((sample, i) => ({
    figure: `${label} ops/s, round ${i + 1}`,
    value: opsPerSec(sample),
    baseline: `${baselineLabel} ops/s`,
    baselineValue: opsPerSec(result.baseline[i] as Sample),
    unit: "ops/s",
  }));
  for (const [name, q] of [
    ["p50", 0.5],
    ["p99", 0.99],
  ] as const) {
    rows.push({
      figure: `${label} ${name} latency`,
      value: quantile(result.subject, q),
      baseline: `${baselineLabel} ${name}`,
      baselineValue: quantile(result.baseline, q),
      unit: "ms",
    });
  }
  return rows;
}

function format(value: number, unit: Row["unit"]): string {
  if (!Number.isFinite(value)) return "n/a";
  if (unit === "ms") return `${value < 1 ? value.toFixed(3) : value.toFixed(2)} ms`;
  if (unit === "µs/q") return `${value.toFixed(1)} µs/q`;
  return `${Math.round(value).toLocaleString("en-US")} ${unit}`;
}

function ratio(value: number, baseline: number): string {
  const r = value / baseline;
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : "n/a";
}

/** Prints `figure | value | baseline | value | ratio` (ratio = value / baseline value). */
export function printTable(title: string, rows: Row[]): void {
  const cells = [
    ["figure", "value", "baseline", "value", "ratio"],
    ...rows.map((row) => [
      row.figure,
      format(row.value, row.unit),
      row.baseline,
      format(row.baselineValue, row.unit),
      ratio(row.value, row.baselineValue),
    ]),
  ];
  const widths = cells[0]?.map((_, col) => Math.max(...cells.map((line) => (line[col] ?? "").length))) ?? [];
  const numeric = [false, true, false, true, true];
  const render = (line: string[]) =>
    line
      .map((cell, col) => (numeric[col] ? cell.padStart(widths[col] ?? 0) : cell.padEnd(widths[col] ?? 0)))
      .join(" | ");
  console.log(`\n${title}`);
  console.log(render(cells[0] ?? []));
  console.log(widths.map((width) => "-".repeat(width)).join("-|-"));
  for (const line of cells.slice(1)) console.log(render(line));
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

export const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** Clean-ups still owed by this process; the runner calls them if a benchmark overruns. */
export const pendingCleanups = new Set<() => Promise<void>>();

/** Creates an empty database of its own on DATABASE_URL's server; `drop` removes it. */
export async function scratchDatabase(label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `bench_${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await admin(`create database ${name}`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  const drop = async () => {
    pendingCleanups.delete(drop);
    await admin(`drop database if exists ${name} with (force)`);
  };
  pendingCleanups.add(drop);
  return { url: url.toString(), drop };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: DATABASE_URL, application_name: "storekeep-bench" });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
