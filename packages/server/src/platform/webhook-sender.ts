import type { OutboxSignal } from "./outbox-signal.ts";

/** A continuously running sender (the built-in dispatcher or the Svix forwarder). */
export interface RunningSender {
  /** Stops after the current round; resolves when it has. */
  stop(): Promise<void>;
  /** Wakes the loop now (the event signal does this on every commit). */
  wake(): void;
}

/**
 * Where outbound events go. Two implementations, chosen once from configuration in createServices:
 * the built-in dispatcher (webhook_deliveries, signed POSTs to our endpoints) and, with
 * SVIX_API_KEY set, Svix Cloud (the outbox forwarded to a Svix application). The rest of the code
 * only runs it (a scheduled drain or a continuous loop) and never asks which one it is.
 */
export interface WebhookSender {
  /**
   * Null when endpoints are managed through our endpoint API; otherwise where they are managed,
   * as a sentence the endpoint API answers with (409).
   */
  readonly endpointsManagedElsewhere: string | null;
  /** Sends what is due until nothing is or `maxMs` has passed (the scheduled `webhooks.dispatch` job). */
  drain(maxMs: number): Promise<Record<string, number>>;
  /** Sends continuously, woken by `signal` on every commit (local stack, long-running workers). */
  start(options: { signal: OutboxSignal; idlePollMs?: number; workers?: number }): Promise<RunningSender>;
}
