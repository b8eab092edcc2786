import { type Counter, Counter as CounterMetric, Gauge, Histogram, Registry } from "prom-client";

/**
 * The process's Prometheus metrics (prom-client), one registry per app. Anyone may add a metric:
 *
 *   const hits = services.metrics.counter("storekeep_cache_hits_total", "Cache hits", ["cache"]);
 *   hits.inc({ cache: "products" });
 *
 * Asking twice for the same name returns the same metric, so a module may declare its metrics
 * where it uses them. Names start with `storekeep_`; labels must stay few-valued (never ids).
 * Values that live in the database (backlogs, counts) are read at scrape time through `onScrape`,
 * so every instance reports the same truth.
 */
export interface Metrics {
  counter<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Counter<L>;
  gauge<L extends string = never>(name: string, help: string, labelNames?: readonly L[]): Gauge<L>;
  histogram<L extends string = never>(
    name: string,
    help: string,
    labelNames?: readonly L[],
    buckets?: readonly number[],
  ): Histogram<L>;
  /** Runs before every scrape (read gauges from SQL, a pool's counters). A failure is counted, not thrown. */
  onScrape(name: string, collect: () => Promise<void> | void): void;
  /** The Prometheus text exposition of every metric. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** Latency buckets in seconds, dense around the 200 ms objective. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5, 5, 10];

export function createMetrics(): Metrics {
  const registry = new Registry();
  const collectors = new Map<string, () => Promise<void> | void>();

  function existing<T>(name: string, kind: new (...args: never[]) => T): T | undefined {
    const metric = registry.getSingleMetric(name);
    if (!metric) return undefined;
    if (!(metric instanceof kind)) throw new Error(`metric ${name} is already registered as another type`);
    return metric;
  }

  const metrics: Metrics = {
    counter: (name, help, labelNames = []) =>
      existing(name, CounterMetric) ?? new CounterMetric({ name, help, labelNames, registers: [registry] }),
    gauge: (name, help, labelNames = []) =>
      existing(name, Gauge) ?? new Gauge({ name, help, labelNames, registers: [registry] }),
    histogram: (name, help, labelNames = [], buckets = LATENCY_BUCKETS) =>
      existing(name, Histogram) ??
      new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [registry] }),
    onScrape(name, collect) {
      collectors.set(name, collect);
    },
    async scrape() {
      const failures = metrics.counter(
        "storekeep_metrics_collector_failures_total",
        "Scrape-time collectors that failed (their metrics keep their previous values)",
        ["collector"],
      );
      await Promise.all(
        [...collectors].map(async ([name, collect]) => {
          try {
            await collect();
          } catch {
            failures.inc({ collector: name });
          }
        }),
      );
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
  return metrics;
}

/** A counter whose value is kept elsewhere (a database total): sets it at scrape time. */
export function setCounter<L extends string>(counter: Counter<L>, labels: Partial<Record<L, string>>, value: number) {
  if (Object.keys(labels).length === 0) counter.reset();
  else counter.remove(labels);
  counter.inc(labels, value);
}
