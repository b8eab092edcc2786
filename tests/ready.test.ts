import { describe, expect, it } from "vitest";
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
});
