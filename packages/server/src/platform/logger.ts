import type { Redactor } from "./redact.ts";

export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
}

export interface LoggerOptions {
  /** Where each line goes (default: stdout). */
  write?: (line: string) => void;
  /** Applied to every string in a line, the message included (see platform/redact.ts). */
  redact?: Redactor;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

// A field whose name says it holds a credential is never written, whatever it holds.
const SECRET_FIELD = /password|passwd|secret|token|authorization|cookie|api[_-]?key|signature/i;

/** One JSON object per line on stdout; callers pass the request id in `fields`. */
export function createLogger(level: LogLevel, options: LoggerOptions = {}): Logger {
  const write = options.write ?? ((line: string) => console.log(line));
  const redact = options.redact;
  const replacer = redact
    ? (key: string, value: unknown) => {
        if (key && SECRET_FIELD.test(key) && value != null && value !== "") return "[redacted]";
        return typeof value === "string" ? redact(value) : value;
      }
    : undefined;
  const emit =
    (at: Exclude<LogLevel, "silent">) =>
    (msg: string, fields: Fields = {}) => {
      if (ORDER[at] < ORDER[level]) return;
      write(JSON.stringify({ time: new Date().toISOString(), level: at, msg, ...fields }, replacer));
    };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/** An error as log fields: its name, message and stack (the logger's redactor cleans both). */
export function errorFields(error: unknown): Fields {
  if (!(error instanceof Error)) return { error: typeof error };
  return { error: error.name, message: error.message, stack: error.stack };
}
