import { type ConstraintRules, rules } from "../../http/constraints.ts";

// What each order constraint means to a client (see http/constraints.ts).
export const orderConstraints: ConstraintRules = {
  ...rules("public.orders", {
    orders_pkey: [null, "internal", "an order exists already"],
    orders_number_key: [null, "internal", "order numbers are unique"],
    orders_number_check: [null, "internal", "an order number is SK- and digits"],
    orders_reservation_id_key: [null, "internal", "an order owns its own stock hold"],
    orders_reservation_id_fkey: [null, "internal", "an order's hold is an existing reservation"],
    orders_payment_reference_key: ["payment_reference", "taken", "another order was paid with this payment reference"],
    orders_payment_reference_check: ["payment_reference", "invalid", "a payment reference is 1 to 200 characters"],
    orders_tracking_number_check: ["tracking_number", "invalid", "a tracking number is 1 to 200 characters"],
    orders_carrier_check: ["carrier", "invalid", "a carrier is 1 to 100 characters"],
    orders_cancel_reason_check: ["reason", "too_long", "a cancel reason is at most 1,000 characters"],
    orders_currency_check: [null, "internal", "an order's currency is an ISO 4217 code"],
    orders_customer_email_check: ["customer.email", "invalid", "an email address looks like name@example.com"],
    orders_customer_name_check: ["customer.name", "invalid", "a customer name is 1 to 200 characters"],
    orders_note_check: ["note", "too_long", "a note is at most 2,000 characters"],
    orders_shipping_address_check: ["shipping_address", "invalid", "a shipping address is a JSON object"],
    orders_status_check: ["status", "invalid", "not an order status"],
    orders_subtotal_amount_check: [null, "internal", "a subtotal is never negative"],
    orders_paid_when_past_pending: [null, "internal", "an order past pending records when it was paid"],
    orders_shipped_when_shipped: [null, "internal", "a shipped order records when it shipped"],
    orders_delivered_when_delivered: [null, "internal", "a delivered order records when it was delivered"],
    orders_returned_when_returned: [null, "internal", "a returned order records when it came back"],
    orders_cancelled_when_cancelled: [null, "internal", "a cancelled order records when it was cancelled"],
  }),
  ...rules("public.order_lines", {
    order_lines_pkey: [null, "internal", "each line of an order is numbered once"],
    order_lines_line_no_check: ["items", "too_long", "an order has 1 to 100 lines"],
    order_lines_quantity_check: ["quantity", "out_of_range", "a line's quantity is 1 to 10,000"],
    order_lines_unit_price_amount_check: [null, "internal", "a unit price is never negative"],
    order_lines_order_id_fkey: [null, "internal", "a line belongs to an existing order"],
    order_lines_variant_id_fkey: ["sku", "not_found", "no such variant"],
  }),
  ...rules("public.order_status_history", {
    order_status_history_pkey: [null, "internal", "each status change is recorded once"],
    order_status_history_order_id_fkey: [null, "internal", "a status change belongs to an existing order"],
  }),
};
