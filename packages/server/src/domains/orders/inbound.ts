import { Problem } from "../../http/problems.ts";
import { inboundHandler } from "../../platform/inbound-handler.ts";
import { type PmsOrder, PmsOrderSchema } from "./schemas.ts";
import { applyOrderTransition } from "./service.ts";

/**
 * The `pms-order` inbound webhook: an order status change, through the same SQL transition as the
 * API. It runs as the service role, so its secret carries what a manager may do to an order (the
 * PMS enforces its own users' roles); a report the order has already moved past is acknowledged.
 */
export const pmsOrderHandler = inboundHandler<PmsOrder>({
  source: "pms-order",
  description: "Order status update (paid, shipped, delivered, cancelled) for an order named by id or number.",
  payload: PmsOrderSchema,
  async apply(tx, message, { source }) {
    let id = message.order_id;
    if (id === undefined) {
      const { rows } = await tx.query<{ id: string }>("select id from public.orders where number = $1", [
        message.order_number,
      ]);
      id = rows[0]?.id;
      if (id === undefined) throw new Problem("not-found", `no order ${message.order_number}`);
    }
    const { order_id: _, order_number: __, ...change } = message;
    const order = await applyOrderTransition(tx, id, change, source);
    return { order_id: order.id, number: order.number, status: order.status, version: order.version };
  },
});
