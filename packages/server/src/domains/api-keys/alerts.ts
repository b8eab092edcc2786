import type { Config } from "../../platform/config.ts";
import type { Db } from "../../platform/db/types.ts";

type Settings = Config["apiKeys"];

const intervals = (settings: Settings) => [
  `${settings.maxAgeDays} days`,
  `${settings.unusedDays} days`,
  `${settings.overlapWarningHours} hours`,
];

/** Emits the rotation alerts not yet emitted (the api_keys.alerts job); counts by kind. */
export async function emitApiKeyAlerts(db: Db, settings: Settings): Promise<Record<string, number>> {
  const { rows } = await db.query<{ counts: Record<string, number> }>(
    "select private.emit_api_key_alerts($1::interval, $2::interval, $3::interval) as counts",
    intervals(settings),
  );
  return rows[0]?.counts ?? {};
}

/** How many keys are in each alert condition now (rotation_due, unused, overlap_ending). */
export async function apiKeyAlertCounts(db: Db, settings: Settings): Promise<Record<string, number>> {
  const { rows } = await db.query<{ counts: Record<string, number> }>(
    "select private.api_key_warnings($1::interval, $2::interval, $3::interval) as counts",
    intervals(settings),
  );
  return rows[0]?.counts ?? {};
}

/** The /v1/ready warnings: one sentence per alert condition that holds for some key. */
export async function apiKeyWarnings(db: Db, settings: Settings): Promise<string[]> {
  const counts = await apiKeyAlertCounts(db, settings);
  return [
    counts.rotation_due ? `API keys older than ${settings.maxAgeDays} days (rotate them): ${counts.rotation_due}` : "",
    counts.unused ? `API keys unused for ${settings.unusedDays} days or more: ${counts.unused}` : "",
    counts.overlap_ending
      ? `Rotated API keys that stop working within ${settings.overlapWarningHours} hours: ${counts.overlap_ending}`
      : "",
  ].filter(Boolean);
}
