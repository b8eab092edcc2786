import pg from "pg";
import { migrate } from "../packages/local/src/migrate.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import type { Db } from "../packages/server/src/platform/db/types.ts";
import { printTable, type Row, scratchDatabase } from "./lib.ts";
import type { Line } from "./perf.ts";

export const description =
  "a flash sale: 64 and 256 clients, 20,000 attempts on one sku of 1,000 units, vs. a bare conditional UPDATE at 1 and at the same clients";

export const timeLimitSeconds = 600;

const UNITS = 1_000;
const ATTEMPTS = 20_000;
const CLIENTS = [64, 256];
/** Connections on both sides: clients beyond it wait in the pool, as behind an app or a pooler. */
const CONNECTIONS = 32;

interface Outcome {
  seconds: number;
  winners: number[];
  losers: number[];
}

/** `clients` loops share `ATTEMPTS` attempts; each attempt's latency goes to winners or losers. */
async function sale(attempt: () => Promise<boolean>, clients: number): Promise<Outcome> {
  const winners: number[] = [];
  const losers: number[] = [];
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (issued < ATTEMPTS) {
        issued++;
        const t0 = performance.now();
        const won = await attempt();
        (won ? winners : losers).push(performance.now() - t0);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, winners, losers };
}

const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor(p * s.length))] as number) : Number.NaN;
};

/** One sale per client count on a fresh sku in `mode`, each between two bare sales (at 1 and at `clients`). */
export async function flashSale(url: string, db: Db, modes: readonly string[] = ["normal"]): Promise<Line[]> {
  const pool = new pg.Pool({ connectionString: url, max: CONNECTIONS, application_name: "storekeep-bench" });
  pool.on("error", () => {});
  const lines: Line[] = [];
  const detail: Row[] = [];
  try {
    await db.exec(`
      insert into public.products (id, handle, title)
      values ('b0000000-0000-4000-8000-00000000f1a5', 'flash', 'Flash') on conflict do nothing;
      create table if not exists bench_flash (id int primary key, on_hand int not null, reserved int not null);
    `);
    const bare = async () => {
      const { rowCount } = await pool.query(
        "update bench_flash set reserved = reserved + 1 where id = 1 and on_hand - reserved >= 1",
      );
      return rowCount === 1;
    };
    const bareSale = async (clients: number) => {
      await pool.query(`delete from bench_flash; insert into bench_flash values (1, ${UNITS}, 0); analyze bench_flash`);
      const outcome = await sale(bare, clients);
      const sold = (await pool.query<{ reserved: number }>("select reserved from bench_flash")).rows[0]?.reserved;
      if (sold !== UNITS || outcome.winners.length !== UNITS) throw new Error(`bare sale sold ${sold}`);
      return outcome;
    };

    for (const mode of modes) {
      // attempts/s per client count, and the bare UPDATE's at the same clients: flat means the ratio
      // of the most clients to the fewest is near 1, measured against the bare UPDATE's own.
      const rates: { clients: number; ours: number; bare: number }[] = [];
      for (const clients of CLIENTS) {
        const sku = `FLASH-${mode}-${clients}-${Math.random().toString(36).slice(2, 6)}`.toUpperCase();
        await db.exec(`
          insert into public.product_variants (product_id, sku, price_amount, currency)
          values ('b0000000-0000-4000-8000-00000000f1a5', '${sku}', 100, 'EUR');
          insert into public.stock_movements (variant_id, location_id, kind, quantity)
          select v.id, l.id, 'receipt', ${UNITS} from public.product_variants v, public.locations l
          where v.sku = '${sku}' and l.code = 'main';
        `);
        const items = JSON.stringify([{ sku, quantity: 1 }]);
        // Not pool.query: it discards a connection whose query failed, so every loser would pay a
        // new backend (the app's Db keeps a connection that answered a business error).
        const reserve = async () => {
          const client = await pool.connect();
          try {
            await client.query("select private.reserve_stock($1::jsonb, 900)", [items]);
            return true;
          } catch (error) {
            if ((error as { code?: string }).code === "P0S01") return false;
            throw error;
          } finally {
            client.release();
          }
        };

        const bareOne = await bareSale(1);
        const subject = await sale(reserve, clients);
        const bareSame = await bareSale(clients);

        const { rows } = await pool.query<{ reserved: number; available: number; mismatches: unknown[] }>(
          `select sl.reserved, sl.available, private.check_stock_ledger() -> 'mismatches' as mismatches
           from public.stock_levels sl join public.product_variants v on v.id = sl.variant_id
           join public.locations l on l.id = sl.location_id where v.sku = $1 and l.code = 'main'`,
          [sku],
        );
        const state = rows[0];
        const sold = subject.winners.length;
        const exact = sold === UNITS && state?.available === 0 && (state?.mismatches ?? [1]).length === 0;
        if (!exact) console.error(`flash ${mode} ${clients}: sold ${sold}, level ${JSON.stringify(state)}`);

        const rate = (o: Outcome) => ATTEMPTS / o.seconds;
        rates.push({ clients, ours: rate(subject), bare: rate(bareSame) });
        const tag = `flash ${mode} c=${clients}`;
        lines.push(
          {
            row: `${tag} attempts/s (sold ${sold}/${UNITS}${exact ? ", ledger clean" : ", NOT EXACT"})`,
            unit: "ops/s",
            subject: [rate(subject)],
            baseline: [rate(bareSame)],
            baselineLabel: `bare UPDATE c=${clients}`,
            ratios: [rate(subject) / rate(bareSame)],
            aim: "exact; flat as clients grow",
            met: exact ? null : false,
          },
          {
            row: `${tag} attempts/s`,
            unit: "ops/s",
            subject: [rate(subject)],
            baseline: [rate(bareOne)],
            baselineLabel: "bare UPDATE c=1",
            ratios: [rate(subject) / rate(bareOne)],
            aim: "-",
            met: null,
          },
        );
        for (const [name, ours, theirs] of [
          ["winners", subject.winners, bareSame.winners],
          ["losers", subject.losers, bareSame.losers],
        ] as const) {
          for (const p of [0.5, 0.99]) {
            detail.push({
              figure: `${tag} ${name} p${p * 100}`,
              value: q(ours, p),
              baseline: `bare c=${clients} ${name}`,
              baselineValue: q(theirs, p),
              unit: "ms",
            });
          }
        }
        detail.push({
          figure: `${tag} attempts/s`,
          value: rate(subject),
          baseline: "bare c=1",
          baselineValue: rate(bareOne),
          unit: "ops/s",
        });
      }
      const [fewest, most] = [rates[0], rates[rates.length - 1]];
      if (fewest && most && most !== fewest) {
        const flat = most.ours / fewest.ours;
        lines.push({
          row: `flash ${mode} attempts/s, c=${most.clients} over c=${fewest.clients}`,
          unit: "x",
          subject: [flat],
          baseline: [most.bare / fewest.bare],
          baselineLabel: `bare UPDATE c=${most.clients} over c=${fewest.clients}`,
          ratios: [flat],
          aim: ">= 0.90x (flat)",
          met: flat >= 0.9,
        });
      }
    }
    printTable(
      `Flash sale: ${ATTEMPTS.toLocaleString("en-US")} attempts at ${UNITS.toLocaleString("en-US")} units of one sku, 1-unit reserve_stock;\n` +
        `clients in flight on a pool of ${CONNECTIONS} connections (both sides). Bare: a conditional UPDATE on a trigger-free table.`,
      detail,
    );
  } finally {
    await pool.end();
  }
  return lines;
}

export default async function flash(args: string[]): Promise<void> {
  const scratch = await scratchDatabase("flash");
  const db = createPostgresDb(scratch.url, { max: 4, applicationName: "storekeep-bench" });
  try {
    await migrate(db, { seed: true });
    const { printLines } = await import("./perf.ts");
    printLines("Flash sale", await flashSale(scratch.url, db, args.length ? args : ["normal"]));
  } finally {
    await db.close();
    await scratch.drop();
  }
}
