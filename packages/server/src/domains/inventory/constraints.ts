import { type ConstraintRules, rules } from "../../http/constraints.ts";

// What each inventory constraint means to a client (see http/constraints.ts).
export const inventoryConstraints: ConstraintRules = {
  ...rules("public.locations", {
    locations_pkey: ["id", "taken", "a location with this id exists"],
    locations_code_key: ["code", "taken", "another location has this code"],
    locations_code_check: ["code", "invalid", "a code is letters, digits, _ and -, up to 63"],
    locations_name_check: ["name", "invalid", "a name is 1 to 200 characters"],
    locations_address_check: ["address", "too_long", "an address is at most 1,000 characters"],
    locations_type_check: ["type", "invalid", "a location is a warehouse or a shop"],
    locations_latitude_check: ["latitude", "out_of_range", "latitude is between -90 and 90"],
    locations_longitude_check: ["longitude", "out_of_range", "longitude is between -180 and 180"],
    locations_check: ["longitude", "inconsistent", "latitude and longitude go together: give both or neither"],
    locations_priority_check: ["priority", "out_of_range", "priority is between 0 and 1,000,000"],
    locations_version_check: ["version", "too_small", "a version is 1 or more"],
  }),
  ...rules("public.stock_levels", {
    stock_levels_pkey: [null, "internal", "a variant has one level per location"],
    stock_levels_on_hand_not_negative: ["delta", "insufficient_stock", "on hand stock cannot go below zero"],
    stock_levels_reserved_not_negative: [null, "internal", "reserved stock is never negative"],
    stock_levels_reserved_within_on_hand: [
      "allow_backorder",
      "below_reserved",
      "more is reserved than on hand: backorders must stay allowed until the holds are released or stock arrives",
    ],
    stock_levels_reorder_point_check: ["reorder_point", "too_small", "a reorder point is zero or more"],
    stock_levels_reorder_quantity_check: ["reorder_quantity", "too_small", "a reorder quantity is zero or more"],
    stock_levels_location_id_fkey: ["location_code", "not_found", "no such location"],
    stock_levels_variant_id_fkey: ["sku", "not_found", "no such variant"],
  }),
  ...rules("public.reorder_suggestions", {
    reorder_suggestions_pkey: [null, "internal", "a suggestion exists already"],
    reorder_suggestions_one_open_key: [null, "internal", "a level has at most one open reorder suggestion"],
    reorder_suggestions_status_check: ["status", "invalid", "a suggestion is open, resolved or dismissed"],
    reorder_suggestions_suggested_quantity_check: [null, "internal", "a suggested quantity is positive"],
    reorder_suggestions_variant_id_location_id_fkey: [null, "internal", "a suggestion belongs to an existing level"],
  }),
  ...rules("public.stock_movements", {
    stock_movements_pkey: [null, "internal", "each movement is recorded once"],
    stock_movements_idempotency_key_key: [
      "idempotency_key",
      "taken",
      "this idempotency key was used for another movement",
    ],
    stock_movements_idempotency_key_check: ["idempotency_key", "invalid", "an idempotency key is 1 to 200 characters"],
    stock_movements_kind_check: ["kind", "invalid", "not a movement kind"],
    stock_movements_quantity_nonzero: ["delta", "invalid", "a movement moves something: the change must not be 0"],
    stock_movements_sign_matches_kind: [
      "delta",
      "wrong_sign",
      "receipts and returns add stock (a positive change); damage and loss take it away (a negative change)",
    ],
    stock_movements_counted_only_for_counts: [
      "counted",
      "invalid",
      "only a count takes counted, and it is zero or more",
    ],
    stock_movements_reason_check: ["reason", "too_long", "a reason is at most 1,000 characters"],
    stock_movements_reference_complete: ["reference", "inconsistent", "a reference has both a type and an id"],
    stock_movements_reference_type_check: ["reference.type", "invalid", "not a reference type"],
    stock_movements_reference_id_check: ["reference.id", "invalid", "a reference id is 1 to 200 characters"],
    stock_movements_reservation_fkey: [null, "internal", "a sale references an existing reservation"],
    stock_movements_variant_id_location_id_fkey: ["sku", "not_found", "this sku has no stock level at this location"],
  }),
  ...rules("public.reservations", {
    reservations_pkey: [null, "internal", "a reservation exists already"],
    reservations_idempotency_key_key: [
      "idempotency_key",
      "taken",
      "this idempotency key was used for another reservation",
    ],
    reservations_idempotency_key_check: ["idempotency_key", "invalid", "an idempotency key is 1 to 200 characters"],
    reservations_reference_complete: ["reference", "inconsistent", "a reference has both a type and an id"],
    reservations_reference_type_check: [
      "reference.type",
      "invalid",
      "a reservation is for a cart, an order or an external caller",
    ],
    reservations_reference_id_check: ["reference.id", "invalid", "a reference id is 1 to 200 characters"],
    reservations_status_check: [null, "internal", "a reservation is active, committed, released or expired"],
    reservations_closed_when_not_active: [
      null,
      "internal",
      "a reservation is closed exactly when it is no longer active",
    ],
  }),
  ...rules("public.reservation_items", {
    reservation_items_pkey: [null, "internal", "a reservation holds a level once"],
    reservation_items_quantity_check: ["quantity", "too_small", "a quantity is 1 or more"],
    reservation_items_reservation_id_fkey: [null, "internal", "an item belongs to an existing reservation"],
  }),
};
