import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";
import { startUpstashBridge, type UpstashBridge } from "../../packages/local/src/upstash-bridge/bridge.ts";
import { RespClient } from "../../packages/local/src/upstash-bridge/resp.ts";

/** The shared Redis that .ci/run guarantees (never stopped or flushed by a test: others use it). */
export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

async function answers(url: string): Promise<boolean> {
  const client = new RespClient({ url, timeoutMs: 1000 });
  try {
    const [reply] = await client.send([["PING"]]);
    return reply !== undefined;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

/**
 * Whether the Redis suites can run. CI always has Redis (.ci/run starts one), so there a missing
 * Redis fails the suite instead of skipping it; `npm test` on a bare machine skips with a notice.
 */
export async function redisForTests(): Promise<boolean> {
  if (await answers(REDIS_URL)) return true;
  if (process.env.CI) throw new Error(`no Redis at ${REDIS_URL}: .ci/run should have started one`);
  console.warn(`no Redis at ${REDIS_URL}: skipping the suites that need one`);
  return false;
}

/** A key prefix of its own per test run, so parallel runs sharing the Redis never collide. */
export function uniquePrefix(label: string): string {
  return `test:${label}:${randomBytes(6).toString("hex")}`;
}

/** A bridge in front of `redisUrl` with a fresh token, and the env that points the API at it. */
export async function startTestBridge(redisUrl = REDIS_URL, label = "api") {
  const bridge: UpstashBridge = await startUpstashBridge({ redisUrl, token: randomBytes(16).toString("hex") });
  const env = {
    UPSTASH_REDIS_REST_URL: bridge.url,
    UPSTASH_REDIS_REST_TOKEN: bridge.token,
    REDIS_KEY_PREFIX: uniquePrefix(label),
  };
  return { bridge, env };
}

export const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;

/** A private redis-server on a free loopback port, for tests that stop Redis (never the shared one). */
export async function startPrivateRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const port = (probe.address() as { port: number }).port;
  probe.close();
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 80 && !(await answers(url)); i++) await new Promise((r) => setTimeout(r, 50));
  if (!(await answers(url))) throw new Error("private redis-server did not start");
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}
