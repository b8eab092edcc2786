import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { mintStaffToken } from "../../packages/local/src/tokens.ts";
import type { Db } from "../../packages/server/src/platform/db/types.ts";
import { TEST_SECRET } from "../helpers/app.ts";

/** What one client operation ended as: acknowledged (2xx), refused (a definite 4xx), or unknown. */
export type Outcome = "acked" | "refused" | "unknown";

export interface Op {
  kind: "adjust" | "reserve";
  key: string;
  outcome: Outcome;
  /** adjust: the delta; reserve: quantity per sku. */
  quantity: number;
  /** reserve: the reservation id answered. */
  id?: string;
  tries: number;
}

export interface FaultCounts {
  terminations: number;
  backendsTerminated: number;
  restarts: number;
}

/** The API in its own process on a free loopback port; `restart` kills it hard and starts it again. */
export async function startApiProcess(databaseUrl: string) {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    const next = spawn(process.execPath, ["--import", "tsx", "tests/faults/api-process.ts"], {
      // Rate limits off: the test counts the outcomes of its own load (limits: tests/rate-limit.test.ts).
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        PORT: String(port),
        LOG_LEVEL: "silent",
        RATE_LIMITS_ENABLED: "false",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    child = next;
    await new Promise<void>((resolve, reject) => {
      let output = "";
      next.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes("ready")) resolve();
      });
      next.once("exit", (code) => reject(new Error(`the API process exited (${code}) before it was ready`)));
    });
  };
  const stop = async () => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null) return;
    const exited = new Promise((resolve) => current.once("exit", resolve));
    current.kill("SIGKILL");
    await exited;
  };
  await start();
  return {
    url: `http://127.0.0.1:${port}/functions/v1/api/v1`,
    /** Whether the process is still alive (it must never die by itself). */
    alive: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    async restart() {
      await stop();
      await start();
    },
    stop,
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Concurrent clients, each sending adjustments and two-sku reservations, each retried with the same
 * key after a network error or a 503 until it gets a definite answer (or gives up: unknown).
 */
export async function runClients(options: {
  url: () => string;
  clients: number;
  until: () => boolean;
  skus: [string, string];
  unexpected: string[];
}): Promise<Op[]> {
  const token = await mintStaffToken(TEST_SECRET, "staff");
  const ops: Op[] = [];
  const client = async (n: number) => {
    for (let i = 0; !options.until(); i++) {
      const key = `fault-${n}-${i}-${crypto.randomUUID().slice(0, 8)}`;
      const reserve = i % 3 !== 0;
      const op: Op = {
        kind: reserve ? "reserve" : "adjust",
        key,
        outcome: "unknown",
        quantity: reserve ? 1 : 3,
        tries: 0,
      };
      ops.push(op);
      const path = reserve ? "/inventory/reservations" : "/inventory/adjust";
      const body = reserve
        ? {
            items: options.skus.map((sku) => ({ sku, quantity: op.quantity })),
            ttl_seconds: 3600,
            // The idempotency store, not the reservation, keeps the key: the reference finds the hold.
            reference: { type: "external", id: key },
          }
        : {
            sku: options.skus[i % 2],
            location_code: "main",
            delta: op.quantity,
            kind: "receipt",
            idempotency_key: key,
          };
      for (; op.tries < 60; ) {
        op.tries++;
        let status: number;
        let json: { id?: string; reservation?: { id?: string } } | undefined;
        try {
          const response = await fetch(`${options.url()}${path}`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "idempotency-key": key },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(15_000),
          });
          status = response.status;
          json = (await response.json().catch(() => undefined)) as typeof json;
        } catch {
          await sleep(100 + Math.random() * 150);
          continue; // the process is restarting, or the connection broke: same key again
        }
        if (status === 503) {
          await sleep(100 + Math.random() * 150);
          continue;
        }
        if (status === 201 || status === 200) {
          op.outcome = "acked";
          op.id = json?.id;
        } else if (status === 409) {
          op.outcome = "refused";
        } else {
          options.unexpected.push(`${op.kind} ${key}: ${status} ${JSON.stringify(json).slice(0, 300)}`);
          op.outcome = "refused";
        }
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: options.clients }, (_, n) => client(n)));
  return ops;
}

/** Terminates every other backend on the database: the API's pool, its listeners, the dispatcher's. */
export async function terminateBackends(admin: Db, database: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>(
    `select (count(*) filter (where pg_terminate_backend(pid)))::int as n from (
       select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() offset 0
     ) others`,
    [database],
  );
  return rows[0]?.n ?? 0;
}

/**
 * The invariants, each a list of violations (empty when it holds):
 * - every level's on_hand equals its movements (the ledger check) and reserved its active holds;
 * - every acknowledged operation applied exactly once, every refused one not at all, every unknown
 *   one fully or not at all;
 * - every change of the run's levels has its stock.changed event, in an unbroken chain from the
 *   first to the final numbers, and every stock.* event since `sinceEventId` reached the receiver.
 */
export async function checkInvariants(
  db: Db,
  ops: Op[],
  skus: string[],
  received: Set<string>,
  sinceEventId: string,
): Promise<Record<string, string[]>> {
  const violations: Record<string, string[]> = { ledger: [], holds: [], exactlyOnce: [], allOrNothing: [], events: [] };

  const ledger = await db.query<{ result: { mismatches: unknown[] } }>("select private.check_stock_ledger() as result");
  for (const mismatch of ledger.rows[0]?.result.mismatches ?? []) violations.ledger?.push(JSON.stringify(mismatch));

  const holds = await db.query<{ sku: string; reserved: number; held: number }>(
    `select v.sku, sl.reserved, coalesce(h.held, 0)::int as held
     from public.stock_levels sl join public.product_variants v on v.id = sl.variant_id
     left join (
       select i.variant_id, i.location_id, sum(i.quantity) as held
       from public.reservation_items i join public.reservations r on r.id = i.reservation_id
       where r.status = 'active' group by 1, 2
     ) h on h.variant_id = sl.variant_id and h.location_id = sl.location_id
     where sl.reserved <> coalesce(h.held, 0)`,
  );
  for (const row of holds.rows)
    violations.holds?.push(`${row.sku}: reserved ${row.reserved}, active holds ${row.held}`);

  const movements = await db.query<{ key: string; n: number; quantity: number }>(
    `select idempotency_key as key, count(*)::int as n, sum(quantity)::int as quantity
     from public.stock_movements where idempotency_key like 'fault-%' group by 1`,
  );
  const movementsByKey = new Map(movements.rows.map((row) => [row.key, row]));
  const reservations = await db.query<{ key: string; id: string; items: number; quantity: number }>(
    `select r.reference_id as key, r.id::text, count(i.*)::int as items, coalesce(sum(i.quantity), 0)::int as quantity
     from public.reservations r left join public.reservation_items i on i.reservation_id = r.id
     where r.reference_type = 'external' and r.reference_id like 'fault-%' group by 1, 2`,
  );
  const reservationsByKey = new Map<string, { id: string; items: number; quantity: number }[]>();
  for (const row of reservations.rows) reservationsByKey.set(row.key, [...(reservationsByKey.get(row.key) ?? []), row]);

  for (const op of ops) {
    if (op.kind === "adjust") {
      const applied = movementsByKey.get(op.key);
      const count = applied?.n ?? 0;
      if (count > 1) violations.exactlyOnce?.push(`${op.key}: applied ${count} times`);
      if (op.outcome === "acked" && count !== 1)
        violations.exactlyOnce?.push(`${op.key}: acknowledged, applied ${count} times`);
      if (op.outcome === "refused" && count !== 0) violations.exactlyOnce?.push(`${op.key}: refused, applied anyway`);
      if (count === 1 && applied?.quantity !== op.quantity)
        violations.allOrNothing?.push(`${op.key}: moved ${applied?.quantity}`);
    } else {
      const applied = reservationsByKey.get(op.key) ?? [];
      if (applied.length > 1) violations.exactlyOnce?.push(`${op.key}: ${applied.length} reservations`);
      if (op.outcome === "acked" && (applied.length !== 1 || applied[0]?.id !== op.id))
        violations.exactlyOnce?.push(`${op.key}: acknowledged as ${op.id}, found ${JSON.stringify(applied)}`);
      if (op.outcome === "refused" && applied.length !== 0)
        violations.exactlyOnce?.push(`${op.key}: refused, reserved anyway`);
      for (const reservation of applied) {
        if (reservation.items !== 2 || reservation.quantity !== 2 * op.quantity)
          violations.allOrNothing?.push(`${op.key}: holds ${reservation.items} items, ${reservation.quantity} units`);
      }
    }
  }

  // Per level, events in id order (taken under the level's row lock) chain from before to after.
  const events = await db.query<{ id: string; sku: string; before: Numbers; after: Numbers }>(
    `select e.id::text, e.payload ->> 'sku' as sku, e.payload -> 'before' as before, e.payload -> 'after' as after
     from private.events e
     where e.topic = 'stock.changed' and e.payload ->> 'sku' = any ($1) and e.payload ->> 'location_code' = 'main'
     order by e.id`,
    [skus],
  );
  const levels = await db.query<{ sku: string; on_hand: number; reserved: number }>(
    `select v.sku, sl.on_hand, sl.reserved from public.stock_levels sl
     join public.product_variants v on v.id = sl.variant_id join public.locations l on l.id = sl.location_id
     where v.sku = any ($1) and l.code = 'main'`,
    [skus],
  );
  for (const sku of skus) {
    const chain = events.rows.filter((event) => event.sku === sku);
    for (let i = 1; i < chain.length; i++) {
      const [previous, current] = [chain[i - 1], chain[i]];
      if (!same(previous?.after, current?.before))
        violations.events?.push(
          `${sku}: event ${current?.id} starts at ${JSON.stringify(current?.before)}, not where ${previous?.id} ended`,
        );
    }
    const final = levels.rows.find((row) => row.sku === sku);
    const last = chain.at(-1)?.after;
    if (!final || !last || last.on_hand !== final.on_hand || last.reserved !== final.reserved)
      violations.events?.push(
        `${sku}: the last event says ${JSON.stringify(last)}, the level ${JSON.stringify(final)}`,
      );
  }
  const due = await db.query<{ id: string }>(
    "select e.id::text from private.events e where e.topic like 'stock.%' and e.id > $1::bigint order by e.id",
    [sinceEventId],
  );
  const missing = due.rows.filter((row) => !received.has(`evt_${row.id}`));
  if (missing.length > 0)
    violations.events?.push(`${missing.length} of ${due.rows.length} stock events never reached the receiver`);
  return violations;
}

interface Numbers {
  on_hand: number;
  reserved: number;
}
const same = (a?: Numbers, b?: Numbers) => a?.on_hand === b?.on_hand && a?.reserved === b?.reserved;

/**
 * The deliberately broken build the checker must catch: reserve_stock's fast path turned into a
 * read-then-write (read `reserved` without a lock, then write back what was read plus the hold),
 * so concurrent holds overwrite each other. Throws if reserve_stock no longer has that fast path.
 */
export async function breakReservations(db: Db): Promise<void> {
  const { rows } = await db.query<{ definition: string }>(
    "select pg_get_functiondef('private.reserve_stock(jsonb, integer, text, text, text)'::regprocedure) as definition",
  );
  const atomic = `          update public.stock_levels sl
          set reserved = sl.reserved + v_want, updated_at = now()
          where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i]
            and (sl.allow_backorder or sl.on_hand - sl.reserved >= v_want);`;
  const readThenWrite = `          select sl.reserved into v_avail from public.stock_levels sl
          where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i];
          perform pg_sleep(0.005);
          update public.stock_levels sl
          set reserved = v_avail + v_want, updated_at = now()
          where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i]
            and (sl.allow_backorder or sl.on_hand - v_avail >= v_want);`;
  const definition = rows[0]?.definition ?? "";
  if (!definition.includes(atomic)) throw new Error("reserve_stock's fast path changed: update the broken variant");
  await db.exec(definition.replace(atomic, readThenWrite));
}
