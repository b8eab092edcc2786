import { readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, inject } from "vitest";
import { createPgliteDb } from "../packages/server/src/platform/db/pglite.ts";
import type { Db } from "../packages/server/src/platform/db/types.ts";
import { createListenSignal, type OutboxSignal } from "../packages/server/src/platform/outbox-signal.ts";
import { createPostgresSignal } from "../packages/server/src/platform/outbox-signal-postgres.ts";
import { createTestDatabase, engine } from "./helpers/db.ts";

/**
 * A test database with its "events committed" signal: PGlite's own listen API, or LISTEN on a
 * dedicated connection to this file's PostgreSQL database.
 */
export function useWebhookDatabase(options: { poolMax?: number } = {}) {
  let db: Db | undefined;
  let signal: OutboxSignal | undefined;
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
    get signal(): OutboxSignal {
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

export interface FakeSvixRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  status: number;
}

export interface FakeSvixMessage {
  appId: string;
  eventType: string;
  eventId: string;
  payload: Record<string, unknown>;
}

/**
 * A stand-in for the Svix API on 127.0.0.1, as far as the real `svix` client uses it here:
 * `POST /api/v1/app?get_if_exists=true` (application.getOrCreate) and `POST /api/v1/app/{app}/msg`
 * (message.create). Like Svix it checks the bearer token, answers a repeated `idempotency-key` with
 * the first response, and refuses a second message with the same `eventId` in an app with 409.
 * `messages` is its dedup view: every message it holds, in the order it accepted them. It can be
 * down (the port refuses connections), and can "lose" answers: store a message, then answer 500.
 */
export async function startFakeSvix(token: string) {
  const requests: FakeSvixRequest[] = [];
  const messages: FakeSvixMessage[] = [];
  const apps = new Map<string, { id: string; uid: string; name: string }>();
  const idempotent = new Map<string, { status: number; body: unknown }>();
  // failing: every request is answered 500 unread. crashAtMessage: when it stores its nth message
  // it loses the answer (500) and keeps failing, as if it crashed right after storing.
  const control = { failing: false, crashAtMessage: Number.POSITIVE_INFINITY, delayMs: 0 };
  let server: Server | undefined;
  let port = 0;

  const handle = async (method: string, url: URL, headers: IncomingHttpHeaders, body: any) => {
    if (headers.authorization !== `Bearer ${token}`) {
      return { status: 401, body: { code: "authentication_failed", detail: "bad token" } };
    }
    const now = new Date().toISOString();
    if (method === "POST" && url.pathname === "/api/v1/app") {
      const existing = [...apps.values()].find((app) => app.uid === body.uid);
      if (existing && url.searchParams.get("get_if_exists") === "true") {
        return { status: 200, body: { ...existing, createdAt: now, updatedAt: now, metadata: {} } };
      }
      if (existing) return { status: 409, body: { code: "conflict", detail: "uid taken" } };
      const app = { id: `app_${apps.size + 1}`, uid: body.uid, name: body.name };
      apps.set(app.id, app);
      return { status: 201, body: { ...app, createdAt: now, updatedAt: now, metadata: {} } };
    }
    const msg = /^\/api\/v1\/app\/([^/]+)\/msg$/.exec(url.pathname);
    if (method === "POST" && msg) {
      const app = apps.get(decodeURIComponent(msg[1] ?? "")) ?? [...apps.values()].find((a) => a.uid === msg[1]);
      if (!app) return { status: 404, body: { code: "not_found", detail: "no such app" } };
      if (typeof body.eventType !== "string" || typeof body.eventId !== "string") {
        return {
          status: 422,
          body: { detail: [{ loc: ["body"], msg: "eventType and eventId", type: "value_error" }] },
        };
      }
      if (messages.some((m) => m.appId === app.id && m.eventId === body.eventId)) {
        return { status: 409, body: { code: "conflict", detail: "a message with this eventId exists" } };
      }
      messages.push({ appId: app.id, eventType: body.eventType, eventId: body.eventId, payload: body.payload });
      return {
        status: 202,
        body: { id: `msg_${messages.length}`, eventType: body.eventType, eventId: body.eventId, timestamp: now },
      };
    }
    return { status: 404, body: { code: "not_found", detail: `${method} ${url.pathname}` } };
  };

  const listen = async () => {
    const next = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", async () => {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        const text = Buffer.concat(chunks).toString("utf8");
        const body = text ? JSON.parse(text) : undefined;
        if (control.delayMs) await new Promise((resolve) => setTimeout(resolve, control.delayMs));
        const key = typeof req.headers["idempotency-key"] === "string" ? req.headers["idempotency-key"] : undefined;
        let answer: { status: number; body: unknown };
        const cached = key ? idempotent.get(key) : undefined;
        if (control.failing) answer = { status: 500, body: "unavailable" };
        else if (cached) answer = cached;
        else {
          answer = await handle(req.method ?? "GET", url, req.headers, body);
          if (key && answer.status < 500) idempotent.set(key, answer);
          if (url.pathname.endsWith("/msg") && answer.status === 202 && messages.length === control.crashAtMessage) {
            control.failing = true;
            answer = { status: 500, body: "crashed" };
          }
        }
        requests.push({
          method: req.method ?? "",
          path: url.pathname,
          headers: req.headers,
          body,
          status: answer.status,
        });
        res
          .writeHead(answer.status, { "content-type": "application/json" })
          .end(typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body));
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
      return `http://127.0.0.1:${port}`;
    },
    requests,
    messages,
    apps,
    control,
    /** Message-create requests for one eventId (repeats included). */
    attemptsFor: (eventId: string) =>
      requests.filter(
        (request) => request.path.endsWith("/msg") && (request.body as FakeSvixMessage)?.eventId === eventId,
      ).length,
    down,
    up: listen,
    close: down,
  };
}
