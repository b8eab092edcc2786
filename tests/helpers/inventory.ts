import type { Db } from "../../packages/server/src/platform/db/types.ts";

/** Creates a product with one variant per sku, directly as the database owner (no catalog API). */
export async function createVariants(db: Db, skus: string[]): Promise<string[]> {
  const handle = `inv-${Math.random().toString(36).slice(2, 10)}`;
  const { rows } = await db.query<{ id: string }>(
    "insert into public.products (handle, title) values ($1, 'Inventory test product') returning id",
    [handle],
  );
  const productId = rows[0]?.id;
  const ids: string[] = [];
  for (const sku of skus) {
    const variant = await db.query<{ id: string }>(
      `insert into public.product_variants (product_id, sku, price_amount, currency)
       values ($1, $2, 1000, 'EUR') returning id`,
      [productId, sku],
    );
    ids.push(variant.rows[0]?.id as string);
  }
  return ids;
}

/** A unique sku for this run, so files and tests never share stock. */
export const uniqueSku = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`.toUpperCase();

/** Adds a location directly as the owner. */
export async function createLocation(db: Db, code: string, options: { priority?: number; online?: boolean } = {}) {
  await db.query(
    "insert into public.locations (code, name, priority, fulfils_online) values ($1, $1, $2, $3) on conflict (code) do nothing",
    [code, options.priority ?? 100, options.online ?? true],
  );
}

/** Receives stock through the ledger (a movement), as the owner. */
export async function receive(db: Db, sku: string, locationCode: string, quantity: number): Promise<void> {
  await db.query(
    `insert into public.stock_movements (variant_id, location_id, kind, quantity, reason)
     select v.id, l.id, 'receipt', $3, 'test stock' from public.product_variants v, public.locations l
     where lower(v.sku) = lower($1) and l.code = $2`,
    [sku, locationCode, quantity],
  );
}

/** One level's numbers. */
export async function level(db: Db, sku: string, locationCode: string) {
  const { rows } = await db.query<{ on_hand: number; reserved: number; available: number }>(
    `select sl.on_hand, sl.reserved, sl.available from public.stock_levels sl
     join public.product_variants v on v.id = sl.variant_id join public.locations l on l.id = sl.location_id
     where lower(v.sku) = lower($1) and l.code = $2`,
    [sku, locationCode],
  );
  return rows[0];
}

/** The ledger check's mismatches, run as the owner. */
export async function ledgerMismatches(db: Db): Promise<unknown[]> {
  const { rows } = await db.query<{ result: { mismatches: unknown[] } }>(
    "select private.check_stock_ledger() as result",
  );
  return rows[0]?.result.mismatches ?? [];
}

/** Events of a topic whose payload has this sku, in order. */
export async function eventsFor(db: Db, topic: string, sku: string) {
  const { rows } = await db.query<{ payload: Record<string, unknown> }>(
    "select payload from private.events where topic = $1 and payload ->> 'sku' = $2 order by id",
    [topic, sku],
  );
  return rows.map((row) => row.payload);
}
