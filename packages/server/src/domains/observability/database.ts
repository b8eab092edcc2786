import type { Db } from "../../platform/db/types.ts";
import { type Metrics, setCounter } from "../../platform/metrics.ts";

interface Snapshot {
  webhook_deliveries: Record<string, number>;
  webhook_oldest_pending_seconds: number;
  reservations_active: number;
  reservations_expired: number;
  reservations_overdue: number;
  stock_movements_total: number;
  events_total: number;
  reorder_suggestions_open: number;
  reservation_expiry_lag_seconds: number;
  ledger: { checked_at: number; levels_checked: number; mismatches: number } | null;
  jobs: { job: string; runs: number; failures: number; last_success_at: number | null; lag_seconds: number }[];
}

/**
 * Gauges whose truth is in the database, read at scrape time by one SQL function
 * (`private.metrics_snapshot`), so every instance reports the same values.
 */
export function registerDatabaseMetrics(metrics: Metrics, db: Db): void {
  const deliveries = metrics.gauge("storekeep_webhook_deliveries", "Outbound webhook deliveries by status", ["status"]);
  const oldestPending = metrics.gauge(
    "storekeep_webhook_oldest_pending_seconds",
    "Age of the oldest event with an undelivered webhook (0 when none is pending)",
  );
  const reservations = metrics.gauge("storekeep_reservations", "Reservations by status (active, expired)", ["status"]);
  const overdue = metrics.gauge("storekeep_reservations_overdue", "Active reservations past their expiry time");
  const expiryLag = metrics.gauge(
    "storekeep_reservation_expiry_lag_seconds",
    "How long the most overdue active reservation has been past its expiry (0 when none)",
  );
  const movements = metrics.counter(
    "storekeep_stock_movements_total",
    "Stock ledger movements recorded (the ledger's highest id; an upper bound)",
  );
  const events = metrics.counter(
    "storekeep_events_total",
    "Outbox events emitted (the outbox's highest id; an upper bound)",
  );
  const lowStock = metrics.gauge(
    "storekeep_reorder_suggestions_open",
    "Open reorder suggestions: stock levels at or below their reorder point",
  );
  const mismatches = metrics.gauge(
    "storekeep_ledger_mismatches",
    "Stock levels whose on_hand or reserved disagreed with the ledger at the last check",
  );
  const levelsChecked = metrics.gauge("storekeep_ledger_levels_checked", "Stock levels the last ledger check covered");
  const lastCheck = metrics.gauge(
    "storekeep_ledger_last_check_timestamp_seconds",
    "When the ledger was last checked (Unix time; 0 when never)",
  );
  const runs = metrics.counter("storekeep_job_runs_total", "Scheduled job runs, across all instances", ["job"]);
  const failures = metrics.counter("storekeep_job_failures_total", "Scheduled job runs that failed", ["job"]);
  const lag = metrics.gauge("storekeep_job_lag_seconds", "How far a job is past its interval since its last success", [
    "job",
  ]);
  const lastSuccess = metrics.gauge(
    "storekeep_job_last_success_timestamp_seconds",
    "When a job last succeeded (Unix time; 0 when never)",
    ["job"],
  );

  metrics.onScrape("database", async () => {
    const { rows } = await db.query<{ snapshot: Snapshot }>("select private.metrics_snapshot() as snapshot");
    const snapshot = rows[0]?.snapshot;
    if (!snapshot) throw new Error("metrics_snapshot returned nothing");
    for (const [status, count] of Object.entries(snapshot.webhook_deliveries)) deliveries.set({ status }, count);
    oldestPending.set(snapshot.webhook_oldest_pending_seconds);
    reservations.set({ status: "active" }, Number(snapshot.reservations_active));
    reservations.set({ status: "expired" }, Number(snapshot.reservations_expired));
    overdue.set(Number(snapshot.reservations_overdue));
    expiryLag.set(snapshot.reservation_expiry_lag_seconds);
    setCounter(movements, {}, Number(snapshot.stock_movements_total));
    setCounter(events, {}, Number(snapshot.events_total));
    lowStock.set(Number(snapshot.reorder_suggestions_open));
    mismatches.set(snapshot.ledger?.mismatches ?? 0);
    levelsChecked.set(snapshot.ledger?.levels_checked ?? 0);
    lastCheck.set(snapshot.ledger?.checked_at ?? 0);
    for (const job of snapshot.jobs) {
      setCounter(runs, { job: job.job }, Number(job.runs));
      setCounter(failures, { job: job.job }, Number(job.failures));
      lag.set({ job: job.job }, job.lag_seconds);
      lastSuccess.set({ job: job.job }, job.last_success_at ?? 0);
    }
  });
}
