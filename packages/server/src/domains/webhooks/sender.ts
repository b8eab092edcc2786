import type { Logger } from "../../http/logger.ts";
import type { Config } from "../../platform/config.ts";
import type { Db } from "../../platform/db/types.ts";
import type { HostResolver } from "../../platform/dns.ts";
import type { EventSignal } from "../../platform/events.ts";
import { createDispatcherSender } from "./dispatcher.ts";
import type { RunningSender } from "./loop.ts";
import { createSvixSender } from "./svix-sender.ts";

export type { RunningSender } from "./loop.ts";

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
  start(options: { signal: EventSignal; idlePollMs?: number; workers?: number }): Promise<RunningSender>;
}

export interface SenderDeps {
  db: Db;
  resolver: HostResolver;
  logger?: Logger;
}

export function createWebhookSender(config: Config, deps: SenderDeps): WebhookSender {
  if (config.svix) {
    return createSvixSender({ db: deps.db, logger: deps.logger, ...config.svix });
  }
  return createDispatcherSender({
    db: deps.db,
    resolver: deps.resolver,
    logger: deps.logger,
    settings: { allowPrivateUrls: config.webhooksAllowPrivateUrls },
  });
}
