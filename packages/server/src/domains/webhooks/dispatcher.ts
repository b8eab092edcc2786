import type { Logger } from "../../http/logger.ts";
import type { Db } from "../../platform/db/types.ts";
import type { HostResolver } from "../../platform/dns.ts";
import type { EventSignal } from "../../platform/events.ts";
import { SignerCache } from "./signing.ts";
import { refuseUrl } from "./url-policy.ts";

/** How the dispatcher sends and retries; every delay is injectable so tests run in milliseconds. */
export interface DispatcherSettings {
  /** Delay before retry n (n = 1..length) after a failed attempt; after the last, the delivery fails. */
  retryScheduleMs: readonly number[];
  /** Each delay is scaled by a random factor in [1 - jitter, 1 + jitter]. */
  jitter: number;
  /** A request that has not answered in this long counts as failed. */
  timeoutMs: number;
  /** Deliveries claimed (and sent concurrently) per round. */
  batchSize: number;
  /** How long a claim keeps other dispatchers off a delivery; must exceed the timeout. */
  leaseMs: number;
  /** An endpoint whose every attempt has failed for this long is disabled. */
  disableAfterMs: number;
  /** WEBHOOKS_ALLOW_PRIVATE_URLS: http and private addresses allowed (local stack only). */
  allowPrivateUrls: boolean;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const DEFAULT_DISPATCHER_SETTINGS: DispatcherSettings = {
  // About 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h: eight attempts over some 28 hours.
  retryScheduleMs: [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR],
  jitter: 0.2,
  timeoutMs: 15 * SECOND,
  batchSize: 50,
  leaseMs: 60 * SECOND,
  disableAfterMs: 24 * HOUR,
  allowPrivateUrls: false,
};

export interface DispatcherDeps {
  db: Db;
  resolver: HostResolver;
  settings?: Partial<DispatcherSettings>;
  fetch?: typeof fetch;
  logger?: Logger;
  /** Shared signer cache (one per long-running dispatcher). */
  signers?: SignerCache;
}

export interface DispatchRound {
  claimed: number;
  delivered: number;
  retrying: number;
  failed: number;
}

interface ClaimedDelivery {
  delivery_id: string;
  claim_token: string;
  attempt: number;
  endpoint_id: string;
  url: string;
  headers: Record<string, string>;
  secrets: string[];
  event_id: string;
  topic: string;
  payload: unknown;
  event_created_at: Date | string;
  [column: string]: unknown;
}

interface Outcome {
  succeeded: boolean;
  statusCode: number | null;
  latencyMs: number;
  responseBody: string | null;
  error: string | null;
}

const BODY_LIMIT = 1024;
const USER_AGENT = "Storekeep-Webhooks/1.0";

export function settingsOf(deps: DispatcherDeps): DispatcherSettings {
  return { ...DEFAULT_DISPATCHER_SETTINGS, ...deps.settings };
}

/** The webhook body: `type`, `id`, `timestamp`, `data` (the event catalogue describes `data`). */
export function webhookBody(event: { id: string; topic: string; payload: unknown; created_at: Date | string }): string {
  const timestamp = event.created_at instanceof Date ? event.created_at : new Date(event.created_at);
  return JSON.stringify({
    type: event.topic,
    id: webhookMessageId(event.id),
    timestamp: timestamp.toISOString(),
    data: event.payload,
  });
}

/** `webhook-id`: stable per event, so a receiver can drop a redelivery it already handled. */
export const webhookMessageId = (eventId: string | number) => `evt_${eventId}`;

/** Delay before the retry after attempt `attempt` (1-based), jittered; null when none is left. */
export function retryDelayMs(settings: DispatcherSettings, attempt: number, random = Math.random): number | null {
  const base = settings.retryScheduleMs[attempt - 1];
  if (base === undefined) return null;
  return Math.max(0, Math.round(base * (1 + settings.jitter * (2 * random() - 1))));
}

/** One round: claim due deliveries (SKIP LOCKED + lease), send them concurrently, record each outcome. */
export async function dispatchRound(deps: DispatcherDeps): Promise<DispatchRound> {
  const settings = settingsOf(deps);
  const signers = deps.signers ?? new SignerCache();
  const { rows } = await deps.db.query<ClaimedDelivery>(
    "select * from private.claim_webhook_deliveries($1, make_interval(secs => $2::double precision / 1000))",
    [settings.batchSize, settings.leaseMs],
  );
  const round: DispatchRound = { claimed: rows.length, delivered: 0, retrying: 0, failed: 0 };
  await Promise.all(
    rows.map(async (delivery) => {
      const outcome = await send(deps, settings, signers, delivery);
      const retryMs = outcome.succeeded ? null : retryDelayMs(settings, delivery.attempt);
      const { rows: recorded } = await deps.db.query<{ status: string | null }>(
        `select private.record_webhook_attempt($1, $2, $3, $4, $5, $6, $7,
           case when $8::double precision is null then null else make_interval(secs => $8::double precision / 1000) end,
           make_interval(secs => $9::double precision / 1000)) as status`,
        [
          delivery.delivery_id,
          delivery.claim_token,
          outcome.succeeded,
          outcome.statusCode,
          Math.round(outcome.latencyMs),
          outcome.responseBody,
          outcome.error,
          retryMs,
          settings.disableAfterMs,
        ],
      );
      const status = recorded[0]?.status;
      if (status === "delivered") round.delivered++;
      else if (status === "failed") round.failed++;
      else round.retrying++;
      if (!outcome.succeeded) {
        deps.logger?.debug("webhook attempt failed", {
          delivery_id: delivery.delivery_id,
          endpoint_id: delivery.endpoint_id,
          attempt: delivery.attempt,
          status_code: outcome.statusCode,
          error: outcome.error,
          status,
        });
      }
    }),
  );
  return round;
}

async function send(
  deps: DispatcherDeps,
  settings: DispatcherSettings,
  signers: SignerCache,
  delivery: ClaimedDelivery,
): Promise<Outcome> {
  const started = performance.now();
  const failed = (error: string): Outcome => ({
    succeeded: false,
    statusCode: null,
    latencyMs: performance.now() - started,
    responseBody: null,
    error,
  });

  const refused = await refuseUrl(delivery.url, { allowPrivate: settings.allowPrivateUrls, resolver: deps.resolver });
  if (refused) return failed(`refused by the URL policy: ${refused}`);
  if (delivery.secrets.length === 0) return failed("the endpoint has no active signing secret");

  const messageId = webhookMessageId(delivery.event_id);
  const body = webhookBody({
    id: delivery.event_id,
    topic: delivery.topic,
    payload: delivery.payload,
    created_at: delivery.event_created_at,
  });
  const now = new Date();
  const headers: Record<string, string> = {
    ...delivery.headers,
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    "webhook-id": messageId,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": signers.signature(delivery.secrets, messageId, now, body),
  };

  try {
    const response = await (deps.fetch ?? fetch)(delivery.url, {
      method: "POST",
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(settings.timeoutMs),
    });
    const responseBody = await readPrefix(response, BODY_LIMIT);
    const succeeded = response.status >= 200 && response.status < 300;
    return {
      succeeded,
      statusCode: response.status,
      latencyMs: performance.now() - started,
      responseBody,
      error: succeeded
        ? null
        : response.status >= 300 && response.status < 400
          ? "redirects are not followed"
          : `HTTP ${response.status}`,
    };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    if (name === "TimeoutError" || name === "AbortError") return failed(`no answer within ${settings.timeoutMs} ms`);
    const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : "";
    return failed(`${error instanceof Error ? error.message : String(error)}${cause}`.slice(0, BODY_LIMIT));
  }
}

/** The first `limit` characters of a response body; the rest is not read. */
async function readPrefix(response: Response, limit: number): Promise<string | null> {
  if (!response.body) return null;
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  try {
    while (text.length < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } catch {
    // a body that breaks off is still an answer; keep what arrived
  } finally {
    reader.cancel().catch(() => {});
  }
  return text.slice(0, limit);
}

/** Rounds until nothing is due or `maxMs` has passed (the scheduled `webhooks.dispatch` job). */
export async function dispatchUntilIdle(deps: DispatcherDeps, maxMs: number): Promise<DispatchRound> {
  const total: DispatchRound = { claimed: 0, delivered: 0, retrying: 0, failed: 0 };
  const deadline = Date.now() + maxMs;
  const signers = deps.signers ?? new SignerCache();
  while (Date.now() < deadline) {
    const round = await dispatchRound({ ...deps, signers });
    total.claimed += round.claimed;
    total.delivered += round.delivered;
    total.retrying += round.retrying;
    total.failed += round.failed;
    if (round.claimed === 0) break;
  }
  return total;
}

export interface RunningDispatcher {
  /** Stops after the current round; resolves when it has. */
  stop(): Promise<void>;
  /** Wakes the loop now (the event signal does this on every commit). */
  wake(): void;
}

/**
 * The continuous dispatcher (local stack, long-running workers): sends while work is due, then
 * sleeps until an event is committed (the signal), the next retry falls due, or `idlePollMs`.
 * Several may run at once, in one process or many: claims never overlap.
 */
export async function startDispatcher(
  deps: DispatcherDeps & { signal: EventSignal; idlePollMs?: number; workers?: number },
): Promise<RunningDispatcher> {
  const idlePollMs = deps.idlePollMs ?? 30_000;
  const signers = deps.signers ?? new SignerCache();
  let stopped = false;
  // Each worker has a wake flag (set while it works, so no wake is lost) and, asleep, a waker.
  const workers = new Set<{ woken: boolean; waker?: () => void }>();
  const wake = () => {
    for (const state of workers) {
      state.woken = true;
      state.waker?.();
    }
  };
  const unsubscribe = await deps.signal.subscribe(wake);

  const worker = async () => {
    const state: { woken: boolean; waker?: () => void } = { woken: false };
    workers.add(state);
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        if (state.woken || stopped) return resolve();
        const timer = setTimeout(() => state.waker?.(), ms);
        state.waker = () => {
          clearTimeout(timer);
          state.waker = undefined;
          resolve();
        };
      });
    let failures = 0;
    while (!stopped) {
      state.woken = false;
      try {
        const round = await dispatchRound({ ...deps, signers });
        failures = 0;
        if (round.claimed > 0) continue;
        const { rows } = await deps.db.query<{ ms: number | null }>(
          "select extract(epoch from private.next_webhook_due() - clock_timestamp())::double precision * 1000 as ms",
        );
        const dueIn = rows[0]?.ms;
        await sleep(dueIn === null || dueIn === undefined ? idlePollMs : Math.min(Math.max(dueIn, 0) + 5, idlePollMs));
      } catch (error) {
        failures++;
        deps.logger?.error("webhook dispatcher round failed", {
          message: error instanceof Error ? error.message : String(error),
        });
        await sleep(Math.min(100 * 2 ** failures, 10_000));
      }
    }
    workers.delete(state);
  };

  const loops = Array.from({ length: deps.workers ?? 1 }, worker);
  return {
    wake,
    async stop() {
      stopped = true;
      wake();
      await Promise.all(loops);
      await unsubscribe();
    },
  };
}
