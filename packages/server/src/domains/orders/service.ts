import { callAsUser } from "../../platform/db/call.ts";
import { idempotentAsUser } from "../../platform/db/idempotency.ts";
import type { Db, DbClaims, Queryable } from "../../platform/db/types.ts";
import type { Order, PlaceOrder, SetOrderStatus } from "./schemas.ts";

// Every order rule lives in SQL (supabase/migrations/2026112205xxxx_orders*): each function here is
// one call into one SQL function, run as the caller so it can check the caller's role.

export function placeOrder(
  db: Db,
  claims: DbClaims,
  input: PlaceOrder,
  idempotencyKey?: string,
): Promise<{ result: Order; replayed: boolean }> {
  return idempotentAsUser(db, claims, idempotencyKey, "placeOrder", input, async (tx) => {
    const { rows } = await tx.query<{ result: Order }>("select private.place_order($1::jsonb) as result", [
      JSON.stringify(input),
    ]);
    return rows[0]?.result as Order;
  });
}

export function getOrder(db: Db, claims: DbClaims, id: string) {
  return callAsUser<Order>(db, claims, "select private.get_order($1) as result", [id]);
}

export function listOrders(
  db: Db,
  claims: DbClaims,
  query: { status?: string; customer_email?: string; before?: [string, string]; limit: number },
) {
  return callAsUser<(Order & { cursor_created_at: string })[]>(
    db,
    claims,
    "select private.list_orders($1, $2, $3, $4, $5) as result",
    [
      query.status ?? null,
      query.customer_email ?? null,
      query.before?.[0] ?? null,
      query.before?.[1] ?? null,
      query.limit,
    ],
  );
}

type Transition = Omit<SetOrderStatus, "version">;

const details = ({ payment_reference, tracking_number, carrier }: Transition) =>
  JSON.stringify({ payment_reference, tracking_number, carrier });

export function setOrderStatus(
  db: Db,
  claims: DbClaims,
  id: string,
  change: Transition,
  expectedVersion: number | null,
) {
  return callAsUser<Order>(db, claims, "select private.set_order_status($1, $2, $3, $4::jsonb, $5) as result", [
    id,
    change.status,
    change.reason ?? null,
    details(change),
    expectedVersion,
  ]);
}

/** A transition reported by an inbound webhook, inside its transaction (as the service role). */
export async function applyOrderTransition(tx: Queryable, id: string, change: Transition, source: string) {
  const { rows } = await tx.query<{ result: Order }>(
    "select private.order_transition($1, $2, $3, $4, $5::jsonb) as result",
    [id, change.status, `webhook:${source}`, change.reason ?? null, details(change)],
  );
  return rows[0]?.result as Order;
}
