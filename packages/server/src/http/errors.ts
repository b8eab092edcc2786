import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { DbUnavailable } from "../platform/db/types.ts";
import { errorFields } from "../platform/logger.ts";
import { constraintFieldError, type Located, locateFieldErrors } from "./constraints.ts";
import type { AppEnv } from "./env.ts";
import { callerFields } from "./middleware/request-log.ts";
import { type FieldError, Problem, type ProblemCode, problemResponse } from "./problems.ts";
import { routeTemplate } from "./route-template.ts";
import { businessDetail, isSqlError, sqlStateProblems } from "./sql-errors.ts";

/** zod issues as RFC 9457 field errors, each naming where it was (`body`, `query`, `path`, `header`). */
export function fieldErrors(error: ZodError, location?: string): FieldError[] {
  const fieldOf = (path: PropertyKey[]) =>
    [location === "json" ? "body" : location, ...path.map(String)].filter(Boolean).join(".");
  return error.issues.flatMap((issue) =>
    // A field the schema does not know is itself the field at fault, one error each.
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ field: fieldOf([...issue.path, key]), message: "unknown field" }))
      : [{ field: fieldOf(issue.path), message: issue.message }],
  );
}

/** The single place any thrown error becomes an HTTP answer. */
export function handleError(error: unknown, c: Context<AppEnv>): Response {
  if (error instanceof Problem) return problemResponse(c, error.code, error.message, error.extensions);

  if (error instanceof DbUnavailable) {
    c.var.services?.logger.warn("database unavailable", {
      request_id: c.var.requestId,
      message: error.message,
      cause: error.cause instanceof Error ? error.cause.message : undefined,
    });
    return problemResponse(c, "unavailable", "The database is unavailable for a moment; retry the request.");
  }

  if (error instanceof HTTPException) {
    const code = httpExceptionCode(error.status);
    if (code) return problemResponse(c, code, error.message || undefined);
  }

  if (isSqlError(error)) {
    const code: ProblemCode | undefined = sqlStateProblems[error.code];
    if (code) {
      const { rowPath } = error as Located;
      if (error.code.startsWith("P0")) {
        const extensions = businessDetail(error);
        if (extensions.errors) extensions.errors = locateFieldErrors(extensions.errors, rowPath);
        return problemResponse(c, code, error.message, extensions);
      }
      const rule = error.constraint ? c.var.constraints?.[error.constraint] : undefined;
      if (rule) return problemResponse(c, code, rule.message, { errors: [constraintFieldError(rule, rowPath)] });
      return problemResponse(c, code, describeStandardSqlError(error.code, error.constraint));
    }
  }

  reportUnexpected(error, c);
  return problemResponse(c, "internal", "An unexpected error occurred; quote the request id when reporting it.");
}

/** A 500: logged with its stack (redacted by the logger) and reported (Sentry when configured). */
function reportUnexpected(error: unknown, c: Context<AppEnv>): void {
  const services = c.var.services;
  if (!services) return;
  const caller = callerFields(c);
  const route = routeTemplate(c);
  services.logger.error("unhandled error", {
    request_id: c.var.requestId,
    route,
    method: c.req.method,
    ...caller,
    ...errorFields(error),
    ...(isSqlError(error) ? { sqlstate: error.code } : {}),
  });
  services.reporter.capture(error, {
    requestId: c.var.requestId,
    route,
    method: c.req.method,
    callerKind: caller.caller_kind,
    callerId: caller.caller_id,
  });
}

function httpExceptionCode(status: number): ProblemCode | undefined {
  const byStatus: Record<number, ProblemCode> = {
    400: "malformed-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
  };
  return byStatus[status];
}

function describeStandardSqlError(sqlstate: string, constraint: string | undefined): string {
  const about = constraint ? ` (${constraint})` : "";
  switch (sqlstate) {
    case "23505":
      return `a record with the same unique value already exists${about}`;
    case "23503":
      return `a referenced record does not exist${about}`;
    case "23514":
      return `a value breaks a rule${about}`;
    case "42501":
      return "the caller may not do this";
    case "40001":
    case "40P01":
      return "the request collided with a concurrent one; retry it";
    case "55P03":
      return "data the request needs is locked by other work; retry shortly";
    case "57014":
      return "the database did not finish in time; retry shortly";
    default:
      return "a value is not valid";
  }
}
