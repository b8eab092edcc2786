import { describe, expect, it } from "vitest";
import { createLocalCache } from "../packages/server/src/platform/cache/local.ts";

// The read cache's copy in process: bounded by size, least recently used out first.

const entry = (body: string) => ({ generation: "1", etag: '"e"', body });

describe("the read cache's copy in process", () => {
  it("keeps at most its size, dropping the least recently used entry first", () => {
    const local = createLocalCache(8_000);
    const body = "x".repeat(400); // 910 bytes each, estimated: eight fit
    const keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
    for (const key of keys) local.set(key, entry(body));
    expect(local.get("a")?.body).toBe(body); // a is now the most recent
    local.set("i", entry(body));
    expect(local.size()).toBeLessThanOrEqual(8_000);
    expect(local.get("b")).toBeUndefined();
    for (const key of ["a", "c", "h", "i"]) expect(local.get(key)?.body).toBe(body);
  });

  it("keeps no entry larger than an eighth of its size, and nothing at size 0", () => {
    const local = createLocalCache(8_000);
    local.set("big", entry("x".repeat(600)));
    expect(local.get("big")).toBeUndefined();
    local.set("small", entry("x".repeat(100)));
    expect(local.get("small")).toBeDefined();
    const none = createLocalCache(0);
    none.set("small", entry("x"));
    expect(none.get("small")).toBeUndefined();
    expect(none.size()).toBe(0);
  });

  it("replacing or deleting an entry gives its size back", () => {
    const local = createLocalCache(100_000);
    local.set("a", entry("x".repeat(1000)));
    const one = local.size();
    local.set("a", entry("x".repeat(1000)));
    expect(local.size()).toBe(one);
    local.delete("a");
    expect(local.size()).toBe(0);
  });
});
