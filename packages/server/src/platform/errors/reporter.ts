/** What an error report says about where the error happened. Never tokens, bodies or headers. */
export interface ErrorContext {
  requestId?: string;
  /** The route template (`/api/v1/products/:id`), never the raw path. */
  route?: string;
  method?: string;
  callerKind?: string;
  /** The user id or API key id; absent for anonymous callers. */
  callerId?: string;
  /** A scheduled job's name, for errors outside a request. */
  job?: string;
}

/** Where unexpected errors go besides the log: Sentry when SENTRY_DSN is set, nowhere otherwise. */
export interface ErrorReporter {
  readonly enabled: boolean;
  /** Queues a report; never throws, never waits for the network. */
  capture(error: unknown, context: ErrorContext): void;
  /** Resolves when queued reports are sent (true) or the timeout passed (false). */
  flush(timeoutMs?: number): Promise<boolean>;
}

export const NO_REPORTER: ErrorReporter = {
  enabled: false,
  capture() {},
  flush: async () => true,
};
