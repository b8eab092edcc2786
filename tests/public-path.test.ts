import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";
import { customer, stocked } from "./helpers/orders.ts";

// Location headers and a problem's `instance` are the path the client called: with the prefix the
// gateway stripped (`X-Forwarded-Prefix`, as Supabase's and `npm start`'s send it) or the configured
// one, so a client can follow a Location as it is.

const ctx = useTestDatabase();
const PREFIX = { "x-forwarded-prefix": "/functions/v1" };

describe(`the path the client called on ${engine}`, () => {
  it("a problem's instance carries the forwarded prefix; a hostile prefix is ignored", async () => {
    const { request } = createTestApp(ctx.db);
    const through = await request("GET", "/v1/nowhere", { headers: PREFIX });
    expect(through.status).toBe(404);
    expect(through.json.instance).toBe("/functions/v1/api/v1/nowhere");
    const direct = await request("GET", "/v1/nowhere");
    expect(direct.json.instance).toBe("/api/v1/nowhere");
    for (const hostile of ["//evil.example", "/a b", "https://evil.example", "/x/../y%0d"]) {
      const response = await request("GET", "/v1/nowhere", { headers: { "x-forwarded-prefix": hostile } });
      expect(response.json.instance, hostile).toBe("/api/v1/nowhere");
    }
  });

  it("the configured prefix applies without the header (Supabase: /functions/v1)", async () => {
    const { request } = createTestApp(ctx.db, { PUBLIC_PATH_PREFIX: "/functions/v1" });
    expect((await request("GET", "/v1/nowhere")).json.instance).toBe("/functions/v1/api/v1/nowhere");
  });

  it("POST /orders answers a Location that GET follows, with the prefix", async () => {
    const { request } = createTestApp(ctx.db);
    const sku = await stocked(ctx.db, "LOC", 3);
    const placed = await request("POST", "/v1/orders", {
      as: "staff",
      body: { items: [{ sku, quantity: 1 }], customer },
      headers: PREFIX,
    });
    expect(placed.status, placed.text).toBe(201);
    expect(placed.headers.get("location")).toBe(`/functions/v1/api/v1/orders/${placed.json.id}`);
    const followed = await request("GET", (placed.headers.get("location") ?? "").replace(/^\/functions\/v1\/api/, ""), {
      as: "viewer",
    });
    expect(followed.json.id).toBe(placed.json.id);
  });
});
