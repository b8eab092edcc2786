import { createRouter } from "../../http/openapi.ts";
import type { EventType } from "../../platform/event-type.ts";
import type { AnyInboundHandler } from "../../platform/inbound-handler.ts";
import { deliveryRoutes } from "./deliveries/routes.ts";
import { endpointRoutes } from "./endpoints/routes.ts";
import { createEventTypeRoutes } from "./event-types/routes.ts";
import { createInboundRoutes } from "./inbound/routes.ts";

/**
 * Webhooks: outbound endpoints and deliveries, the event catalogue, inbound messages. The event
 * types and the inbound handlers come from the other domains, gathered by the composition root
 * (app.ts), so this domain imports none of them.
 */
export function createWebhookRoutes(options: {
  eventTypes: readonly EventType[];
  inboundHandlers: readonly AnyInboundHandler[];
}) {
  return createRouter()
    .route("/", endpointRoutes)
    .route("/", deliveryRoutes)
    .route("/", createEventTypeRoutes(options.eventTypes))
    .route("/", createInboundRoutes(options.inboundHandlers));
}
