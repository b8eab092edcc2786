// A minimal Redis client speaking RESP2 over one socket: enough for the Upstash bridge, which only
// forwards whole commands. It is smaller than a general client's surface and keeps every reply
// exactly as Redis sent it (status vs bulk string, nested errors), which the bridge must preserve.
import { connect, type Socket } from "node:net";

export type Reply = string | Buffer | number | null | RedisError | Reply[];

/** A status reply (`+OK`), kept apart from bulk strings: Upstash leaves "OK" unencoded. */
export class Status {
  constructor(readonly value: string) {}
}

/** An error reply from Redis (a value, not a failure of the connection). */
export class RedisError {
  constructor(readonly message: string) {}
}

export type Command = (string | Buffer)[];

interface Pending {
  resolve(reply: Reply | Status): void;
  reject(error: Error): void;
}

export interface RespClientOptions {
  /** redis://[:password@]host:port[/db] */
  url: string;
  /** How long a connect or a reply may take before the connection is dropped. */
  timeoutMs?: number;
}

/**
 * One connection, commands pipelined in order. A batch written in one call stays contiguous on the
 * wire, so MULTI ... EXEC from one caller is never interleaved with another's commands. Connection
 * loss or a late reply fails every pending command and the next command reconnects.
 */
export class RespClient {
  readonly #url: URL;
  readonly #timeoutMs: number;
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #pending: Pending[] = [];
  #buffer: Buffer = Buffer.alloc(0);
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: RespClientOptions) {
    this.#url = new URL(options.url);
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  async send(commands: Command[]): Promise<(Reply | Status)[]> {
    const socket = await this.#connection();
    return this.#write(socket, commands);
  }

  close(): void {
    this.#fail(new Error("client closed"));
  }

  #write(socket: Socket, commands: Command[]): Promise<(Reply | Status)[]> {
    const replies = commands.map(
      () => new Promise<Reply | Status>((resolve, reject) => this.#pending.push({ resolve, reject })),
    );
    socket.write(Buffer.concat(commands.map(encodeCommand)));
    this.#arm();
    return Promise.all(replies);
  }

  #connection(): Promise<Socket> {
    if (this.#socket) return Promise.resolve(this.#socket);
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  async #open(): Promise<Socket> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: this.#url.hostname, port: Number(this.#url.port || 6379) });
      // Judged one turn later, as in #arm: a connect that completed while the process was busy counts.
      const timer = setTimeout(
        () =>
          setImmediate(() => {
            if (s.connecting) {
              s.destroy();
              reject(new Error(`Redis at ${this.#url.host} did not answer within ${this.#timeoutMs} ms`));
            }
          }),
        this.#timeoutMs,
      );
      s.once("connect", () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    socket.setNoDelay(true);
    socket.on("data", (chunk) => this.#receive(chunk));
    // A dropped socket's late events must not fail the connection that replaced it.
    socket.on("error", (error) => this.#socket === socket && this.#fail(error));
    socket.on("close", () => this.#socket === socket && this.#fail(new Error("Redis connection closed")));
    this.#socket = socket;
    const setup: Command[] = [];
    const password = decodeURIComponent(this.#url.password);
    if (password)
      setup.push(["AUTH", ...(this.#url.username ? [decodeURIComponent(this.#url.username)] : []), password]);
    const db = this.#url.pathname.slice(1);
    if (db) setup.push(["SELECT", db]);
    if (setup.length) {
      for (const reply of await this.#write(socket, setup)) {
        if (reply instanceof RedisError) {
          this.#fail(new Error(reply.message));
          throw new Error(`Redis refused the connection set-up: ${reply.message}`);
        }
      }
    }
    return socket;
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
    try {
      for (;;) {
        const parsed = parseReply(this.#buffer, 0);
        if (!parsed) break;
        this.#buffer = this.#buffer.subarray(parsed.end);
        this.#pending.shift()?.resolve(parsed.value);
      }
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    this.#arm();
  }

  /**
   * A reply overdue by the timeout drops the connection: the stream can no longer be trusted. The
   * verdict waits one turn of the event loop (setImmediate runs after pending socket reads), so a
   * process that was itself stalled reads the replies already waiting before it judges Redis late.
   */
  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.length === 0) return;
    const waiting = this.#pending[0];
    this.#timer = setTimeout(() => {
      setImmediate(() => {
        if (this.#pending[0] === waiting) this.#fail(new Error(`Redis did not reply within ${this.#timeoutMs} ms`));
      });
    }, this.#timeoutMs);
  }

  #fail(error: Error): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const socket = this.#socket;
    this.#socket = undefined;
    this.#buffer = Buffer.alloc(0);
    socket?.destroy();
    const pending = this.#pending;
    this.#pending = [];
    for (const { reject } of pending) reject(error);
  }
}

function encodeCommand(command: Command): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${command.length}\r\n`)];
  for (const arg of command) {
    const bytes = typeof arg === "string" ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Parses one RESP2 reply at `start`; undefined when the buffer does not hold all of it yet. */
export function parseReply(buffer: Buffer, start: number): { value: Reply | Status; end: number } | undefined {
  const lineEnd = buffer.indexOf("\r\n", start);
  if (lineEnd < 0) return undefined;
  const line = buffer.toString("utf8", start + 1, lineEnd);
  const next = lineEnd + 2;
  switch (buffer[start]) {
    case 0x2b: // +
      return { value: new Status(line), end: next };
    case 0x2d: // -
      return { value: new RedisError(line), end: next };
    case 0x3a: // :
      return { value: Number(line), end: next };
    case 0x24: {
      // $
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.subarray(next, next + length), end: next + length + 2 };
    }
    case 0x2a: {
      // *
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: Reply[] = [];
      let offset = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, offset);
        if (!item) return undefined;
        items.push(item.value instanceof Status ? item.value.value : item.value);
        offset = item.end;
      }
      return { value: items, end: offset };
    }
    default:
      throw new Error(`unexpected RESP type byte ${buffer[start]}`);
  }
}
