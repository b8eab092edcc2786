import { describe, expect, it } from "vitest";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// A field the API does not know is refused, not dropped: a client that sends `price` for
// `price_amount`, or `stauts` for `status`, learns it at once instead of finding the write half
// done. Checked on the OpenAPI document (every JSON request body, at every depth, is closed) and
// through the app (the unknown field is named in the problem).
const ctx = useTestDatabase();

interface Schema {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  items?: Schema;
  prefixItems?: Schema[];
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
}
type Spec = {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: Schema }> } }>>;
  components?: { schemas?: Record<string, Schema> };
};

/** Where a JSON body schema lets an unknown field through: `POST /v1/brands body.meta`, one per open object. */
function openObjects(spec: Spec): string[] {
  const open: string[] = [];
  const resolve = (schema: Schema): Schema =>
    schema.$ref ? resolve(spec.components?.schemas?.[schema.$ref.replace("#/components/schemas/", "")] ?? {}) : schema;
  const walk = (raw: Schema, where: string, seen: Set<Schema>) => {
    const schema = resolve(raw);
    if (seen.has(schema)) return;
    const inner = new Set(seen).add(schema);
    const types = Array.isArray(schema.type) ? schema.type : [schema.type];
    // An object with named fields must say whether it is open: closed (false), or deliberately open
    // (a map, or a provider's payload passed through: z.looseObject) with additionalProperties set.
    if (types.includes("object") && schema.properties && schema.additionalProperties === undefined) open.push(where);
    for (const [name, child] of Object.entries(schema.properties ?? {})) walk(child, `${where}.${name}`, inner);
    if (typeof schema.additionalProperties === "object") walk(schema.additionalProperties, `${where}.*`, inner);
    if (schema.items) walk(schema.items, `${where}[]`, inner);
    for (const child of [...(schema.prefixItems ?? []), ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])])
      walk(child, where, inner);
    for (const child of schema.allOf ?? []) walk(child, where, inner);
  };
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const schema = operation.requestBody?.content?.["application/json"]?.schema;
      if (schema) walk(schema, `${method.toUpperCase()} ${path} body`, new Set());
    }
  }
  return open;
}

describe(`request bodies refuse unknown fields, on ${engine}`, () => {
  it("every JSON request body in the OpenAPI document is closed at every depth", async () => {
    const { request } = createTestApp(ctx.db);
    const spec = (await request("GET", "/v1/openapi.json")).json as Spec;
    expect(Object.keys(spec.paths).length).toBeGreaterThan(20);
    expect(openObjects(spec)).toEqual([]);
  });

  it("an unknown field is answered 422 naming it, at any depth, and nothing is written", async () => {
    const { request } = createTestApp(ctx.db);
    const brand = await request("POST", "/v1/brands", { as: "manager", body: { name: "Strict Brand", colour: "red" } });
    expect(brand.status, brand.text).toBe(422);
    expect(brand.headers.get("content-type")).toMatch(/application\/problem\+json/);
    expect(brand.json.errors).toEqual([{ field: "body.colour", message: "unknown field" }]);

    const product = await request("POST", "/v1/products", {
      as: "manager",
      body: { title: "Strict Tee", variants: [{ sku: "STRICT-TEE", price: 1500, currency: "EUR" }] },
    });
    expect(product.status, product.text).toBe(422);
    expect(product.json.errors).toContainEqual({ field: "body.variants.0.price", message: "unknown field" });

    const written = await ctx.db.query<{ n: number }>(
      `select (select count(*) from public.brands where name = 'Strict Brand')
            + (select count(*) from public.products where title = 'Strict Tee') as n`,
    );
    expect(Number(written.rows[0]?.n)).toBe(0);
  });

  it("an import still takes the lines the export wrote (their read-only fields are ignored there)", async () => {
    const { request } = createTestApp(ctx.db);
    const created = await request("POST", "/v1/products", {
      as: "manager",
      body: { title: "Round Trip Tee", variants: [{ sku: "ROUND-TRIP-S", price_amount: 1500, currency: "EUR" }] },
    });
    expect(created.status, created.text).toBe(201);
    const exported = await request("GET", "/v1/products/export?format=jsonl&q=round%20trip", { as: "manager" });
    const line = JSON.parse(exported.text.trim()) as Record<string, unknown> & { variants: { sku: string }[] };
    expect(line).toMatchObject({ id: created.json.id, version: 1 });
    line.title = "Round Trip Tee, renamed";
    const started = await request("POST", "/v1/products/import", {
      as: "manager",
      body: JSON.stringify(line),
      headers: { "content-type": "application/x-ndjson" },
    });
    expect(started.status, started.text).toBe(202);
    let job = started.json;
    for (let i = 0; i < 200 && job.status !== "completed" && job.status !== "failed"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      job = (await request("GET", `/v1/jobs/${started.json.id}`, { as: "manager" })).json;
    }
    expect(job, JSON.stringify(job.errors)).toMatchObject({ status: "completed", done: 1, failed: 0 });
    const renamed = await request("GET", `/v1/products/${created.json.id}`, { as: "manager" });
    expect(renamed.json.title).toBe("Round Trip Tee, renamed");
  });

  it("the check finds an open body (it can fail)", () => {
    const spec: Spec = {
      paths: {
        "/v1/things": {
          post: {
            requestBody: {
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    additionalProperties: false,
                    properties: {
                      lines: { type: "array", items: { $ref: "#/components/schemas/Line" } },
                      attributes: { type: "object", additionalProperties: { type: "string" } },
                    },
                  },
                },
              },
            },
          },
        },
      },
      components: { schemas: { Line: { type: "object", properties: { sku: { type: "string" } } } } },
    };
    expect(openObjects(spec)).toEqual(["POST /v1/things body.lines[]"]);
  });
});
