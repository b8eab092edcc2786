import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { join } from "node:path";
import { parseEnvelope } from "@sentry/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import { LOCAL_JWT_SECRET } from "../packages/server/src/platform/config.ts";
import { onPostgres, useTestDatabase } from "./helpers/db.ts";
import { startIngest, waitFor } from "./helpers/sentry.ts";

// Boots the edge functions' real entrypoints under the real Deno binary against this file's own
// Postgres database. DENO_NO_PACKAGE_JSON makes Deno resolve through deno.json alone, as Supabase
// does: without it Deno quietly falls back to package.json for any import the map lacks.

const ROOT = join(import.meta.dirname, "..");
const DENO = join(ROOT, "node_modules", ".bin", "deno");
/** Generous: a cold Deno cache first downloads ~20 npm packages (measured 2-3 s on a fast link; a warm boot ~1-2 s). */
const BOOT_TIMEOUT_MS = 180_000;
const METRICS_TOKEN = "deno-metrics-token-0123456789";

interface DenoServer {
  url: string;
  bootMs: number;
  output(): string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  await once(server, "close");
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Starts `entry` under Deno and resolves once `probePath` answers with any HTTP status. */
async function bootDeno(entry: string, probePath: string, env: Record<string, string>): Promise<DenoServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child: ChildProcess = spawn(DENO, ["run", "--allow-net", "--allow-env", "--allow-read", entry], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", LOG_LEVEL: "warn", ...env, DENO_NO_PACKAGE_JSON: "1", PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = once(child, "exit");

  async function stop() {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  while (performance.now() - started < BOOT_TIMEOUT_MS) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`deno run ${entry} exited (${child.exitCode ?? child.signalCode}) before answering:\n${output}`);
    }
    try {
      await fetch(`${url}${probePath}`, { signal: AbortSignal.timeout(2_000) });
      return { url, bootMs: Math.round(performance.now() - started), output: () => output, stop };
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
  await stop();
  throw new Error(`deno run ${entry} did not answer within ${BOOT_TIMEOUT_MS} ms:\n${output}`);
}

describe.skipIf(!onPostgres)("edge functions booted under Deno", () => {
  const ctx = useTestDatabase();
  const servers: DenoServer[] = [];
  let api: DenoServer;
  let jobs: DenoServer;
  let ingest: Awaited<ReturnType<typeof startIngest>>;

  beforeAll(async () => {
    if (!ctx.url) throw new Error("useTestDatabase() gave no URL on Postgres");
    ingest = await startIngest();
    const env = {
      DATABASE_URL: ctx.url,
      SUPABASE_JWT_SECRET: LOCAL_JWT_SECRET,
      METRICS_TOKEN,
      SENTRY_DSN: ingest.dsn,
    };
    // One after the other: the first boot fills Deno's npm cache, the second reuses it.
    api = await bootDeno("functions/api/index.ts", "/api/v1/health", env);
    servers.push(api);
    jobs = await bootDeno("functions/jobs/index.ts", "/jobs", env);
    servers.push(jobs);
    console.info(`Deno boot: functions/api ${api.bootMs} ms, functions/jobs ${jobs.bootMs} ms`);
  }, 2 * BOOT_TIMEOUT_MS);

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await ingest?.close();
  });

  it("api: /api/v1/ready answers 200 with the database up", async () => {
    const response = await fetch(`${api.url}/api/v1/ready`);
    const body = await response.json();
    expect(response.status, api.output()).toBe(200);
    expect(body).toMatchObject({ status: "ready", checks: { database: { status: "up" } } });
  });

  it("api: requests run as the caller under Deno (one statement and a transaction, settings pipelined ahead)", async () => {
    const headers = { authorization: `Bearer ${await mintStaffToken(LOCAL_JWT_SECRET, "staff")}` };
    const list = await fetch(`${api.url}/api/v1/orders?limit=1`, { headers });
    expect(list.status, api.output()).toBe(200);
    expect(await list.json()).toMatchObject({ data: expect.any(Array) });
    const refused = await fetch(`${api.url}/api/v1/orders`, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json" },
      body: JSON.stringify({ items: [{ sku: "NO-SUCH-SKU", quantity: 1 }], customer: { email: "ada@example.com" } }),
    });
    expect(refused.status, api.output()).toBe(422);
    const viewer = { authorization: `Bearer ${await mintStaffToken(LOCAL_JWT_SECRET, "viewer")}` };
    expect((await fetch(`${api.url}/api/v1/orders?limit=1`, { headers: viewer })).status).toBe(200);
  });

  it("api: /api/v1/health answers 200", async () => {
    const response = await fetch(`${api.url}/api/v1/health`);
    expect(response.status, api.output()).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("api: /api/v1/metrics serves prom-client's text under Deno, with the SQL gauges", async () => {
    await fetch(`${api.url}/api/v1/health`);
    const refused = await fetch(`${api.url}/api/v1/metrics`);
    expect(refused.status, api.output()).toBe(401);
    const response = await fetch(`${api.url}/api/v1/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    const text = await response.text();
    expect(response.status, api.output()).toBe(200);
    expect(text).toMatch(
      /^storekeep_http_request_duration_seconds_count\{route="\/api\/v1\/health",method="GET",status="200"\} [1-9]/m,
    );
    expect(text).toMatch(/^storekeep_reservations\{status="active"\} \d+$/m);
    expect(text).toMatch(/^storekeep_db_pool_connections\{state="in_use"\} \d+$/m);
    expect(text).not.toContain("storekeep_metrics_collector_failures_total{");
  });

  it("api: the API reference page and every asset it names load from the function itself", async () => {
    const page = await fetch(`${api.url}/api/v1/docs`);
    expect(page.status, api.output()).toBe(200);
    const html = await page.text();
    const named = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1] as string);
    expect(named).toEqual(["docs/swagger-ui.css", "docs/swagger-ui-bundle.js", "docs/init.js"]);
    const { script, stylesheet } = await import("../packages/server/src/http/docs-assets.gen.ts");
    const expected: Record<string, string> = { "swagger-ui.css": stylesheet, "swagger-ui-bundle.js": script };
    for (const path of named) {
      // Resolved against the page, as a browser does: wherever the function is mounted.
      const asset = await fetch(new URL(path, `${api.url}/api/v1/docs`));
      expect({ path, status: asset.status }).toEqual({ path, status: 200 });
      expect(asset.headers.get("content-type")).toMatch(path.endsWith(".css") ? /^text\/css/ : /^text\/javascript/);
      const body = await asset.text();
      const name = path.split("/").pop() as string;
      if (expected[name]) expect(body === expected[name], `${path} differs from swagger-ui-dist's`).toBe(true);
    }
    const spec = await fetch(new URL("openapi.json", `${api.url}/api/v1/docs`));
    expect(spec.status).toBe(200);
  });

  it("jobs: GET /jobs without a token is refused with a 401 problem", async () => {
    const response = await fetch(`${jobs.url}/jobs`);
    expect(response.status, jobs.output()).toBe(401);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(await response.json()).toMatchObject({ status: 401, type: expect.stringMatching(/unauthenticated$/) });
  });

  it("api: an unexpected error under Deno reaches Sentry (fetch transport) with its request id, no token", async () => {
    const token = await mintStaffToken(LOCAL_JWT_SECRET, "viewer");
    // A table gone missing under the running function: an error no handler expects (42P01).
    await ctx.db.exec("alter table public.brands rename to brands_moved_away");
    try {
      const response = await fetch(`${api.url}/api/v1/brands`, {
        headers: { authorization: `Bearer ${token}`, "x-request-id": "deno-sentry-check-1" },
      });
      expect(response.status, api.output()).toBe(500);
    } finally {
      await ctx.db.exec("alter table public.brands_moved_away rename to brands");
    }
    await waitFor(() => ingest.received.length > 0, 10_000);
    const body = ingest.received[0]?.body ?? "";
    const [, items] = parseEnvelope(body);
    expect(items[0]?.[1]).toMatchObject({
      tags: { request_id: "deno-sentry-check-1", route: "/api/v1/brands", method: "GET" },
      contexts: { runtime: { name: "deno" } },
    });
    expect(body).not.toContain(token);
    expect(body).not.toContain(LOCAL_JWT_SECRET);
    expect(api.output()).not.toContain(token);
  });
});
