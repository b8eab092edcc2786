import type { z } from "@hono/zod-openapi";
import type { Queryable } from "./db/types.ts";

/**
 * What an inbound webhook source applies. A domain that accepts messages from another system
 * exports its handler from `domains/<name>/inbound.ts`; the composition root hands every handler to
 * the webhooks routes, which verify, de-duplicate and validate before calling `apply`.
 */
export interface InboundHandler<T = unknown> {
  source: string;
  description: string;
  payload: z.ZodType<T>;
  /** Runs inside the transaction that recorded the message id, as the service role. */
  apply(tx: Queryable, payload: T, message: { id: string; source: string }): Promise<Record<string, unknown>>;
}

/** A handler of any payload type, as the inbound pipeline holds them (it validates with `payload` first). */
export type AnyInboundHandler = InboundHandler<never>;

/** Declares a handler with its payload type checked against its schema, ready for the list the root gathers. */
export function inboundHandler<T>(handler: InboundHandler<T>): AnyInboundHandler {
  return handler as unknown as AnyInboundHandler;
}
