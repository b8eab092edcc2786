import { createRouter, errorResponse, jsonResponse } from "../../../http/openapi.ts";
import { routesFor } from "../../../http/route.ts";
import type { AnyInboundHandler } from "../../../platform/inbound-handler.ts";
import { InboundResultSchema, SourceParamSchema } from "../schemas.ts";
import { receiveInbound } from "./service.ts";

const { open } = routesFor("webhooks");

/** `POST /webhooks/inbound/{source}`, applying each message with the handler of its source, if any. */
export function createInboundRoutes(inboundHandlers: readonly AnyInboundHandler[]) {
  const handlers = new Map(inboundHandlers.map((handler) => [handler.source, handler]));
  const sources = inboundHandlers.map(
    (handler) => `${handler.source}: ${handler.description[0]?.toLowerCase()}${handler.description.slice(1, -1)}`,
  );

  const receiveInboundWebhookRoute = open({
    operationId: "receiveInboundWebhook",
    method: "post",
    path: "/webhooks/inbound/{source}",
    summary: "Inbound webhook from a configured source (Standard Webhooks signature, no bearer token)",
    description:
      "Verified with the source's secret (webhook-id, webhook-timestamp within 5 minutes, webhook-signature) before " +
      "anything else. A repeated webhook-id is acknowledged and not applied again. " +
      `Sources: ${[...sources, "any other configured source: stored, not applied"].join("; ")}.`,
    request: { params: SourceParamSchema },
    responses: {
      200: jsonResponse("Applied, or a repeat of a message already applied", InboundResultSchema),
      202: jsonResponse("Verified and stored; this source has no handler to apply it", InboundResultSchema),
      401: errorResponse("Bad signature or stale timestamp"),
      404: errorResponse("Unknown source, or the message names an unknown order or sku"),
      409: errorResponse(
        "The message asks for a change its subject's state refuses (such as shipping a pending order)",
      ),
      413: errorResponse("Body over 1 MiB"),
      422: errorResponse("The payload is invalid; nothing was applied"),
    },
  });

  return createRouter().openapi(receiveInboundWebhookRoute, async (c) => {
    const result = await receiveInbound(
      c.var.services.db,
      c.var.services.config.inboundWebhookSecrets,
      c.req.valid("param").source,
      await c.req.text(),
      (name) => c.req.header(name),
      handlers,
    );
    return c.json(result, result.status === "stored" ? 202 : 200);
  });
}
