import { once } from "node:events";
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startUpstashBridge, type UpstashBridge } from "../packages/local/src/upstash-bridge/bridge.ts";
import { RespClient, Status } from "../packages/local/src/upstash-bridge/resp.ts";
import { rewriteScript, sha1 } from "../packages/local/src/upstash-bridge/scripts.ts";
import { createUpstashState } from "../packages/server/src/platform/kv/upstash.ts";
import { onPostgres } from "./helpers/db.ts";
import { hasRedisServer, REDIS_URL, redisForTests, startPrivateRedis, uniquePrefix } from "./helpers/redis.ts";

// The unmodified @upstash/redis and @upstash/ratelimit clients against a real Redis through the
// bridge. Nothing here touches the database, so it runs once (in the PGlite project).
const enabled = !onPostgres && (await redisForTests());

describe.skipIf(!enabled)("Upstash REST bridge in front of a real Redis", () => {
  let bridge: UpstashBridge;
  let redis: Redis;
  const p = uniquePrefix("bridge");

  beforeAll(async () => {
    bridge = await startUpstashBridge({ redisUrl: REDIS_URL, token: "bridge-test-token" });
    redis = new Redis({ url: bridge.url, token: bridge.token });
  });
  afterAll(async () => {
    const keys = await redis.keys(`${p}*`);
    if (keys.length) await redis.del(...keys);
    await bridge.close();
  });

  it("runs single commands with base64 replies, keeping text and JSON values intact", async () => {
    expect(await redis.set(`${p}:text`, "héllo ✓ wörld")).toBe("OK");
    expect(await redis.get(`${p}:text`)).toBe("héllo ✓ wörld");
    await redis.set(`${p}:json`, { sku: "A-1", on_hand: 3 });
    expect(await redis.get(`${p}:json`)).toEqual({ sku: "A-1", on_hand: 3 });
    expect(await redis.incr(`${p}:n`)).toBe(1);
    expect(await redis.incrby(`${p}:n`, 41)).toBe(42);
    expect(await redis.get(`${p}:missing`)).toBeNull();
    expect(await redis.ping()).toBe("PONG");
    await redis.rpush(`${p}:list`, "a", "b", "c");
    expect(await redis.lrange(`${p}:list`, 0, -1)).toEqual(["a", "b", "c"]);
  });

  it("answers the same without base64 encoding", async () => {
    const plain = new Redis({ url: bridge.url, token: bridge.token, responseEncoding: false });
    await plain.set(`${p}:plain`, "plain ✓");
    expect(await plain.get(`${p}:plain`)).toBe("plain ✓");
    expect(await redis.get(`${p}:plain`)).toBe("plain ✓");
  });

  it("runs /pipeline with a result or an error per command", async () => {
    await redis.set(`${p}:word`, "not a number");
    const results = await redis
      .pipeline()
      .set(`${p}:p1`, "1")
      .incr(`${p}:word`)
      .incr(`${p}:p1`)
      .exec({ keepErrors: true });
    expect(results[0]).toEqual({ result: "OK", error: undefined });
    expect(results[1]?.error).toMatch(/not an integer/);
    expect(results[2]).toEqual({ result: 2, error: undefined });
  });

  it("runs /multi-exec atomically", async () => {
    const results = await redis.multi().set(`${p}:m`, "x").append(`${p}:m`, "yz").get(`${p}:m`).exec();
    expect(results).toEqual(["OK", 3, "xyz"]);
    const raw = await fetch(`${bridge.url}/multi-exec`, {
      method: "POST",
      headers: { authorization: `Bearer ${bridge.token}` },
      body: JSON.stringify([["SET", `${p}:never`, "1"], ["NOSUCHCOMMAND"]]),
    });
    const entries = (await raw.json()) as { error?: string }[];
    expect(entries[1]?.error).toMatch(/unknown command/i);
    expect(entries[0]?.error).toMatch(/EXECABORT/);
    expect(await redis.exists(`${p}:never`)).toBe(0);
  });

  it("refuses a missing or wrong Bearer token", async () => {
    const wrong = new Redis({ url: bridge.url, token: "not-the-token", retry: false });
    await expect(wrong.get(`${p}:text`)).rejects.toThrow(/Unauthorized/);
    const none = await fetch(bridge.url, { method: "POST", body: JSON.stringify(["PING"]) });
    expect(none.status).toBe(401);
  });

  it("answers a single failing command with 400 and the Redis error", async () => {
    const response = await fetch(bridge.url, {
      method: "POST",
      headers: { authorization: `Bearer ${bridge.token}` },
      body: JSON.stringify(["INCR", `${p}:word`]),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: expect.stringMatching(/not an integer/) });
    const notJson = await fetch(bridge.url, {
      method: "POST",
      headers: { authorization: `Bearer ${bridge.token}` },
      body: "{",
    });
    expect(notJson.status).toBe(400);
  });

  it("accepts a command in the path", async () => {
    const response = await fetch(`${bridge.url}/set/${p}:path/v%2F1`, {
      headers: { authorization: `Bearer ${bridge.token}` },
    });
    expect(await response.json()).toEqual({ result: "OK" });
    expect(await redis.get(`${p}:path`)).toBe("v/1");
  });

  it("runs @upstash/ratelimit's flagged scripts, and EVALSHA with the library's own hashes", async () => {
    const limiter = new Ratelimit({ redis, limiter: Ratelimit.slidingWindow(3, "30 s"), prefix: `${p}:rl` });
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push((await limiter.limit("caller")).success);
    expect(outcomes).toEqual([true, true, true, false, false]);

    // The hash the library hard-codes is the SHA-1 of its original text, shebang flag included;
    // after the first EVAL the bridge serves EVALSHA by it (no NOSCRIPT round trip).
    const script = "#!lua flags=allow-key-locking\nreturn ARGV[1]";
    expect(await redis.eval(script, [], ["first"])).toBe("first");
    expect(await redis.evalsha(sha1(script), [], ["again"])).toBe("again");
    expect(await redis.scriptExists(sha1(script))).toEqual([1]);
    expect(await redis.scriptLoad(script)).toBe(sha1(script));
  });

  it("rewrites only the shebang flags Redis refuses", () => {
    expect(rewriteScript("#!lua flags=allow-key-locking\nreturn 1")).toBe("#!lua\nreturn 1");
    expect(rewriteScript("#!lua flags=no-writes,allow-key-locking\nreturn 1")).toBe("#!lua flags=no-writes\nreturn 1");
    expect(rewriteScript("#!lua flags=no-writes\nreturn 1")).toBe("#!lua flags=no-writes\nreturn 1");
    expect(rewriteScript("return 1")).toBe("return 1");
  });

  it.skipIf(!hasRedisServer)("answers 503 at once when its Redis is gone", async () => {
    const own = await startPrivateRedis();
    const local = await startUpstashBridge({ redisUrl: own.url, token: "t", redisTimeoutMs: 500 });
    const client = new Redis({ url: local.url, token: "t", retry: false });
    try {
      expect(await client.set("k", "v")).toBe("OK");
      await own.stop();
      const started = performance.now();
      await expect(client.get("k")).rejects.toThrow(/unavailable/i);
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      await local.close();
      await own.stop();
    }
  });

  it("a reply that arrived while the process was busy is read, not taken for a late Redis", async () => {
    const client = new RespClient({ url: REDIS_URL, timeoutMs: 50 });
    try {
      // Connecting, then on the open connection: busy past the timeout each time, while the
      // connect or the reply waits in the socket and the timer falls due.
      for (let i = 0; i < 2; i++) {
        const reply = client.send([["PING"]]);
        const until = performance.now() + 300;
        while (performance.now() < until) {}
        expect(await reply).toEqual([new Status("PONG")]);
      }
    } finally {
      client.close();
    }
  });

  it("a caller that stops waiting leaves its request to finish on its keep-alive connection", async () => {
    // A Redis that answers every command after 150 ms, behind the bridge, behind a counter of
    // the TCP connections the client opens to the bridge.
    const sockets = new Set<Socket>();
    const slowRedis = listening(
      createServer((socket) => {
        sockets.add(socket);
        socket.on("data", (chunk) => {
          const commands = chunk.toString("latin1").match(/^\*\d+\r$/gm)?.length ?? 0;
          setTimeout(() => socket.writable && socket.write("$-1\r\n".repeat(commands)), 150);
        });
      }),
    );
    const local = await startUpstashBridge({ redisUrl: `redis://127.0.0.1:${port(await slowRedis)}`, token: "t" });
    let connections = 0;
    const counter = listening(
      createServer((socket) => {
        connections++;
        const upstream = tcpConnect(Number(new URL(local.url).port), "127.0.0.1");
        socket.pipe(upstream).pipe(socket);
        socket.on("error", () => upstream.destroy());
        upstream.on("error", () => socket.destroy());
      }),
    );
    const state = createUpstashState({
      url: `http://127.0.0.1:${port(await counter)}`,
      token: "t",
      timeoutMs: 100,
      cooldownMs: 0,
    });
    try {
      const calls = 8;
      for (let i = 0; i < calls; i++) await expect(state.kv.get("k")).rejects.toThrow(/within 100 ms/);
      // Aborting each late request would have destroyed its connection: one new connection per call.
      expect(connections).toBeLessThanOrEqual(3);
    } finally {
      (await counter).close();
      await local.close();
      for (const socket of sockets) socket.destroy();
      (await slowRedis).close();
    }
  });
});

async function listening(server: Server): Promise<Server> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}

const port = (server: Server) => (server.address() as { port: number }).port;
