import { describe, expect, it, vi } from "vitest";
import { readAtMostEvery } from "../packages/server/src/domains/system/service.ts";
import type { Db } from "../packages/server/src/platform/db/types.ts";
import { createTestApp } from "./helpers/app.ts";
import { createTestDatabase, engine } from "./helpers/db.ts";

describe(`readiness on ${engine}`, () => {
  it("reports the database up, then down once it stops", async () => {
    const database = await createTestDatabase({ poolMax: 2 });
    const { request } = createTestApp(database.db);

    const up = await request("GET", "/v1/ready");
    expect(up.status).toBe(200);
    expect(up.json).toMatchObject({ status: "ready", checks: { database: { status: "up" } } });

    await database.drop();
    const down = await request("GET", "/v1/ready");
    expect(down.status).toBe(503);
    expect(down.json).toMatchObject({
      status: "unavailable",
      checks: { database: { status: "down", error: expect.any(String) } },
    });

    const health = await request("GET", "/v1/health");
    expect(health.status).toBe(200);
  });

  it("a probe costs one select 1: the warnings are read once a minute, and no ETag is made for no-store", async () => {
    const database = await createTestDatabase({ poolMax: 2 });
    try {
      const statements: string[] = [];
      const counted: Db = {
        ...database.db,
        query: (sql, params) => {
          statements.push(sql);
          return database.db.query(sql, params);
        },
      };
      const { request } = createTestApp(counted);
      for (let probe = 0; probe < 3; probe++) {
        const ready = await request("GET", "/v1/ready");
        expect(ready.status).toBe(200);
        expect(ready.headers.get("cache-control")).toBe("no-store");
        expect(ready.headers.get("etag")).toBeNull();
      }
      expect(statements.filter((sql) => sql === "select 1")).toHaveLength(3);
      expect(statements.filter((sql) => sql.includes("api_key_warnings"))).toHaveLength(1);

      const health = await request("GET", "/v1/health");
      expect(health.headers.get("cache-control")).toBe("no-store");
      expect(health.headers.get("etag")).toBeNull();
    } finally {
      await database.drop();
    }
  });
});

describe("readAtMostEvery", () => {
  it("shares one read per period, reads again after it, and keeps no failed read", async () => {
    vi.useFakeTimers({ toFake: ["performance"] });
    try {
      let reads = 0;
      let fail = false;
      const source = readAtMostEvery(60_000, async () => {
        reads++;
        if (fail) throw new Error("database down");
        return [`read ${reads}`];
      });
      expect(await Promise.all([source(), source()])).toEqual([["read 1"], ["read 1"]]);
      vi.advanceTimersByTime(59_000);
      expect(await source()).toEqual(["read 1"]);
      vi.advanceTimersByTime(1_000);
      fail = true;
      await expect(source()).rejects.toThrow("database down");
      fail = false;
      expect(await source()).toEqual(["read 3"]);
      expect(reads).toBe(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
