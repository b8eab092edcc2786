import type { Db } from "../../packages/server/src/platform/db/types.ts";

export interface LogLine {
  time: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** Collects the lines a logger writes (`writeLog`), raw and parsed. */
export function captureLogs() {
  const raw: string[] = [];
  return {
    raw,
    write: (line: string) => {
      raw.push(line);
    },
    get lines(): LogLine[] {
      return raw.map((line) => JSON.parse(line) as LogLine);
    },
    requests(): LogLine[] {
      return this.lines.filter((line) => line.msg === "request");
    },
  };
}

/**
 * The test database, except that while `failWith` is set every `asUser` transaction throws that
 * error: an unexpected failure (a driver bug, a lost invariant) reached through the real app.
 */
export function faultyDb(db: Db): { db: Db; failWith(error: Error | undefined): void } {
  let failure: Error | undefined;
  const faulty = new Proxy(db, {
    get(target, property, receiver) {
      if (property === "asUser" && failure) {
        const error = failure;
        return () => Promise.reject(error);
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    db: faulty,
    failWith(error) {
      failure = error;
    },
  };
}
