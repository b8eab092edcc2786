import pg from "pg";
import { migrate } from "../packages/local/src/migrate.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";
import { compareRows, interleave, printTable, type Row, scratchDatabase } from "./lib.ts";

export const description =
  "place_order() and its payment vs. reserve_stock() and commit_reservation() alone, same lines";

const CONNECTIONS = 16;
const SKUS = 10_000;
const BUDGET = { ms: 3_000, warmupMs: 500, rounds: 2, concurrency: CONNECTIONS };

export default async function orders(): Promise<void> {
  const scratch = await scratchDatabase("orders");
  const db = createPostgresDb(scratch.url, { max: 2, applicationName: "storekeep-bench" });
  const pool = new pg.Pool({ connectionString: scratch.url, max: CONNECTIONS, application_name: "storekeep-bench" });
  try {
    await migrate(db, { seed: true });
    await db.exec(`
      insert into public.products (id, handle, title) values ('b0000000-0000-4000-8000-000000000002', 'bench', 'Bench');
      insert into public.product_variants (product_id, sku, price_amount, currency)
      select 'b0000000-0000-4000-8000-000000000002', 'BENCH-' || n, 100, 'EUR' from generate_series(1, ${SKUS}) n;
      update public.products set status = 'published' where handle = 'bench';
      insert into public.stock_movements (variant_id, location_id, kind, quantity)
      select sl.variant_id, sl.location_id, 'receipt', 1000000 from public.stock_levels sl
      join public.locations l on l.id = sl.location_id and l.code = 'main';
      analyze;
    `);
    console.log(`scratch database: ${SKUS.toLocaleString("en-US")} skus, pool of ${CONNECTIONS} connections`);

    const lines = () =>
      Array.from({ length: 3 }, () => ({ sku: `BENCH-${1 + Math.floor(Math.random() * SKUS)}`, quantity: 1 }));
    const placeOrder = (ship: boolean) => async () => {
      const { rows } = await pool.query<{ id: string }>("select private.place_order($1::jsonb) ->> 'id' as id", [
        JSON.stringify({ items: lines(), customer: { email: "bench@example.com" } }),
      ]);
      if (ship) {
        await pool.query("select private.set_order_status($1, 'paid')", [rows[0]?.id]);
        await pool.query("select private.set_order_status($1, 'shipped')", [rows[0]?.id]);
      }
    };
    const reserveOnly = (commit: boolean) => async () => {
      const { rows } = await pool.query<{ id: string }>(
        "select private.reserve_stock($1::jsonb, 3600, 'cart', gen_random_uuid()::text) ->> 'id' as id",
        [JSON.stringify(lines())],
      );
      if (commit) await pool.query("select private.commit_reservation($1)", [rows[0]?.id]);
    };

    const rows: Row[] = [];
    rows.push(
      ...compareRows(
        "place_order()",
        "reserve_stock()",
        await interleave(placeOrder(false), reserveOnly(false), BUDGET),
      ),
    );
    rows.push(
      ...compareRows(
        "place, pay, ship",
        "reserve + commit",
        await interleave(placeOrder(true), reserveOnly(true), BUDGET),
      ),
    );
    printTable(
      "Orders per second: private.place_order() (validation, catalog prices, the reservation, order, lines,\n" +
        "history and order.created) vs. private.reserve_stock() alone for the same 3 random lines over\n" +
        `${SKUS} skus; then each order paid and shipped (set_order_status) vs. commit_reservation() alone.\n` +
        `${CONNECTIONS} connections and ${CONNECTIONS} in flight on both sides; rounds alternate A/B. Aim: >= 0.70x`,
      rows,
    );
  } finally {
    await Promise.allSettled([pool.end(), db.close()]);
    await scratch.drop();
  }
}
