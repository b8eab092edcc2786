import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import type { StoreObserver } from "./types.ts";

/** Store failures as metrics (alerts watch them) and one log line when Redis goes away and comes back. */
export function observeStore(metrics: Metrics, logger: Logger, whileDown: string): StoreObserver {
  const failures = metrics.counter(
    "storekeep_redis_failures_total",
    "Shared-store (Redis) calls that failed, by operation and reason (timeout, error, skipped: inside the cooldown after a failure)",
    ["operation", "reason"],
  );
  const available = metrics.gauge("storekeep_redis_available", "1 while Redis answers, 0 after a failed call");
  available.set(1);
  return {
    failed: (operation, reason) => failures.inc({ operation, reason }),
    down(message) {
      available.set(0);
      logger.warn(`Redis is unavailable: ${whileDown}; /v1/ready says degraded`, { error: message });
    },
    up() {
      available.set(1);
      logger.info("Redis answers again: rate limits and shared state are back");
    },
  };
}
