// The local Realtime server's feed: it polls two append-only tables in an order no later commit
// can overtake (transaction id, then id, only below the oldest running transaction), like
// private.events_after does for the outbox:
//   storekeep_local.changes  row changes of published tables (packages/local/sql/realtime-feed.sql)
//   realtime.messages        Broadcast from Database (realtime.send)
// Polling rather than LISTEN: a NOTIFY per writing transaction would serialise every commit on
// Postgres's global notify lock (bench/realtime measures what the poll costs in latency).
import { readFile } from "node:fs/promises";
import type { Db } from "../../../server/src/platform/db/types.ts";
import type { Change, ChangeType } from "./filters.ts";

export const FEED_FILE = new URL("../../sql/realtime-feed.sql", import.meta.url).pathname;

export interface FeedChange extends Change {
  commit_timestamp: string;
}

export interface FeedMessage {
  topic: string;
  event: string;
  payload: unknown;
  private: boolean;
}

export interface FeedHandlers {
  changes(changes: FeedChange[]): Promise<void>;
  messages(messages: FeedMessage[]): Promise<void>;
  error(error: unknown): void;
}

interface Position {
  transactionId: string;
  id: string;
}

const BATCH = 1000;
const RETENTION = "5 minutes";

/** Installs the capture triggers (idempotent) and polls from the current end of both tables. */
export async function startFeed(db: Db, handlers: FeedHandlers, options: { intervalMs?: number } = {}) {
  await db.exec(await readFile(FEED_FILE, "utf8"));
  const intervalMs = options.intervalMs ?? 20;
  let changesAt = await head(db, "storekeep_local.changes");
  let messagesAt = await head(db, "realtime.messages");
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastPrune = Date.now();
  let running: Promise<void> = Promise.resolve();

  const tick = async () => {
    const changes = await db.query<{
      transaction_id: string;
      id: string;
      schema_name: string;
      table_name: string;
      type: ChangeType;
      record: Record<string, unknown> | null;
      old_record: Record<string, unknown> | null;
      commit_timestamp: Date | string;
    }>(
      `select transaction_id::text, id::text, schema_name, table_name, type, record, old_record, commit_timestamp
       from storekeep_local.changes c
       where (c.transaction_id, c.id) > ($1::xid8, $2::bigint) and c.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       order by c.transaction_id, c.id limit ${BATCH}`,
      [changesAt.transactionId, changesAt.id],
    );
    const last = changes.rows.at(-1);
    if (last) {
      changesAt = { transactionId: last.transaction_id, id: last.id };
      await handlers.changes(
        changes.rows.map((row) => ({
          schema: row.schema_name,
          table: row.table_name,
          type: row.type,
          record: row.record,
          old_record: row.old_record,
          commit_timestamp: new Date(row.commit_timestamp).toISOString(),
        })),
      );
    }
    const messages = await db.query<{
      transaction_id: string;
      id: string;
      topic: string;
      event: string;
      payload: unknown;
      private: boolean;
    }>(
      `select transaction_id::text, id::text, topic, event, payload, coalesce(private, false) as private
       from realtime.messages m
       where (m.transaction_id, m.id) > ($1::xid8, $2::bigint) and m.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
         and m.extension = 'broadcast'
       order by m.transaction_id, m.id limit ${BATCH}`,
      [messagesAt.transactionId, messagesAt.id],
    );
    const lastMessage = messages.rows.at(-1);
    if (lastMessage) {
      messagesAt = { transactionId: lastMessage.transaction_id, id: lastMessage.id };
      await handlers.messages(messages.rows);
    }
    if (Date.now() - lastPrune > 30_000) {
      lastPrune = Date.now();
      await db.query(`delete from storekeep_local.changes where commit_timestamp < now() - interval '${RETENTION}'`);
      await db.query(`delete from realtime.messages where inserted_at < now() - interval '${RETENTION}'`);
    }
    return changes.rows.length === BATCH || messages.rows.length === BATCH;
  };

  const loop = () => {
    if (stopped) return;
    running = tick()
      .then((more) => {
        if (!stopped) timer = setTimeout(loop, more ? 0 : intervalMs);
      })
      .catch((error: unknown) => {
        handlers.error(error);
        if (!stopped) timer = setTimeout(loop, 1000);
      });
  };
  loop();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await running.catch(() => {});
    },
  };
}

async function head(db: Db, table: string): Promise<Position> {
  const { rows } = await db.query<{ transaction_id: string | null; id: string | null }>(
    // Qualified: unqualified names in ORDER BY would sort the ::text output columns.
    `select t.transaction_id::text, t.id::text from ${table} t order by t.transaction_id desc, t.id desc limit 1`,
  );
  return { transactionId: rows[0]?.transaction_id ?? "0", id: rows[0]?.id ?? "0" };
}
