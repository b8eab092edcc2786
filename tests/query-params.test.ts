import { beforeAll, describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// Unknown query parameters are refused (422 naming each) on every route the OpenAPI document
// declares, so a misspelt filter never answers the whole catalogue; and the filters users expect
// exist: products by sku, brand handle, category handle (with the categories below it), handle.

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
const DUMMY = "00000000-0000-4000-8000-00000000dead";

interface Operation {
  parameters?: { in: string; name: string }[];
}

describe(`unknown query parameters on ${engine}`, () => {
  it("every documented route answers 422 naming query.<name> for a parameter it does not declare", async () => {
    const { request } = api();
    const spec = (await request("GET", "/v1/openapi.json")).json as {
      paths: Record<string, Record<string, Operation>>;
    };
    const operations = Object.entries(spec.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
    );
    expect(operations.length).toBeGreaterThan(50);
    const failures: string[] = [];
    for (const { method, path, operation } of operations) {
      const concrete = path
        .replace(/^\/api/, "")
        .replace("{code}", "main")
        .replace("{source}", "pms-product")
        .replace("{handle}", "some-handle")
        .replace(/\{[^}]+\}/g, DUMMY);
      const response = await request(method, `${concrete}?bogus_filter=acme`, {
        as: "owner",
        body: method === "GET" || method === "DELETE" ? undefined : {},
      });
      const named = response.json?.errors?.some(
        (error: { field: string; code?: string }) => error.field === "query.bogus_filter" && error.code === "unknown",
      );
      if (response.status !== 422 || !named) failures.push(`${method} ${concrete}: ${response.status}`);
      expect(operation.parameters?.some((parameter) => parameter.name === "bogus_filter") ?? false).toBe(false);
    }
    expect(failures).toEqual([]);
  });

  it("declared parameters still pass, and the answer names what the route takes", async () => {
    const { request } = api();
    expect((await request("GET", "/v1/products?limit=1&status=published", { as: "viewer" })).status).toBe(200);
    const typo = await request("GET", "/v1/products?brnad=acme&limit=1", { as: "viewer" });
    expect(typo.status).toBe(422);
    expect(typo.json.errors).toEqual([
      { field: "query.brnad", code: "unknown", message: expect.stringMatching(/brand_id, brand,/) },
    ]);
  });
});

describe(`catalogue filters on ${engine}`, () => {
  let acmeProduct = "";
  let domeProduct = "";
  beforeAll(async () => {
    const { request } = api();
    const brand = await request("POST", "/v1/brands", { as: "staff", body: { name: "Acme Q", handle: "acme-q" } });
    const tents = await request("POST", "/v1/categories", {
      as: "staff",
      body: { name: "Tents Q", handle: "tents-q" },
    });
    const dome = await request("POST", "/v1/categories", {
      as: "staff",
      body: { name: "Dome Q", handle: "dome-q", parent_id: tents.json.id },
    });
    const make = async (title: string, fields: Record<string, unknown>) => {
      const created = await request("POST", "/v1/products", { as: "staff", body: { title, ...fields } });
      expect(created.status, created.text).toBe(201);
      return created.json.id as string;
    };
    acmeProduct = await make("Acme Lamp", {
      handle: "acme-lamp-q",
      brand_id: brand.json.id,
      variants: [{ sku: "LAMP-Q-1", price_amount: 100, currency: "EUR" }],
    });
    domeProduct = await make("Dome Tent", {
      category_id: dome.json.id,
      variants: [{ sku: "DOME-Q-1", price_amount: 100, currency: "EUR" }],
    });
    await make("Unrelated", { variants: [{ sku: "OTHER-Q-1", price_amount: 100, currency: "EUR" }] });
  });

  const ids = async (query: string) => {
    const response = await api().request("GET", `/v1/products?${query}`, { as: "viewer" });
    expect(response.status, response.text).toBe(200);
    return response.json.data.map((product: { id: string }) => product.id);
  };

  it("by brand handle, category handle (and below), sku (any case) and handle", async () => {
    expect(await ids("brand=acme-q")).toEqual([acmeProduct]);
    expect(await ids("category=tents-q")).toEqual([domeProduct]);
    expect(await ids("category=dome-q")).toEqual([domeProduct]);
    expect(await ids("sku=lamp-q-1")).toEqual([acmeProduct]);
    expect(await ids("handle=acme-lamp-q")).toEqual([acmeProduct]);
    expect(await ids("brand=no-such-brand")).toEqual([]);
  });

  it("a product by its handle, 404 for an unknown one", async () => {
    const { request } = api();
    const found = await request("GET", "/v1/products/by-handle/acme-lamp-q", { as: "viewer" });
    expect(found.status).toBe(200);
    expect(found.json.id).toBe(acmeProduct);
    const missing = await request("GET", "/v1/products/by-handle/nothing-here", { as: "viewer" });
    expect(missing.status).toBe(404);
  });

  it("the export takes the same filters", async () => {
    const response = await api().request("GET", "/v1/products/export?sku=LAMP-Q-1", { as: "viewer" });
    expect(response.status).toBe(200);
    const lines = response.text.trim().split("\n").filter(Boolean);
    expect(lines.map((line) => JSON.parse(line).handle)).toEqual(["acme-lamp-q"]);
  });
});
