import type { Readiness } from "./schemas.ts";

const CHECK_TIMEOUT_MS = 2_000;

/**
 * Runs every readiness check at once, each bounded in time. A required dependency down makes the
 * whole unavailable (503); an optional one down (Redis: the API serves on without it) makes it
 * degraded, still 200. Warnings (API keys due for rotation, ...) are listed without changing it.
 */
export async function checkReadiness(
  checks: Record<string, () => Promise<void>>,
  optional: Record<string, () => Promise<void>> = {},
  warningSources: Record<string, () => Promise<string[]>> = {},
): Promise<Readiness> {
  // Every check starts now, so one timer bounds them all.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  const bounded = <T>(pending: Promise<T>) => Promise.race([pending, deadline]);
  try {
    // Warnings never change the status; one that cannot be read (its database down) is left out.
    const warnings = Promise.all(Object.values(warningSources).map((source) => bounded(source()).catch(() => [])));
    const entries = await Promise.all(
      [...Object.entries(checks), ...Object.entries(optional)].map(async ([name, check]) => {
        const started = performance.now();
        try {
          await bounded(check());
          return [name, { status: "up" as const, latency_ms: elapsed(started) }] as const;
        } catch (error) {
          const message = error instanceof Error ? error.message : "check failed";
          return [name, { status: "down" as const, latency_ms: elapsed(started), error: message }] as const;
        }
      }),
    );
    const down = entries.filter(([, result]) => result.status === "down").map(([name]) => name);
    const status = down.some((name) => name in checks) ? "unavailable" : down.length ? "degraded" : "ready";
    return { status, checks: Object.fromEntries(entries), warnings: (await warnings).flat() };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A warning source read at most once per `ms`: probes ask for /ready every few seconds on every
 * instance, and what the warnings count changes over hours and days, so a probe costs one
 * `select 1` and not the warnings' queries too. Callers meanwhile share the last answer (or the
 * read in flight); a failed read is not kept.
 */
export function readAtMostEvery(ms: number, source: () => Promise<string[]>): () => Promise<string[]> {
  let last: { at: number; answer: Promise<string[]> } | undefined;
  return () => {
    const now = performance.now();
    if (last && now - last.at < ms) return last.answer;
    const answer = source();
    const read = { at: now, answer };
    last = read;
    answer.catch(() => {
      if (last === read) last = undefined;
    });
    return answer;
  };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}
