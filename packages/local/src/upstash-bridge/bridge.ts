// An Upstash-compatible REST endpoint in front of a real Redis, so the unmodified @upstash/redis and
// @upstash/ratelimit clients run locally exactly as they do against Upstash:
//   POST /              body ["SET","k","v"]            -> {"result": ...} | 400 {"error": ...}
//   POST /pipeline      body [["SET","k","v"],["GET","k"]] -> [{"result": ...} | {"error": ...}, ...]
//   POST /multi-exec    the same, run inside MULTI/EXEC
//   GET|POST /get/k     a command in the path (curl-friendly; a POST body is the last argument)
// Authorization: Bearer <token> (or ?_token=). With `Upstash-Encoding: base64` every string in a
// result is base64 except the status "OK", which is what the client's decoder expects.
import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Command, RedisError, type Reply, RespClient, Status } from "./resp.ts";
import { ScriptHashes } from "./scripts.ts";

export interface UpstashBridgeOptions {
  /** The Redis behind the bridge: redis://[:password@]host:port[/db]. */
  redisUrl: string;
  /** The Bearer token clients must send. */
  token: string;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** How long Redis may take to connect or reply before the bridge answers 503. */
  redisTimeoutMs?: number;
}

export interface UpstashBridge {
  /** What UPSTASH_REDIS_REST_URL should be. */
  url: string;
  token: string;
  close(): Promise<void>;
}

type Entry = { result: unknown } | { error: string };

const MAX_BODY_BYTES = 16 * 1024 * 1024;

export async function startUpstashBridge(options: UpstashBridgeOptions): Promise<UpstashBridge> {
  const redis = new RespClient({ url: options.redisUrl, timeoutMs: options.redisTimeoutMs ?? 2000 });
  const scripts = new ScriptHashes();
  const expected = Buffer.from(`Bearer ${options.token}`);

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // Redis down or too slow: answer at once, the way Upstash answers when it cannot serve.
      send(res, 503, { error: `Redis is unavailable: ${error instanceof Error ? error.message : String(error)}` });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://bridge");
    const given = Buffer.from(req.headers.authorization ?? `Bearer ${url.searchParams.get("_token") ?? ""}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return send(res, 401, { error: "Unauthorized" });
    }
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const body = await readBody(req);
    const path = url.pathname.replace(/\/+$/, "");

    if (path === "/pipeline" || path === "/multi-exec") {
      const commands = parseCommands(body, true);
      if (typeof commands === "string") return send(res, 400, { error: commands });
      const entries = path === "/pipeline" ? await pipeline(commands) : await multiExec(commands);
      return send(
        res,
        200,
        entries.map((entry) => encodeEntry(entry, base64)),
      );
    }

    let command: Command | string;
    if (path === "") {
      command = parseCommands(body, false);
    } else {
      command = path.slice(1).split("/").map(decodeURIComponent);
      if (body.length) command.push(body);
    }
    if (typeof command === "string") return send(res, 400, { error: command });
    const [entry] = await pipeline([command]);
    if (!entry || "error" in entry) return send(res, 400, entry ?? { error: "no reply" });
    return send(res, 200, encodeEntry(entry, base64));
  }

  async function pipeline(commands: Command[]): Promise<Entry[]> {
    const replies = await redis.send(commands.map((command) => scripts.toRedis(command)));
    return replies.map((reply, i) => toEntry(scripts.fromRedis(commands[i] ?? [], reply)));
  }

  async function multiExec(commands: Command[]): Promise<Entry[]> {
    const replies = await redis.send([["MULTI"], ...commands.map((command) => scripts.toRedis(command)), ["EXEC"]]);
    const queued = replies.slice(1, -1);
    const exec = replies.at(-1);
    if (Array.isArray(exec)) {
      return exec.map((reply, i) => toEntry(scripts.fromRedis(commands[i] ?? [], reply)));
    }
    // EXECABORT: nothing ran; each command reports its own queueing error, or the abort.
    const abort = exec instanceof RedisError ? exec.message : "EXECABORT Transaction discarded";
    return queued.map((reply) => ({ error: reply instanceof RedisError ? reply.message : abort }));
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // A burst of clients connecting at once (each concurrent request of an HTTP/1.1 client is its
    // own connection) must not overflow the accept queue: a dropped SYN is retried after 1 s, 3 s...
    // Node closes a keep-alive connection idle for 5 s by default; a client sending on it at that
    // moment gets ECONNRESET (bench/cache met it whenever the copy in process kept Redis idle).
    // Idle connections are kept a minute instead, and the client, told so, retires them first.
    server.keepAliveTimeout = 60_000;
    server.headersTimeout = 65_000;
    server.listen({ port: options.port ?? 0, host: options.host ?? "127.0.0.1", backlog: 4096 }, () => resolve());
  });
  const address = server.address() as AddressInfo;

  return {
    url: `http://${address.address}:${address.port}`,
    token: options.token,
    async close() {
      redis.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The commands of a request body; a string when the body is not what Upstash accepts. */
function parseCommands(body: Buffer, many: true): Command[] | string;
function parseCommands(body: Buffer, many: false): Command | string;
function parseCommands(body: Buffer, many: boolean): Command[] | Command | string {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    return "ERR failed to parse command: the body is not JSON";
  }
  if (!many) return toCommand(json);
  if (!Array.isArray(json) || json.length === 0) return "ERR a pipeline is a non-empty array of commands";
  const commands: Command[] = [];
  for (const item of json) {
    const command = toCommand(item);
    if (typeof command === "string") return command;
    commands.push(command);
  }
  return commands;
}

function toCommand(json: unknown): Command | string {
  if (!Array.isArray(json) || json.length === 0) return "ERR a command is a non-empty JSON array";
  const command: Command = [];
  for (const arg of json) {
    if (typeof arg === "string") command.push(arg);
    else if (typeof arg === "number" || typeof arg === "boolean") command.push(String(arg));
    else return "ERR command arguments are strings or numbers";
  }
  return command;
}

function toEntry(reply: unknown): Entry {
  if (reply instanceof RedisError) return { error: reply.message };
  return { result: reply };
}

function encodeEntry(entry: Entry, base64: boolean): Entry {
  return "error" in entry ? entry : { result: encodeReply(entry.result as Reply | Status, base64) };
}

function encodeReply(reply: Reply | Status, base64: boolean): unknown {
  if (reply instanceof Status) return reply.value === "OK" || !base64 ? reply.value : toBase64(reply.value);
  if (reply instanceof RedisError) return reply.message;
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString("base64") : reply.toString("utf8");
  if (typeof reply === "string") return base64 ? toBase64(reply) : reply;
  if (Array.isArray(reply)) return reply.map((item) => encodeReply(item, base64));
  return reply;
}

function toBase64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
