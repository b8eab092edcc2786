import type { Db } from "../../platform/db/types.ts";
import type { HostResolver } from "../../platform/dns.ts";
import type { Logger } from "../../platform/logger.ts";
import type { OutboxSignal } from "../../platform/outbox-signal.ts";
import type { RunningSender, WebhookSender } from "../../platform/webhook-sender.ts";
import { runContinuously } from "./loop.ts";
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
  /** Sends in flight at once per dispatcher loop; it claims more as half of them finish. */
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
// How long one round keeps claiming more while deliveries keep coming.
const ROUND_MS = 1_000;
const USER_AGENT = "Storekeep-Webhooks/1.0";

export function settingsOf(deps: DispatcherDeps): DispatcherSettings {
  return { ...DEFAULT_DISPATCHER_SETTINGS, ...deps.settings };
}

export interface OutboxEvent {
  id: string;
  topic: string;
  payload: unknown;
  created_at: Date | string;
}

/** The webhook payload: `type`, `id`, `timestamp`, `data` (the event catalogue describes `data`). */
export function webhookPayload(event: OutboxEvent): { type: string; id: string; timestamp: string; data: unknown } {
  const timestamp = event.created_at instanceof Date ? event.created_at : new Date(event.created_at);
  return {
    type: event.topic,
    id: webhookMessageId(event.id),
    timestamp: timestamp.toISOString(),
    data: event.payload,
  };
}

/** The webhook body as sent: the payload as JSON. */
export function webhookBody(event: OutboxEvent): string {
  return JSON.stringify(webhookPayload(event));
}

/** `webhook-id`: stable per event, so a receiver can drop a redelivery it already handled. */
export const webhookMessageId = (eventId: string | number) => `evt_${eventId}`;

/** Delay before the retry after attempt `attempt` (1-based), jittered; null when none is left. */
export function retryDelayMs(settings: DispatcherSettings, attempt: number, random = Math.random): number | null {
  const base = settings.retryScheduleMs[attempt - 1];
  if (base === undefined) return null;
  return Math.max(0, Math.round(base * (1 + settings.jitter * (2 * random() - 1))));
}

/**
 * One round: claim due deliveries (SKIP LOCKED + lease) and send them, keeping up to `batchSize`
 * in flight and claiming more whenever half of them have finished, so no send waits for the
 * slowest of its batch. Outcomes are recorded in groups as they arrive (one statement per group,
 * private.record_webhook_attempts). The round stops claiming when a claim comes up short or after
 * about a second (so a stop or a drain's deadline is heard under steady load), and ends when every
 * outcome is recorded.
 */
export async function dispatchRound(deps: DispatcherDeps): Promise<DispatchRound> {
  const settings = settingsOf(deps);
  const signers = deps.signers ?? new SignerCache();
  const round: DispatchRound = { claimed: 0, delivered: 0, retrying: 0, failed: 0 };
  const recorder = new OutcomeRecorder(deps, settings, round);
  const inFlight = new Set<Promise<void>>();
  const refillBelow = Math.max(1, Math.ceil(settings.batchSize / 2));
  const claimUntil = Date.now() + ROUND_MS;
  let exhausted = false;
  try {
    while (!exhausted && Date.now() < claimUntil) {
      const wanted = settings.batchSize - inFlight.size;
      const { rows } = await deps.db.query<ClaimedDelivery>(
        "select * from private.claim_webhook_deliveries($1, make_interval(secs => $2::double precision / 1000))",
        [wanted, settings.leaseMs],
      );
      round.claimed += rows.length;
      exhausted = rows.length < wanted;
      for (const delivery of rows) {
        const sending: Promise<void> = send(deps, settings, signers, delivery)
          .catch(
            (error: unknown): Outcome => ({
              succeeded: false,
              statusCode: null,
              latencyMs: 0,
              responseBody: null,
              error: String(error).slice(0, BODY_LIMIT),
            }),
          )
          .then((outcome) => recorder.add(delivery, outcome))
          .finally(() => inFlight.delete(sending));
        inFlight.add(sending);
      }
      while (!exhausted && inFlight.size >= refillBelow) await Promise.race(inFlight);
    }
  } finally {
    await Promise.all(inFlight);
    await recorder.settled();
  }
  return round;
}

/** An outcome already sent is worth a few tries to record (a lost connection is over in moments). */
async function retrying<T>(work: () => Promise<T>, delaysMs: readonly number[] = [100, 500, 2_000]): Promise<T> {
  for (const delayMs of delaysMs) {
    try {
      return await work();
    } catch {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
  return work();
}

interface PendingOutcome {
  delivery: ClaimedDelivery;
  outcome: Outcome;
}

/**
 * Group commit for attempt outcomes: the first outcome is recorded at once; those arriving while a
 * statement runs are recorded together by the next one.
 */
class OutcomeRecorder {
  #queue: PendingOutcome[] = [];
  #flushing: Promise<void> | undefined;
  #error: unknown;

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly settings: DispatcherSettings,
    private readonly round: DispatchRound,
  ) {}

  add(delivery: ClaimedDelivery, outcome: Outcome): void {
    this.#queue.push({ delivery, outcome });
    this.#flushing ??= this.#drain();
  }

  /** Resolves when everything added is recorded; throws the first recording error. */
  async settled(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#error !== undefined) throw this.#error;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0);
      try {
        await retrying(() => this.#record(group));
      } catch (error) {
        // The group's deliveries stay leased and are sent again when the lease ends; the next claim
        // logs these attempts as lost.
        this.#error ??= error;
      }
    }
    this.#flushing = undefined;
  }

  async #record(group: PendingOutcome[]): Promise<void> {
    const outcomes = group.map(({ delivery, outcome }) => ({
      delivery: delivery.delivery_id,
      token: delivery.claim_token,
      attempt: delivery.attempt,
      succeeded: outcome.succeeded,
      status_code: outcome.statusCode,
      latency_ms: Math.round(outcome.latencyMs),
      response_body: outcome.responseBody,
      error: outcome.error,
      retry_after_ms: outcome.succeeded ? null : retryDelayMs(this.settings, delivery.attempt),
    }));
    const { rows } = await this.deps.db.query<{ delivery_id: string; status: string }>(
      "select delivery_id::text, status from private.record_webhook_attempts($1::jsonb, make_interval(secs => $2::double precision / 1000))",
      [JSON.stringify(outcomes), this.settings.disableAfterMs],
    );
    const statuses = new Map(rows.map((row) => [row.delivery_id, row.status]));
    for (const { delivery, outcome } of group) {
      const status = statuses.get(String(delivery.delivery_id));
      if (status === "delivered") this.round.delivered++;
      else if (status === "failed") this.round.failed++;
      else if (status === "pending") this.round.retrying++;
      if (!outcome.succeeded) {
        this.deps.logger?.debug("webhook attempt failed", {
          delivery_id: delivery.delivery_id,
          endpoint_id: delivery.endpoint_id,
          attempt: delivery.attempt,
          status_code: outcome.statusCode,
          error: outcome.error,
          status,
        });
      }
    }
  }
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

export type RunningDispatcher = RunningSender;

/**
 * The continuous dispatcher (local stack, long-running workers): sends while work is due, then
 * sleeps until an event is committed (the signal), the next retry falls due, or `idlePollMs`.
 * Several may run at once, in one process or many: claims never overlap.
 */
export async function startDispatcher(
  deps: DispatcherDeps & { signal: OutboxSignal; idlePollMs?: number; workers?: number },
): Promise<RunningDispatcher> {
  const signers = deps.signers ?? new SignerCache();
  return runContinuously({
    name: "webhook dispatcher",
    signal: deps.signal,
    idlePollMs: deps.idlePollMs ?? 30_000,
    workers: deps.workers,
    logger: deps.logger,
    async round() {
      const round = await dispatchRound({ ...deps, signers });
      if (round.claimed > 0) return { again: true };
      const { rows } = await deps.db.query<{ ms: number | null }>(
        "select extract(epoch from private.next_webhook_due() - clock_timestamp())::double precision * 1000 as ms",
      );
      const dueIn = rows[0]?.ms;
      return { again: false, sleepMs: dueIn === null || dueIn === undefined ? undefined : Math.max(dueIn, 0) + 5 };
    },
  });
}

/** The built-in dispatcher as the outbound webhook sender: endpoints are managed through our API. */
export function createDispatcherSender(deps: DispatcherDeps): WebhookSender {
  const signers = deps.signers ?? new SignerCache();
  return {
    endpointsManagedElsewhere: null,
    async drain(maxMs) {
      return { ...(await dispatchUntilIdle({ ...deps, signers }, maxMs)) };
    },
    start: (options) => startDispatcher({ ...deps, signers, ...options }),
  };
}
