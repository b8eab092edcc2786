import pg from "pg";
import { migrate } from "../packages/local/src/migrate.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import { compareRows, interleave, printTable, type Row, scratchDatabase } from "./lib.ts";

export const description =
  "reserve_stock() on one hot sku and over 10,000 skus vs. a bare conditional UPDATE, same connections";

const CONNECTIONS = 16;
const SKUS = 10_000;
const BUDGET = { ms: 3_000, warmupMs: 500, rounds: 2, concurrency: CONNECTIONS };

export default async function inventory(): Promise<void> {
  const scratch = await scratchDatabase("inventory");
  const db = createPostgresDb(scratch.url, { max: 2, applicationName: "storekeep-bench" });
  const pool = new pg.Pool({ connectionString: scratch.url, max: CONNECTIONS, application_name: "storekeep-bench" });
  try {
    await migrate(db, { seed: true });
    // 10,000 variants with 1,000,000 units each at `main`, received through the ledger.
    await db.exec(`
      insert into public.products (id, handle, title) values ('b0000000-0000-4000-8000-000000000001', 'bench', 'Bench');
      insert into public.product_variants (product_id, sku, price_amount, currency)
      select 'b0000000-0000-4000-8000-000000000001', 'BENCH-' || n, 100, 'EUR' from generate_series(1, ${SKUS}) n;
      insert into public.stock_movements (variant_id, location_id, kind, quantity)
      select sl.variant_id, sl.location_id, 'receipt', 1000000 from public.stock_levels sl
      join public.locations l on l.id = sl.location_id and l.code = 'main';
      -- The baseline: the same rows in a plain table with no trigger, no event, no ledger.
      create table bench_levels as
        select variant_id, location_id, on_hand, reserved from public.stock_levels;
      alter table bench_levels add primary key (variant_id, location_id);
      analyze;
    `);
    const ids = (
      await db.query<{ variant_id: string; location_id: string }>(
        `select sl.variant_id, sl.location_id from public.stock_levels sl
         join public.product_variants v on v.id = sl.variant_id order by v.sku`,
      )
    ).rows;
    console.log(`scratch database: ${SKUS.toLocaleString("en-US")} skus, pool of ${CONNECTIONS} connections`);

    const reserve = (sku: string) => async () => {
      await pool.query("select private.reserve_stock($1::jsonb, 900)", [JSON.stringify([{ sku, quantity: 1 }])]);
    };
    const bare = (row: { variant_id: string; location_id: string }) => async () => {
      const { rowCount } = await pool.query(
        "update bench_levels set reserved = reserved + $3 where variant_id = $1 and location_id = $2 and on_hand - reserved >= $3",
        [row.variant_id, row.location_id, 1],
      );
      if (rowCount !== 1) throw new Error("the bare update found no stock");
    };
    const pick = () => Math.floor(Math.random() * SKUS);

    const rows: Row[] = [];
    const hot = await interleave(reserve("BENCH-1"), bare(ids[0] as (typeof ids)[number]), BUDGET);
    rows.push(...compareRows("hot sku reserve_stock()", "bare UPDATE", hot));
    const spread = await interleave(
      () => reserve(`BENCH-${pick() + 1}`)(),
      () => bare(ids[pick()] as (typeof ids)[number])(),
      BUDGET,
    );
    rows.push(...compareRows(`${SKUS} skus reserve_stock()`, "bare UPDATE", spread));

    printTable(
      "Reservations per second: private.reserve_stock() (one 1-unit line: validation, allocation, the\n" +
        "reservation and its item, stock.changed in the outbox) vs. a bare `UPDATE ... SET reserved = reserved + 1\n" +
        "WHERE ... AND on_hand - reserved >= 1` on a trigger-free copy of the levels; one statement per transaction,\n" +
        `${CONNECTIONS} connections and ${CONNECTIONS} in flight on both sides; rounds alternate A/B. Aim on the hot sku: >= 0.80x`,
      rows,
    );
  } finally {
    await Promise.allSettled([pool.end(), db.close()]);
    await scratch.drop();
  }
}
