// @ts-types="@types/pg"
import pg from "pg";
import { OUTBOX_SIGNAL_CHANNEL, type OutboxSignal } from "./outbox-signal.ts";

/**
 * PostgreSQL: LISTEN on a dedicated connection (a pooled or pooler connection cannot listen).
 * When the connection drops it reconnects with backoff and wakes the listener once, since
 * notifications sent meanwhile are lost.
 */
export function createPostgresSignal(url: string, options: { onError?: (error: unknown) => void } = {}): OutboxSignal {
  return {
    async subscribe(listener) {
      let client: pg.Client | undefined;
      let stopped = false;
      let retryMs = 100;
      let retryTimer: ReturnType<typeof setTimeout> | undefined;

      const connect = async (): Promise<void> => {
        const next = new pg.Client({ connectionString: url, application_name: "storekeep-events" });
        next.on("notification", (message) => {
          if (message.channel === OUTBOX_SIGNAL_CHANNEL) listener();
        });
        next.on("error", (error) => {
          options.onError?.(error);
          reconnect(next);
        });
        next.on("end", () => reconnect(next));
        await next.connect();
        await next.query(`listen ${OUTBOX_SIGNAL_CHANNEL}`);
        client = next;
        retryMs = 100;
      };

      const reconnect = (lost: pg.Client) => {
        if (stopped || client !== lost) return;
        client = undefined;
        lost.end().catch(() => {});
        const attempt = () => {
          retryTimer = undefined;
          if (stopped) return;
          connect()
            .then(listener)
            .catch((error: unknown) => {
              options.onError?.(error);
              retryMs = Math.min(retryMs * 2, 10_000);
              retryTimer = setTimeout(attempt, retryMs);
            });
        };
        retryTimer = setTimeout(attempt, retryMs);
      };

      await connect();
      return async () => {
        stopped = true;
        if (retryTimer) clearTimeout(retryTimer);
        const current = client;
        client = undefined;
        await current?.end().catch(() => {});
      };
    },
  };
}
