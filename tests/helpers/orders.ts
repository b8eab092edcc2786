import type { Db } from "../../packages/server/src/platform/db/types.ts";
import { createVariants, receive, uniqueSku } from "./inventory.ts";

/** A published product with one variant per sku (price 1000 EUR each, or as given), as the owner. */
export async function createSellableVariants(
  db: Db,
  skus: string[],
  options: { price?: number; currency?: string } = {},
): Promise<string[]> {
  const ids = await createVariants(db, skus);
  await db.query("update public.product_variants set price_amount = $2, currency = $3 where id = any($1::uuid[])", [
    ids,
    options.price ?? 1000,
    options.currency ?? "EUR",
  ]);
  await db.query(
    "update public.products set status = 'published' where id in (select product_id from public.product_variants where id = any($1::uuid[]))",
    [ids],
  );
  return ids;
}

/** A fresh sellable sku with `quantity` received at `main`. */
export async function stocked(
  db: Db,
  prefix: string,
  quantity: number,
  options: { price?: number; currency?: string } = {},
): Promise<string> {
  const sku = uniqueSku(prefix);
  await createSellableVariants(db, [sku], options);
  await receive(db, sku, "main", quantity);
  return sku;
}

export const customer = { email: "ada@example.com", name: "Ada Lovelace" };

/** Events of a topic about one order, in order. */
export async function orderEvents(db: Db, orderId: string, topic = "order.status_changed") {
  const { rows } = await db.query<{ payload: Record<string, unknown> }>(
    "select payload from private.events where topic = $1 and payload ->> 'id' = $2 order by id",
    [topic, orderId],
  );
  return rows.map((row) => row.payload);
}

/** An order's reservation made overdue, as if its payment window had elapsed. */
export async function elapsePaymentWindow(db: Db, orderId: string): Promise<void> {
  await db.query(
    `update public.reservations set expires_at = now() - interval '1 second'
     where id = (select reservation_id from public.orders where id = $1)`,
    [orderId],
  );
  await db.query("update public.orders set payment_due_at = now() - interval '1 second' where id = $1", [orderId]);
}
