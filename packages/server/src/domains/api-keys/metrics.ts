import type { Config } from "../../platform/config.ts";
import type { Db } from "../../platform/db/types.ts";
import type { Metrics } from "../../platform/metrics.ts";
import { apiKeyAlertCounts } from "./alerts.ts";

const CONDITIONS = ["rotation_due", "unused", "overlap_ending"] as const;

/**
 * `storekeep_api_keys_alerting{condition}`: the keys in each rotation alert condition, counted in SQL
 * at scrape time (the same on every instance). The alert StorekeepApiKeysDueForRotation reads it.
 */
export function registerApiKeyMetrics(metrics: Metrics, db: Db, settings: Config["apiKeys"]): void {
  const alerting = metrics.gauge(
    "storekeep_api_keys_alerting",
    "API keys in each alert condition now: rotation_due (older than API_KEY_MAX_AGE_DAYS), unused (API_KEY_UNUSED_DAYS), overlap_ending (a rotated key that stops working within API_KEY_OVERLAP_WARNING_HOURS)",
    ["condition"],
  );
  metrics.onScrape("api_keys", async () => {
    const counts = await apiKeyAlertCounts(db, settings);
    for (const condition of CONDITIONS) alerting.set({ condition }, Number(counts[condition] ?? 0));
  });
}
