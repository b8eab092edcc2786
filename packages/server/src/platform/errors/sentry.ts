import { createStackParser, createTransport, type Event, Scope } from "@sentry/core";
import { nodeStackLineParser, ServerRuntimeClient } from "@sentry/core/server";
import { inBackground } from "../background.ts";
import type { Redactor } from "../redact.ts";
import type { ErrorContext, ErrorReporter } from "./reporter.ts";

export interface SentryOptions {
  dsn: string;
  environment?: string;
  /** Cleans every string of an event before it leaves (messages, stack lines, tags). */
  redact: Redactor;
}

/**
 * Reports errors to Sentry with `@sentry/core` alone: web-standard `fetch` for the transport and V8
 * stack parsing, so the same code runs on Deno (the edge function) and Node. No integrations, no
 * global hub: nothing is captured that this reporter was not handed, and nothing about the request
 * (headers, cookies, bodies, IPs) but the context fields.
 */
export function createSentryReporter(options: SentryOptions): ErrorReporter {
  const client = new ServerRuntimeClient({
    dsn: options.dsn,
    environment: options.environment,
    integrations: [],
    sendDefaultPii: false,
    stackParser: createStackParser(nodeStackLineParser()),
    platform: "javascript",
    runtime: { name: "Deno" in globalThis ? "deno" : "node" },
    beforeSend: (event) => scrub(event, options.redact),
    transport: (transportOptions) =>
      createTransport(transportOptions, async (request) => {
        const body = typeof request.body === "string" ? request.body : new Uint8Array(request.body);
        const response = await fetch(transportOptions.url, {
          method: "POST",
          body,
          headers: transportOptions.headers,
          signal: AbortSignal.timeout(10_000),
        });
        await response.body?.cancel();
        return {
          statusCode: response.status,
          headers: {
            "x-sentry-rate-limits": response.headers.get("X-Sentry-Rate-Limits"),
            "retry-after": response.headers.get("Retry-After"),
          },
        };
      }),
  });
  client.init();

  return {
    enabled: true,
    capture(error, context) {
      const scope = new Scope();
      scope.setTags(tags(context));
      if (context.callerId) scope.setUser({ id: context.callerId });
      client.captureException(error, { mechanism: { type: "storekeep", handled: false } }, scope);
      // An edge function's isolate may be frozen once the response is sent: keep it until sent.
      inBackground(Promise.resolve(client.flush(2_000)));
    },
    flush: async (timeoutMs = 2_000) => client.flush(timeoutMs),
  };
}

function tags(context: ErrorContext): Record<string, string> {
  const entries = {
    request_id: context.requestId,
    route: context.route,
    method: context.method,
    caller_kind: context.callerKind,
    job: context.job,
  };
  return Object.fromEntries(Object.entries(entries).filter((entry): entry is [string, string] => !!entry[1]));
}

/** Redacts every string in the event in place (events are plain JSON-like data). */
function scrub<T extends Event>(event: T, redact: Redactor): T {
  const clean = (value: unknown): void => {
    if (!value || typeof value !== "object") return;
    for (const [key, inner] of Object.entries(value)) {
      if (typeof inner === "string") Reflect.set(value, key, redact(inner));
      else clean(inner);
    }
  };
  clean(event);
  return event;
}
