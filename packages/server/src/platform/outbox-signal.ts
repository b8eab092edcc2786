/**
 * "Wake me when events are committed": dispatchers and other outbox consumers sleep on this
 * instead of polling fast. Postgres sends `NOTIFY storekeep_events` from private.emit_event at
 * commit; each engine delivers it its own way (PGlite's listen API, a dedicated pg connection).
 */
export const OUTBOX_SIGNAL_CHANNEL = "storekeep_events";

export interface OutboxSignal {
  /** Calls `listener` soon after an event is committed (may coalesce or over-report, never drop a wake). */
  subscribe(listener: () => void): Promise<() => Promise<void>>;
}

/** The part of PGlite's API used here (kept structural so this file needs no PGlite import). */
export interface ListeningDatabase {
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>;
}

/** PGlite: one in-process database; its own NOTIFYs reach `listen` callbacks after commit. */
export function createListenSignal(database: ListeningDatabase): OutboxSignal {
  return {
    async subscribe(listener) {
      const unlisten = await database.listen(OUTBOX_SIGNAL_CHANNEL, () => listener());
      return () => unlisten();
    },
  };
}

/** The fallback where no notification channel exists: a wake every `intervalMs`. */
export function createPollingSignal(intervalMs: number): OutboxSignal {
  return {
    async subscribe(listener) {
      const timer = setInterval(listener, intervalMs);
      return async () => clearInterval(timer);
    },
  };
}
