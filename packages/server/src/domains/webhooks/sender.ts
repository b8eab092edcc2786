import type { Config } from "../../platform/config.ts";
import type { Db } from "../../platform/db/types.ts";
import type { HostResolver } from "../../platform/dns.ts";
import type { Logger } from "../../platform/logger.ts";
import type { WebhookSender } from "../../platform/webhook-sender.ts";
import { createDispatcherSender } from "./dispatcher.ts";
import { createSvixSender } from "./svix-sender.ts";

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
