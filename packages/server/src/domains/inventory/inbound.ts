import { inboundHandler } from "../../platform/inbound-handler.ts";
import { type PmsInventory, PmsInventorySchema } from "./schemas.ts";

/** Stock adjustment through the inventory's adjust_stock, with the message id as idempotency key. */
export const pmsInventoryHandler = inboundHandler<PmsInventory>({
  source: "pms-inventory",
  description: "Stock adjustment of one SKU at one location (the message id is the idempotency key).",
  payload: PmsInventorySchema,
  async apply(tx, adjustment, message) {
    const reference = `${message.source}:${message.id}`;
    const key = `webhook:${message.source}:${message.id}`;
    const { rows } = await tx.query<{ result: { movement: { id: string }; replayed: boolean } }>(
      adjustment.kind === "count"
        ? "select private.count_stock($1, $2, $3, $4, 'external', $5, $6) as result"
        : "select private.adjust_stock($1, $2, $3, $4, $5, 'external', $6, $7) as result",
      adjustment.kind === "count"
        ? [adjustment.sku, adjustment.location_code, adjustment.counted, adjustment.reason ?? null, reference, key]
        : [
            adjustment.sku,
            adjustment.location_code,
            adjustment.delta,
            adjustment.kind,
            adjustment.reason ?? null,
            reference,
            key,
          ],
    );
    const result = rows[0]?.result;
    return { movement_id: result?.movement.id, replayed: result?.replayed ?? false };
  },
});
