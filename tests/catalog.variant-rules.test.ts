import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { engine, onPostgres, useTestDatabase } from "./helpers/db.ts";

// A product's live variants share one currency and never share a position; both are checked when
// the row is written (by the API, a bulk, an import or a direct insert).

const ctx = useTestDatabase({ poolMax: 12 });
const api = () => createTestApp(ctx.db);
let serial = 0;
const sku = () => `VR-${Date.now().toString(36)}-${++serial}`.toUpperCase();

async function product(variants: Record<string, unknown>[] = [{ sku: sku(), price_amount: 1000, currency: "EUR" }]) {
  const response = await api().request("POST", "/v1/products", { as: "staff", body: { title: "Rules", variants } });
  expect(response.status, response.text).toBe(201);
  return response.json as { id: string; variants: { id: string; position: number; currency: string }[] };
}

const positions = async (productId: string) =>
  (
    await ctx.db.query<{ position: number }>(
      "select position from public.product_variants where product_id = $1 and deleted_at is null order by position",
      [productId],
    )
  ).rows.map((row) => row.position);

describe(`one currency per product on ${engine}`, () => {
  it("adding a variant in another currency is a 422 on currency and writes nothing", async () => {
    const host = await product();
    const other = await api().request("POST", `/v1/products/${host.id}/variants`, {
      as: "staff",
      body: { sku: sku(), price_amount: 900, currency: "USD" },
    });
    expect(other.status).toBe(422);
    expect(other.json.errors).toEqual([
      expect.objectContaining({
        field: "body.currency",
        code: "currency_mismatch",
        message: expect.stringMatching(/EUR/),
      }),
    ]);
    expect(await positions(host.id)).toEqual([0]);
  });

  it("creating a product whose variants mix currencies is a 422 naming the variant", async () => {
    const response = await api().request("POST", "/v1/products", {
      as: "staff",
      body: {
        title: "Mixed",
        variants: [
          { sku: sku(), price_amount: 1, currency: "EUR" },
          { sku: sku(), price_amount: 1, currency: "GBP" },
        ],
      },
    });
    expect(response.status).toBe(422);
    expect(response.json.errors).toEqual([
      expect.objectContaining({ field: "body.variants.1.currency", code: "currency_mismatch" }),
    ]);
  });

  it("changing one variant's currency away from its siblings is refused; a lone variant may change", async () => {
    const pair = await product([
      { sku: sku(), price_amount: 1, currency: "EUR" },
      { sku: sku(), price_amount: 1, currency: "EUR" },
    ]);
    const patch = await api().request("PATCH", `/v1/variants/${pair.variants[1]?.id}`, {
      as: "staff",
      body: { currency: "USD" },
    });
    expect(patch.status).toBe(422);
    expect(patch.json.errors[0]).toMatchObject({ field: "body.currency", code: "currency_mismatch" });

    const lone = await product();
    const alone = await api().request("PATCH", `/v1/variants/${lone.variants[0]?.id}`, {
      as: "staff",
      body: { currency: "USD" },
    });
    expect(alone.status, alone.text).toBe(200);
  });

  it("holds for a direct insert too", async () => {
    const host = await product();
    await expect(
      ctx.db.query(
        "insert into public.product_variants (product_id, sku, price_amount, currency) values ($1, $2, 1, 'SEK')",
        [host.id, sku()],
      ),
    ).rejects.toMatchObject({ code: "P0V01" });
  });
});

describe(`positions never collide on ${engine}`, () => {
  it("a variant added without a position goes after the last one", async () => {
    const host = await product([
      { sku: sku(), price_amount: 1, currency: "EUR" },
      { sku: sku(), price_amount: 1, currency: "EUR" },
    ]);
    const added = await api().request("POST", `/v1/products/${host.id}/variants`, {
      as: "staff",
      body: { sku: sku(), price_amount: 1, currency: "EUR" },
    });
    expect(added.status, added.text).toBe(201);
    expect(added.json.position).toBe(2);
    expect(await positions(host.id)).toEqual([0, 1, 2]);
  });

  it("a position another live variant holds is a 409 on position; a deleted variant's is free", async () => {
    const host = await product([
      { sku: sku(), price_amount: 1, currency: "EUR" },
      { sku: sku(), price_amount: 1, currency: "EUR" },
    ]);
    const taken = await api().request("POST", `/v1/products/${host.id}/variants`, {
      as: "staff",
      body: { sku: sku(), price_amount: 1, currency: "EUR", position: 1 },
    });
    expect(taken.status).toBe(409);
    expect(taken.json.errors).toEqual([expect.objectContaining({ field: "body.position", code: "taken" })]);

    const moved = await api().request("PATCH", `/v1/variants/${host.variants[1]?.id}`, {
      as: "staff",
      body: { position: 0 },
    });
    expect(moved.status).toBe(409);
    expect(moved.json.errors[0]).toMatchObject({ field: "body.position", code: "taken" });

    expect((await api().request("DELETE", `/v1/variants/${host.variants[1]?.id}`, { as: "staff" })).status).toBe(204);
    const reused = await api().request("POST", `/v1/products/${host.id}/variants`, {
      as: "staff",
      body: { sku: sku(), price_amount: 1, currency: "EUR", position: 1 },
    });
    expect(reused.status, reused.text).toBe(201);
  });

  it.skipIf(!onPostgres)("twenty variants added at once get twenty distinct positions", async () => {
    const host = await product();
    const responses = await Promise.all(
      Array.from({ length: 20 }, () =>
        api().request("POST", `/v1/products/${host.id}/variants`, {
          as: "staff",
          body: { sku: sku(), price_amount: 1, currency: "EUR" },
        }),
      ),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(20).fill(201));
    expect(await positions(host.id)).toEqual(Array.from({ length: 21 }, (_, i) => i));
  });

  it.skipIf(!onPostgres)("two first variants in different currencies at once: exactly one is accepted", async () => {
    const empty = await api().request("POST", "/v1/products", { as: "staff", body: { title: "Empty" } });
    const [eur, usd] = await Promise.all(
      ["EUR", "USD"].map((currency) =>
        api().request("POST", `/v1/products/${empty.json.id}/variants`, {
          as: "staff",
          body: { sku: sku(), price_amount: 1, currency },
        }),
      ),
    );
    expect([eur?.status, usd?.status].sort()).toEqual([201, 422]);
  });
});
