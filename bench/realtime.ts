import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import pg from "pg";
import WebSocket from "ws";
import { migrate } from "../packages/local/src/migrate.ts";
import { FEED_FILE } from "../packages/local/src/realtime/feed.ts";
import { createRealtimeServer } from "../packages/local/src/realtime/server.ts";
import { mintStaffToken, mintToken } from "../packages/local/src/tokens.ts";
import { createTokenVerifier } from "../packages/server/src/http/auth.ts";
import { LOCAL_JWT_SECRET } from "../packages/server/src/platform/config.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import { createLogger } from "../packages/server/src/platform/logger.ts";
import { measure, opsPerSec, printTable, quantile, type Row, type Sample, scratchDatabase } from "./lib.ts";

export const description =
  "commit->client latency with 100 supabase-js subscribers vs. a direct LISTEN; reservations/s with and without the realtime triggers";
export const timeLimitSeconds = 240;

const SUBSCRIBERS = 100;
const CHANGES = 150;
const CHANGE_INTERVAL_MS = 40;
const CONNECTIONS = 8;
const SKUS = 2_000;

export default async function realtime(): Promise<void> {
  const scratch = await scratchDatabase("realtime");
  const db = createPostgresDb(scratch.url, { max: 4, applicationName: "storekeep-bench" });
  try {
    await migrate(db, { seed: true });
    await db.exec(await readFile(FEED_FILE, "utf8"));
    await writePathCost(db, scratch.url);
    await latency(db, scratch.url);
  } finally {
    await db.close();
    await scratch.drop();
  }
}

// --- the write path: reservations/s with the triggers off, production's, and the local stack's ---
async function writePathCost(db: ReturnType<typeof createPostgresDb>, url: string) {
  await db.exec(`
    insert into public.products (id, handle, title) values ('b0000000-0000-4000-8000-000000000001', 'bench', 'Bench');
    insert into public.product_variants (product_id, sku, price_amount, currency)
    select 'b0000000-0000-4000-8000-000000000001', 'BENCH-' || n, 100, 'EUR' from generate_series(1, ${SKUS}) n;
    insert into public.stock_movements (variant_id, location_id, kind, quantity)
    select sl.variant_id, sl.location_id, 'receipt', 1000000 from public.stock_levels sl
    join public.locations l on l.id = sl.location_id and l.code = 'main' join public.product_variants v on v.id = sl.variant_id
    where v.sku like 'BENCH-%';
    analyze;
  `);
  const pool = new pg.Pool({ connectionString: url, max: CONNECTIONS, application_name: "storekeep-bench" });
  const capture = (
    await db.query<{ table: string }>(
      "select format('%I.%I', n.nspname, c.relname) as table from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace where t.tgname = 'realtime_local_capture'",
    )
  ).rows.map((row) => row.table);
  const setTriggers = async (broadcast: boolean, local: boolean) => {
    await db.exec(`alter table private.events ${broadcast ? "enable" : "disable"} trigger events_after_insert_broadcast;
      ${capture.map((table) => `alter table ${table} ${local ? "enable" : "disable"} trigger realtime_local_capture;`).join("\n")}`);
  };
  const reserve = async () => {
    const sku = `BENCH-${1 + Math.floor(Math.random() * SKUS)}`;
    await pool.query("select private.reserve_stock($1::jsonb, 900)", [JSON.stringify([{ sku, quantity: 1 }])]);
  };
  const configs = [
    ["no realtime triggers", false, false],
    ["broadcast trigger (production)", true, false],
    ["broadcast + local feed triggers (npm start)", true, true],
  ] as const;
  const samples = new Map<string, Sample[]>(configs.map(([name]) => [name, []]));
  try {
    await setTriggers(false, false);
    await measure(reserve, { ms: 500, concurrency: CONNECTIONS });
    for (let round = 0; round < 2; round++) {
      const order = round % 2 === 0 ? configs : [...configs].reverse();
      for (const [name, broadcast, local] of order) {
        await setTriggers(broadcast, local);
        samples.get(name)?.push(await measure(reserve, { ms: 3_000, concurrency: CONNECTIONS }));
      }
    }
  } finally {
    await setTriggers(true, true);
    await pool.end();
  }
  const baseline = samples.get(configs[0][0]) as Sample[];
  const rows: Row[] = [];
  for (const [name] of configs.slice(1)) {
    const subject = samples.get(name) as Sample[];
    for (const [i, sample] of subject.entries()) {
      rows.push({
        figure: `${name}, round ${i + 1}`,
        value: opsPerSec(sample),
        baseline: "no realtime triggers",
        baselineValue: opsPerSec(baseline[i] as Sample),
        unit: "ops/s",
      });
    }
  }
  printTable(
    `Write-path cost: private.reserve_stock() (one 1-unit line over ${SKUS} skus), ${CONNECTIONS} connections in flight, 3 s per\n` +
      "configuration per round, order alternating. Production pays only the broadcast trigger (postgres_changes reads the\n" +
      "WAL there); the local stack also pays its feed's row triggers. Aim: production >= 0.90x",
    rows,
  );
}

// --- latency: commit -> supabase-js client, 100 subscribers, beside a direct LISTEN ---
async function latency(db: ReturnType<typeof createPostgresDb>, url: string) {
  const tokens = createTokenVerifier({ secret: LOCAL_JWT_SECRET });
  const realtime = await createRealtimeServer({ db, tokens, logger: createLogger("silent"), pollIntervalMs: 20 });
  const http = createServer((_, response) => response.writeHead(404).end());
  http.on("upgrade", (request, socket, head) => {
    if (!realtime.handleUpgrade(request, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const anonKey = await mintToken({ secret: LOCAL_JWT_SECRET, role: "anon" });
  const staffToken = await mintStaffToken(LOCAL_JWT_SECRET, "staff");
  const variant = (await db.query<{ id: string }>("select id from public.product_variants where sku = 'TS-ORG-M'"))
    .rows[0]?.id;

  const started = new Map<number, number>(); // on_hand after the change -> when its transaction began
  const listen: number[] = [];
  const changes: number[] = [];
  const broadcasts: number[] = [];
  const record = (into: number[], onHand: number) => {
    const t0 = started.get(onHand);
    if (t0 !== undefined) into.push(performance.now() - t0);
  };

  const listener = new pg.Client({ connectionString: url, application_name: "storekeep-bench-listen" });
  await listener.connect();
  await listener.query("listen bench_realtime");
  listener.on("notification", (message) => record(listen, Number(message.payload)));

  const clients: SupabaseClient[] = [];
  try {
    for (let i = 0; i < SUBSCRIBERS; i++) {
      const client = createClient(base, anonKey, {
        auth: { persistSession: false, autoRefreshToken: false },
        realtime: { transport: WebSocket as never },
      });
      await client.realtime.setAuth(staffToken);
      clients.push(client);
      const channel = client
        .channel(`bench-${i}`)
        .on(
          "postgres_changes",
          { event: "UPDATE", schema: "public", table: "stock_levels", filter: `variant_id=eq.${variant}` },
          (payload) => record(changes, (payload.new as { on_hand: number }).on_hand),
        );
      await new Promise<void>((resolve, reject) =>
        channel.subscribe((status) =>
          status === "SUBSCRIBED" ? resolve() : status !== "CLOSED" && reject(new Error(status)),
        ),
      );
    }
    // One more subscriber on the private Broadcast from Database channel.
    const staff = clients[0] as SupabaseClient;
    const inventory = staff
      .channel("inventory:main", { config: { private: true } })
      .on("broadcast", { event: "stock.changed" }, ({ payload }) => record(broadcasts, payload.data.after.on_hand));
    await new Promise<void>((resolve) => inventory.subscribe((status) => status === "SUBSCRIBED" && resolve()));

    const writer = new pg.Client({ connectionString: url, application_name: "storekeep-bench-writer" });
    await writer.connect();
    try {
      for (let i = 0; i < CHANGES; i++) {
        const t0 = performance.now();
        await writer.query("begin");
        const { rows } = await writer.query<{ on_hand: number }>(
          `with moved as (
             insert into public.stock_movements (variant_id, location_id, kind, quantity)
             select $1, l.id, 'receipt', 1 from public.locations l where l.code = 'main' returning variant_id, location_id)
           select sl.on_hand + 1 as on_hand from public.stock_levels sl join moved using (variant_id, location_id)`,
          [variant],
        );
        const onHand = rows[0]?.on_hand as number;
        started.set(onHand, t0);
        await writer.query("select pg_notify('bench_realtime', $1)", [String(onHand)]);
        await writer.query("commit");
        await new Promise((resolve) => setTimeout(resolve, CHANGE_INTERVAL_MS));
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      await writer.end();
    }
  } finally {
    for (const client of clients) await client.removeAllChannels();
    await listener.end();
    await realtime.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }

  const sample = (latencies: number[]): Sample[] => [{ ops: latencies.length, seconds: 1, latencies }];
  const rows: Row[] = [];
  for (const [name, q] of [
    ["p50", 0.5],
    ["p99", 0.99],
  ] as const) {
    rows.push({
      figure: `postgres_changes to ${SUBSCRIBERS} subscribers ${name}`,
      value: quantile(sample(changes), q),
      baseline: `direct LISTEN ${name}`,
      baselineValue: quantile(sample(listen), q),
      unit: "ms",
    });
    rows.push({
      figure: `broadcast from database (inventory:main) ${name}`,
      value: quantile(sample(broadcasts), q),
      baseline: `direct LISTEN ${name}`,
      baselineValue: quantile(sample(listen), q),
      unit: "ms",
    });
  }
  printTable(
    `Commit -> client latency, from the start of the writing transaction (a receipt of one unit) to the callback;\n` +
      `${CHANGES} changes ${CHANGE_INTERVAL_MS} ms apart; the local Realtime server polls every 20 ms. Deliveries: ` +
      `${changes.length} of ${CHANGES * SUBSCRIBERS} postgres_changes, ${broadcasts.length} of ${CHANGES} broadcasts, ${listen.length} of ${CHANGES} LISTEN.`,
    rows,
  );
}
