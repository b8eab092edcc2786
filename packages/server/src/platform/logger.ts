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
  const serialize = options.redact ? redactingSerializer(options.redact) : (line: Fields) => JSON.stringify(line);
  const emit =
    (at: Exclude<LogLevel, "silent">) =>
    (msg: string, fields: Fields = {}) => {
      if (ORDER[at] < ORDER[level]) return;
      write(serialize({ time: new Date().toISOString(), level: at, msg, ...fields }));
    };
  return { debug: emit("debug"), info: emit("info"), warn: emit("warn"), error: emit("error") };
}

function redactingSerializer(redact: Redactor): (line: Fields) => string {
  // Field names repeat from line to line: test each once.
  const secretKeys = new Map<string, boolean>();
  const isSecretKey = (key: string) => {
    let secret = secretKeys.get(key);
    if (secret === undefined) {
      secret = SECRET_FIELD.test(key);
      if (secretKeys.size < 1000) secretKeys.set(key, secret);
    }
    return secret;
  };
  const clean = (key: string, value: unknown): unknown => {
    if (key && value != null && value !== "" && isSecretKey(key)) return "[redacted]";
    return typeof value === "string" ? redact(value) : value;
  };
  return (line) => {
    // A flat line (the request line) is cleaned field by field and serialized on JSON's fast path;
    // nested values go through a replacer that cleans every level.
    const flat: Fields = {};
    let nested = false;
    for (const key of Object.keys(line)) {
      const value = clean(key, line[key]);
      if (value !== null && typeof value === "object") nested = true;
      flat[key] = value;
    }
    return nested ? JSON.stringify(flat, clean) : JSON.stringify(flat);
  };
}

/** An error as log fields: its name, message and stack (the logger's redactor cleans both). */
export function errorFields(error: unknown): Fields {
  if (!(error instanceof Error)) return { error: typeof error };
  return { error: error.name, message: error.message, stack: error.stack };
}
