import { describe, expect, it } from "vitest";
import { BindingError, type Change, matches, parseBinding } from "../packages/local/src/realtime/filters.ts";

// The server-side filters of postgres_changes (supabase-js applies none): each operator on the
// kinds of values rows carry.
const update = (record: Record<string, unknown>): Change => ({
  schema: "public",
  table: "stock_levels",
  type: "UPDATE",
  record,
  old_record: { variant_id: record.variant_id, location_id: record.location_id },
});
const binding = (filter?: string, event = "*") =>
  parseBinding({ event, schema: "public", table: "stock_levels", ...(filter ? { filter } : {}) }, 1);

describe("postgres_changes filters", () => {
  it.each([
    ["on_hand=eq.5", 5, true],
    ["on_hand=eq.5", 6, false],
    ["on_hand=neq.5", 6, true],
    ["on_hand=lt.10", 9, true],
    ["on_hand=lt.10", 10, false],
    ["on_hand=lte.10", 10, true],
    ["on_hand=gt.10", 11, true],
    ["on_hand=gt.10", 9, false],
    ["on_hand=gte.10", 10, true],
    ["on_hand=gte.10", 2, false],
    ["on_hand=in.(1,2,3)", 2, true],
    ["on_hand=in.(1,2,3)", 4, false],
  ])("%s on %s is %s", (filter, value, expected) => {
    expect(matches(binding(filter), update({ on_hand: value }))).toBe(expected);
  });

  it("compares numbers as numbers, timestamps as instants, text as text, and null only with eq.null", () => {
    expect(matches(binding("on_hand=gt.9"), update({ on_hand: 10 }))).toBe(true); // "10" > "9" as text would fail
    expect(
      matches(binding("updated_at=gt.2026-12-01T10:00:00Z"), update({ updated_at: "2026-12-01T10:00:01+00:00" })),
    ).toBe(true);
    expect(matches(binding("sku=lt.B"), update({ sku: "A-1" }))).toBe(true);
    expect(matches(binding("reason=eq.null"), update({ reason: null }))).toBe(true);
    expect(matches(binding("reason=gt.0"), update({ reason: null }))).toBe(false);
  });

  it("matches schema, table and event, and lets deletes through when the filter column is not in the key", () => {
    const deleted: Change = {
      schema: "public",
      table: "stock_levels",
      type: "DELETE",
      record: null,
      old_record: { variant_id: "v" },
    };
    expect(matches(binding(undefined, "INSERT"), update({}))).toBe(false);
    expect(matches(binding(undefined, "UPDATE"), update({}))).toBe(true);
    expect(matches(binding("variant_id=eq.v", "DELETE"), deleted)).toBe(true);
    expect(matches(binding("variant_id=eq.w", "DELETE"), deleted)).toBe(false);
    expect(matches(binding("on_hand=eq.1", "DELETE"), deleted)).toBe(true);
    expect(matches(binding(), { ...update({}), table: "products" })).toBe(false);
    expect(matches(parseBinding({ event: "*", schema: "public" }, 2), { ...update({}), table: "products" })).toBe(true);
  });

  it("refuses unknown operators, a filter without a table, and a missing schema", () => {
    expect(() => binding("on_hand=like.5")).toThrow(BindingError);
    expect(() => parseBinding({ event: "*", schema: "public", filter: "a=eq.1" }, 1)).toThrow(BindingError);
    expect(() => parseBinding({ event: "*" }, 1)).toThrow(BindingError);
    expect(() => binding(undefined, "TRUNCATE")).toThrow(BindingError);
  });
});
