import { randomBytes } from "node:crypto";
import { signRequest } from "../packages/client/src/signing.ts";
import { migrate } from "../packages/local/src/migrate.ts";
import { LOCAL_DEFAULTS } from "../packages/local/src/stack.ts";
import { startUpstashBridge } from "../packages/local/src/upstash-bridge/bridge.ts";
import { createApp } from "../packages/server/src/app.ts";
import { createServices } from "../packages/server/src/main.ts";
import { loadConfig } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import { describeOverhead, overhead, overheadRows, printTable, type Row, scratchDatabase } from "./lib.ts";

// The cost of checking a signed request (http/signed-request.ts: timestamp, HMAC-SHA256 over the
// canonical string with the body's SHA-256, and the nonce's SET NX in the shared store) per request,
// as the time per request of the same route called with the same API key signed / unsigned.
export const timeLimitSeconds = 120;

export const description =
  "signed request verification per request: the same route with the same API key, signed vs. unsigned (nonces in process and in Redis through the bridge)";

const POOL_MAX = 10;
const OVERHEAD_BUDGET = { ms: 300, warmupMs: 500, rounds: 15 };
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export default async function signing(): Promise<void> {
  const scratch = await scratchDatabase("signing");
  const db = createPostgresDb(scratch.url, { max: POOL_MAX, applicationName: "storekeep-bench" });
  const bridge = await startUpstashBridge({ redisUrl: REDIS_URL, token: randomBytes(16).toString("hex") }).catch(
    () => undefined,
  );
  try {
    const migration = await migrate(db);
    console.log(`scratch database migrated (${migration.applied.length} migrations), pg pool of ${POOL_MAX}`);
    // Issued by the service role, so the key acts with its cap (the scratch database has no users).
    const { rows } = await db.asUser({ role: "service_role" }, (tx) =>
      tx.query<{ key: { secret: string; signing_secret: string } }>(
        "select private.api_key_create('bench', 'test', array['inventory:read'], 'viewer') as key",
      ),
    );
    const key = rows[0]?.key;
    if (!key) throw new Error("no key issued");

    // Rate limits off: the bench sends far more than a caller may.
    const env = { ...LOCAL_DEFAULTS, LOG_LEVEL: "silent", RATE_LIMITS_ENABLED: "false" };
    const stores: { label: string; app: ReturnType<typeof createApp> }[] = [
      { label: "in process", app: createApp(createServices(loadConfig(env), { db })) },
    ];
    if (bridge) {
      const redisEnv = {
        ...env,
        UPSTASH_REDIS_REST_URL: bridge.url,
        UPSTASH_REDIS_REST_TOKEN: bridge.token,
        REDIS_KEY_PREFIX: `bench:signing:${process.pid}`,
        REDIS_TIMEOUT_MS: "2000",
      };
      stores.push({ label: "Redis (bridge)", app: createApp(createServices(loadConfig(redisEnv), { db })) });
    } else {
      console.log(`no Redis at ${REDIS_URL}: measuring the in-process nonce store only`);
    }

    // Both sides sign (the client's cost cancels out); only the subject sends the signature.
    const path = "/api/v1/locations";
    const call = (app: ReturnType<typeof createApp>, signed: boolean) => async () => {
      const signature = await signRequest({
        method: "GET",
        url: `http://bench${path}`,
        signingSecret: key.signing_secret,
      });
      const response = await app.request(path, {
        headers: { "x-api-key": key.secret, ...(signed ? signature : {}) },
      });
      if (response.status !== 200) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
      await response.text();
    };

    const rowsOut: Row[] = [];
    const overheads: string[] = [];
    for (const { label, app } of stores) {
      for (const concurrency of [1, 8]) {
        const result = await overhead(call(app, true), call(app, false), { ...OVERHEAD_BUDGET, concurrency });
        const name = `signed GET /locations, nonces ${label}, c=${concurrency}`;
        rowsOut.push(...overheadRows(name, "unsigned", result));
        overheads.push(describeOverhead(name, result));
      }
    }

    printTable(
      "GET /api/v1/locations with an API key (key lookup, scope check, one query), signed vs. unsigned,\n" +
        "on PostgreSQL; both sides sign on the client, only the subject sends the three headers;\n" +
        `${OVERHEAD_BUDGET.rounds} paired rounds of ${OVERHEAD_BUDGET.ms} ms each, alternating which side goes first; c = requests in flight`,
      rowsOut,
    );
    console.log(
      `\nSignature verification overhead (time per request signed / unsigned):\n${overheads.map((line) => `  ${line}`).join("\n")}`,
    );
  } finally {
    await Promise.allSettled([db.close(), bridge?.close()]);
    await scratch.drop();
  }
}
