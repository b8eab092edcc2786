// `npm start`: the whole Storekeep stack on this machine, no services needed.
//   npm start               PGlite with data under .storekeep/ (or DATABASE_URL's Postgres)
//   npm start -- --fresh    start over with an empty database
import { join } from "node:path";
import { APP_ROLES } from "../../server/src/http/auth.ts";
import { ConfigError } from "../../server/src/platform/config.ts";
import { LOCAL_PASSWORD } from "./auth.ts";
import { startLocalStack } from "./stack.ts";
import { mintStaffToken } from "./tokens.ts";

const started = performance.now();
const fresh = process.argv.includes("--fresh");

try {
  const stack = await startLocalStack({
    dataDir: join(process.cwd(), ".storekeep", "pgdata"),
    imagesDir: join(process.cwd(), ".storekeep", "cloudinary"),
    fresh,
    port: Number(process.env.PORT ?? 54321),
  });
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const database = stack.config.databaseUrl ? "PostgreSQL (DATABASE_URL)" : "PGlite (.storekeep/pgdata)";
  const shared = process.env.UPSTASH_REDIS_REST_URL
    ? "Upstash (UPSTASH_REDIS_REST_URL)"
    : stack.config.upstash
      ? `Redis (REDIS_URL) through the Upstash bridge at ${stack.config.upstash.url}`
      : "in process (no REDIS_URL; local only)";
  const tokens = await Promise.all(
    (["admin", "staff", "viewer"] as const).map(async (role) => [
      role,
      await mintStaffToken(stack.config.jwtSecret ?? "", role),
    ]),
  );

  console.log(`
Storekeep is up in ${seconds}s on ${database}; ${stack.migration.applied.length} migration(s) applied now.
Rate limits, nonces and cache: ${shared}.

  API        ${stack.url}/v1/health
  Reference  ${stack.url}/v1/docs
  OpenAPI    ${stack.url}/v1/openapi.json

Access tokens (12 h; roles: ${APP_ROLES.join(", ")}):
${tokens.map(([role, token]) => `  ${role?.padEnd(8)} ${token}`).join("\n")}

Try:  curl -H "Authorization: Bearer <token>" ${stack.url}/v1/ready

Supabase URL  ${stack.supabaseUrl}   (auth: /auth/v1, realtime: /realtime/v1, functions: /functions/v1)
Anon key      ${stack.anonKey}
Sign in as    owner|admin|manager|staff|viewer@storekeep.local, password ${LOCAL_PASSWORD}

  import { createClient } from "@supabase/supabase-js";
  const supabase = createClient("${stack.supabaseUrl}", "<anon key>");  // Node 20: realtime: { transport: WebSocket } from "ws"
  await supabase.auth.signInWithPassword({ email: "staff@storekeep.local", password: "${LOCAL_PASSWORD}" });
  await supabase.functions.invoke("api/v1/me", { method: "GET" });
  supabase.channel("inventory:main", { config: { private: true } })
    .on("broadcast", { event: "stock.changed" }, ({ payload }) => console.log(payload))
    .on("postgres_changes", { event: "*", schema: "public", table: "stock_levels" }, (change) => console.log(change))
    .subscribe();

Ctrl-C stops.`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log("\nStopping...");
    await stack.close();
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
