import type { Config } from "../config.ts";
import type { Redactor } from "../redact.ts";
import { type ErrorReporter, NO_REPORTER } from "./reporter.ts";
import { createSentryReporter } from "./sentry.ts";

export type { ErrorContext, ErrorReporter } from "./reporter.ts";

/** Sentry when SENTRY_DSN is set; otherwise errors are only logged. */
export function createErrorReporter(config: Config, redact: Redactor): ErrorReporter {
  if (!config.sentry) return NO_REPORTER;
  return createSentryReporter({ ...config.sentry, redact });
}
