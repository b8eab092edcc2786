import { readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, inject } from "vitest";
import { createPgliteDb } from "../packages/server/src/platform/db/pglite.ts";
import type { Db } from "../packages/server/src/platform/db/types.ts";
import { createListenSignal, type EventSignal } from "../packages/server/src/platform/events.ts";
import { createPostgresSignal } from "../packages/server/src/platform/events-postgres.ts";
import { createTestDatabase, engine } from "./helpers/db.ts";

/**
 * A test database with its "events committed" signal: PGlite's own listen API, or LISTEN on a
 * dedicated connection to this file's PostgreSQL database.
 */
export function useWebhookDatabase(options: { poolMax?: number } = {}) {
  let db: Db | undefined;
  let signal: EventSignal | undefined;
  let url: string | undefined;
  let drop: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    if (engine === "pglite") {
      const image = new Blob([await readFile(inject("pgliteTemplate"))]);
      const pglite = await PGlite.create({ loadDataDir: image });
      db = createPgliteDb(pglite);
      signal = createListenSignal(pglite);
      drop = () => pglite.close();
    } else {
      const database = await createTestDatabase(options);
      db = database.db;
      url = database.url;
      signal = createPostgresSignal(database.url ?? "");
      drop = database.drop;
    }
  });
  afterAll(async () => {
    await drop?.();
  });
  return {
    get db(): Db {
      if (!db) throw new Error("not ready");
      return db;
    },
    get signal(): EventSignal {
      if (!signal) throw new Error("not ready");
      return signal;
    },
    get url(): string | undefined {
      return url;
    },
  };
}

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
  /** The status the receiver answered. */
  status?: number;
}

/**
 * A webhook receiver on 127.0.0.1: records every request, answers what `respond` says. It can go
 * down (the port refuses connections) and come back on the same port.
 */
export async function startReceiver(
  respond: (request: Received, index: number) => number | Promise<number> = () => 200,
) {
  const received: Received[] = [];
  let server: Server | undefined;
  let port = 0;
  const listen = async () => {
    const next = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", async () => {
        const request: Received = {
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          at: Date.now(),
        };
        const index = received.push(request) - 1;
        const status = await respond(request, index);
        request.status = status;
        res.writeHead(status, { "content-type": "text/plain" }).end(status < 300 ? "ok" : `refused ${index}`);
      });
    });
    next.keepAliveTimeout = 100;
    await new Promise<void>((resolve, reject) => {
      next.once("error", reject);
      next.listen(port, "127.0.0.1", () => resolve());
    });
    port = (next.address() as AddressInfo).port;
    server = next;
  };
  const down = async () => {
    const current = server;
    server = undefined;
    if (!current) return;
    current.closeAllConnections();
    await new Promise<void>((resolve) => current.close(() => resolve()));
  };
  await listen();
  return {
    get url() {
      return `http://127.0.0.1:${port}/hooks`;
    },
    received,
    down,
    up: listen,
    close: down,
  };
}

/** Polls until `check` is true (or throws after `timeoutMs`). */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Headers as svix's `Webhook.verify` takes them. */
export function svixHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  return {
    "webhook-id": String(headers["webhook-id"] ?? ""),
    "webhook-timestamp": String(headers["webhook-timestamp"] ?? ""),
    "webhook-signature": String(headers["webhook-signature"] ?? ""),
  };
}
