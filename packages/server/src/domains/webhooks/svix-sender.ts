import { ApiException, Svix } from "svix";
import type { Db } from "../../platform/db/types.ts";
import type { Logger } from "../../platform/logger.ts";
import type { WebhookSender } from "../../platform/webhook-sender.ts";
import { webhookMessageId, webhookPayload } from "./dispatcher.ts";
import { runContinuously } from "./loop.ts";

export interface SvixSenderOptions {
  db: Db;
  /** SVIX_API_KEY. */
  apiKey: string;
  /** SVIX_SERVER_URL: a self-hosted Svix server (or a test double); otherwise Svix Cloud by the key's region. */
  serverUrl?: string;
  /** SVIX_APP_UID: the Svix application this installation's events go to, created on first use. */
  appUid: string;
  /** The application's name when it is created. */
  appName?: string;
  /** Events read from the outbox (and sent, in order) per transaction. */
  batchSize?: number;
  /** How long one Svix request may take. */
  requestTimeoutMs?: number;
  /** The Svix client's own retries of a 5xx or network error, before a batch gives up. */
  retryScheduleMs?: number[];
  logger?: Logger;
}

interface CursorRow {
  transaction_id: string;
  event_id: string;
  [column: string]: unknown;
}

interface EventRow {
  transaction_id: string;
  id: string;
  topic: string;
  payload: unknown;
  created_at: Date | string;
  [column: string]: unknown;
}

export interface SvixBatch {
  /** Events Svix accepted in this batch (or already had: a resend after a crash). */
  sent: number;
  /** Events the cursor moved past (including `webhook.test` pings, which are not forwarded). */
  advanced: number;
  /** Whether a full batch was read, so more may be waiting. */
  more: boolean;
  /**
   * Whether committed events wait behind a transaction still running (anywhere in the cluster: the
   * outbox never lets a reader pass one). No commit signal announces when that one ends, so a
   * continuous runner looks again shortly.
   */
  heldBack: boolean;
  /** False when another runner holds the cursor. */
  claimed: boolean;
}

// How soon a continuous runner looks again when events wait behind a running transaction.
const HELD_BACK_POLL_MS = 50;

// `webhook.test` pings are addressed to one of our own endpoints; Svix has its own test sends.
const NOT_FORWARDED = new Set(["webhook.test"]);

/**
 * Svix Cloud mode: the outbox forwarded to one Svix application, which owns endpoints, retries and
 * signing. Exactly the topics and payloads (`type`, `id`, `timestamp`, `data`) of the built-in
 * dispatcher; `eventId` is our event id, so Svix drops a resend it already has.
 *
 * Nothing is missed: events are read in (transaction_id, id) order from a cursor in
 * private.svix_outbox_cursors (private.events_after never passes a transaction still running);
 * the cursor row is locked FOR UPDATE SKIP LOCKED, so two runners never send the same events;
 * it advances, in the same transaction, only past the events Svix accepted.
 */
export function createSvixSender(options: SvixSenderOptions): WebhookSender {
  const { db, appUid } = options;
  const batchSize = options.batchSize ?? 100;
  const svix = new Svix(options.apiKey, {
    serverUrl: options.serverUrl,
    requestTimeout: options.requestTimeoutMs ?? 15_000,
    ...(options.retryScheduleMs ? { retryScheduleInMs: options.retryScheduleMs } : {}),
  });

  let app: Promise<string> | undefined;
  const appId = () => {
    app ??= svix.application
      .getOrCreate({ name: options.appName ?? "Storekeep", uid: appUid }, { idempotencyKey: `storekeep-app-${appUid}` })
      .then((created) => created.id)
      .catch((error: unknown) => {
        app = undefined; // ask again next time
        throw error;
      });
    return app;
  };

  async function forward(svixAppId: string, event: EventRow): Promise<void> {
    const eventId = webhookMessageId(event.id);
    try {
      await svix.message.create(
        svixAppId,
        { eventType: event.topic, eventId, payload: webhookPayload(event) },
        { idempotencyKey: `storekeep-${appUid}-${eventId}` },
      );
    } catch (error) {
      // 409: Svix already has a message with this eventId (sent before a crash): nothing to do.
      if (error instanceof ApiException && error.code === 409) return;
      throw error;
    }
  }

  /** One transaction: lock the cursor, send the next events in order, advance past those accepted. */
  async function sendBatch(): Promise<SvixBatch> {
    const svixAppId = await appId();
    let failure: unknown;
    const batch = await db.transaction(async (tx): Promise<SvixBatch> => {
      await tx.query("insert into private.svix_outbox_cursors (app_uid) values ($1) on conflict (app_uid) do nothing", [
        appUid,
      ]);
      const { rows: cursors } = await tx.query<CursorRow>(
        `select transaction_id::text, event_id::text from private.svix_outbox_cursors
         where app_uid = $1 for update skip locked`,
        [appUid],
      );
      const cursor = cursors[0];
      if (!cursor) return { sent: 0, advanced: 0, more: false, heldBack: false, claimed: false };
      const { rows: events } = await tx.query<EventRow>(
        `select transaction_id::text, id::text, topic, payload, created_at
         from private.events_after($1::xid8, $2::bigint, $3)`,
        [cursor.transaction_id, cursor.event_id, batchSize],
      );
      let last: EventRow | undefined;
      let sent = 0;
      let advanced = 0;
      for (const event of events) {
        if (!NOT_FORWARDED.has(event.topic)) {
          try {
            await forward(svixAppId, event);
          } catch (error) {
            failure = error;
            break;
          }
          sent++;
        }
        last = event;
        advanced++;
      }
      if (last) {
        await tx.query(
          `update private.svix_outbox_cursors
           set transaction_id = $2::xid8, event_id = $3::bigint, sent = sent + $4
           where app_uid = $1`,
          [appUid, last.transaction_id, last.id, sent],
        );
      }
      const more = events.length === batchSize;
      let heldBack = false;
      if (!more && failure === undefined) {
        const position = last ?? { transaction_id: cursor.transaction_id, id: cursor.event_id };
        const { rows: waiting } = await tx.query<{ held_back: boolean }>(
          `select exists (select 1 from private.events e where (e.transaction_id, e.id) > ($1::xid8, $2::bigint)) as held_back`,
          [position.transaction_id, position.id],
        );
        heldBack = waiting[0]?.held_back === true;
      }
      return { sent, advanced, more, heldBack, claimed: true };
    });
    // Thrown after the commit, so the events Svix accepted before the failure stay sent.
    if (failure !== undefined) throw failure;
    return batch;
  }

  return {
    endpointsManagedElsewhere:
      `Webhook endpoints are managed in Svix (application "${appUid}"): SVIX_API_KEY is set, so events ` +
      "are sent through Svix, which owns endpoints, secrets, retries and delivery logs. Use the Svix " +
      "dashboard or App Portal.",
    async drain(maxMs) {
      const deadline = Date.now() + maxMs;
      const total = { batches: 0, sent: 0, advanced: 0, held_back: 0 };
      while (Date.now() < deadline) {
        const batch = await sendBatch();
        total.batches++;
        total.sent += batch.sent;
        total.advanced += batch.advanced;
        // Events held back by a running transaction are left to the next run.
        total.held_back = batch.heldBack ? 1 : 0;
        if (!batch.more) break;
      }
      return total;
    },
    start: (run) =>
      runContinuously({
        name: "svix sender",
        signal: run.signal,
        idlePollMs: run.idlePollMs ?? 30_000,
        workers: run.workers,
        logger: options.logger,
        async round() {
          const batch = await sendBatch();
          if (batch.more) return { again: true };
          return { again: false, sleepMs: batch.heldBack ? HELD_BACK_POLL_MS : undefined };
        },
      }),
  };
}
