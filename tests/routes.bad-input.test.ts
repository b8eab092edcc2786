import { Agent, request as undiciRequest } from "undici";
import { describe, expect, it } from "vitest";
import { FUNCTIONS_PREFIX, serveApi } from "../packages/local/src/stack.ts";
import { mintStaffToken } from "../packages/local/src/tokens.ts";
import { createTestApp, DEMO_USERS, TEST_SECRET } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

// One suite over every route the OpenAPI document declares: whatever a client sends (hostile
// values in any body field, query parameter or path parameter, bodies that are not JSON or not
// objects) is answered with a 4xx problem (or a success), never a 500. Bodies are generated from
// each route's own request schema, so a new route is covered the day it is declared.
const ctx = useTestDatabase();

interface Schema {
  $ref?: string;
  type?: string | string[];
  format?: string;
  pattern?: string;
  enum?: unknown[];
  const?: unknown;
  example?: unknown;
  minimum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  properties?: Record<string, Schema>;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
}
interface Operation {
  parameters?: { name: string; in: string; schema?: Schema }[];
  requestBody?: { content?: Record<string, { schema?: Schema }> };
}

const HOSTILE: unknown[] = [
  "\u0000",
  "x".repeat(20_000),
  "' or 1=1 --",
  -1,
  1.5,
  1e308,
  2 ** 63,
  true,
  null,
  [],
  {},
  [{}],
];
const HOSTILE_TEXT = ["%00", "x".repeat(5_000), "-1", "1e309", "1.5", "' or 1=1 --", "[]", "%E0%A4%A"];
const SKU = "TS-ORG-M"; // seeded, published, with stock at `main`
const BY_NAME: Record<string, unknown> = {
  sku: SKU,
  location_code: "main",
  from_location_code: "main",
  to_location_code: "main",
  currency: "EUR",
  country: "DE",
};
const CANDIDATES = ["main", "x", "ABC", "abc", "EUR", "DE", "SK-100001", "TEE-BLK-M", "a@example.com"];

describe(`no route answers 500 to anything a client can send, on ${engine}`, () => {
  it("hostile bodies, fields, query and path parameters get 4xx problems", { timeout: 240_000 }, async () => {
    const { request } = createTestApp(ctx.db);
    const spec = (await request("GET", "/v1/openapi.json")).json as {
      paths: Record<string, Record<string, Operation>>;
      components?: { schemas?: Record<string, Schema> };
    };
    const resolve = (schema: Schema | undefined): Schema => {
      if (!schema?.$ref) return schema ?? {};
      return resolve(spec.components?.schemas?.[schema.$ref.replace("#/components/schemas/", "")]);
    };

    /** A plausible value for a schema: not always valid, but valid where it is easy to be. */
    const sample = (raw: Schema | undefined, depth = 0, name = ""): unknown => {
      if (name in BY_NAME) return BY_NAME[name];
      const schema = resolve(raw);
      if (schema.const !== undefined) return schema.const;
      if (schema.example !== undefined) return schema.example;
      if (schema.enum?.length) return schema.enum[0];
      const options = schema.anyOf ?? schema.oneOf ?? schema.allOf;
      if (options?.length)
        return sample(options.find((option) => resolve(option).type !== "null") ?? options[0], depth);
      const type = Array.isArray(schema.type) ? schema.type.find((each) => each !== "null") : schema.type;
      switch (type) {
        case "string": {
          if (schema.format === "uuid") return crypto.randomUUID();
          if (schema.format === "email") return "a@example.com";
          if (schema.format === "date-time") return new Date(Date.now() + 3_600_000).toISOString();
          if (schema.format === "uri") return "https://example.com/hook";
          if (schema.pattern) {
            const pattern = new RegExp(schema.pattern);
            return CANDIDATES.find((candidate) => pattern.test(candidate)) ?? "x";
          }
          return "x";
        }
        case "integer":
        case "number":
          return Math.max(1, schema.minimum ?? 1, (schema.exclusiveMinimum ?? 0) + 1);
        case "boolean":
          return true;
        case "array":
          return depth > 3
            ? []
            : Array.from({ length: Math.max(1, schema.minItems ?? 1) }, () => sample(schema.items, depth + 1));
        case "object":
          return depth > 3
            ? {}
            : Object.fromEntries(
                Object.entries(schema.properties ?? {})
                  .filter(([key]) => !key.endsWith("_id") || key in BY_NAME)
                  .map(([key, value]) => [key, sample(value, depth + 1, key)]),
              );
        default:
          return "x";
      }
    };

    /** Every way to spoil a body: each field (two levels deep, into the first array item) set to each hostile value. */
    const spoiled = (body: unknown): unknown[] => {
      const variants: unknown[] = [];
      const walk = (value: unknown, replace: (next: unknown) => unknown, level: number) => {
        if (level > 2 || value === null || typeof value !== "object") return;
        const entries = Array.isArray(value)
          ? value.slice(0, 1).map((item, i) => [i, item] as const)
          : Object.entries(value);
        for (const [key, child] of entries) {
          const put = (next: unknown) =>
            replace(
              Array.isArray(value) ? value.map((item, i) => (i === key ? next : item)) : { ...value, [key]: next },
            );
          for (const hostile of HOSTILE) variants.push(put(hostile));
          walk(child, put, level + 1);
        }
      };
      walk(body, (next) => next, 0);
      return variants;
    };

    // Real rows for path parameters, so requests get past "not found" to the code behind it.
    const first = async (sql: string) => (await ctx.db.query<{ id: string }>(sql)).rows[0]?.id ?? crypto.randomUUID();
    const endpoint = await request("POST", "/v1/webhooks/endpoints", {
      as: "owner",
      body: { url: "http://127.0.0.1:9/bad-input", topics: ["product.*"] },
    });
    const reservation = await request("POST", "/v1/inventory/reservations", {
      as: "owner",
      body: { items: [{ sku: SKU, quantity: 1 }] },
    });
    const ids: [RegExp, string][] = [
      [/^\/v1\/products\/\{id\}/, await first("select id from public.products where deleted_at is null order by id")],
      [/^\/v1\/variants\/\{id\}/, await first("select id from public.product_variants where sku = 'TS-ORG-L'")],
      [/^\/v1\/brands\/\{id\}/, await first("select id from public.brands order by id")],
      [/^\/v1\/categories\/\{id\}/, await first("select id from public.categories order by id")],
      [/^\/v1\/orders\/\{id\}/, await first("select id from public.orders order by created_at")],
      [/^\/v1\/webhooks\/endpoints\/\{id\}/, endpoint.json.id],
      [/^\/v1\/webhooks\/deliveries\/\{id\}/, "1"],
      [/^\/v1\/inventory\/reservations\/\{id\}/, reservation.json.id],
      [/^\/v1\/users\/\{user_id\}/, DEMO_USERS.viewer],
    ];
    const fill = (template: string) => {
      const path = template.replace(/^\/api/, "");
      const known = ids.find(([pattern]) => pattern.test(path))?.[1];
      return path
        .replace("{code}", "main")
        .replace("{source}", "pms-product")
        .replace(/\{[^}]+\}/g, known ?? crypto.randomUUID());
    };

    const failures: string[] = [];
    const check = async (method: string, path: string, body?: unknown) => {
      let response: Awaited<ReturnType<typeof request>>;
      try {
        response = await request(method, path, { as: "owner", body });
      } catch (error) {
        failures.push(`${method} ${path} ${JSON.stringify(body)?.slice(0, 160)} -> threw ${error}`);
        return;
      }
      // A problem is RFC 9457's: its `status` member is the HTTP status (an extension never overrides it).
      const problem =
        response.headers.get("content-type") === "application/problem+json" &&
        response.json?.status === response.status &&
        typeof response.json?.type === "string";
      if (response.status >= 500 || (response.status >= 400 && !problem)) {
        failures.push(
          `${method} ${path} ${JSON.stringify(body)?.slice(0, 160)} -> ${response.status} ${response.text.slice(0, 200)}`,
        );
      }
    };

    let requests = 0;
    for (const [template, operations] of Object.entries(spec.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (!["get", "post", "patch", "put"].includes(method)) continue;
        const verb = method.toUpperCase();
        const path = fill(template);
        const bodySchema = operation.requestBody?.content?.["application/json"]?.schema;
        const body = bodySchema ? sample(bodySchema) : undefined;

        for (const parameter of operation.parameters ?? []) {
          for (const text of HOSTILE_TEXT) {
            if (parameter.in === "query") {
              await check(verb, `${path}${path.includes("?") ? "&" : "?"}${parameter.name}=${text}`, body);
            } else if (parameter.in === "path") {
              await check(verb, fill(template.replace(`{${parameter.name}}`, text)), body);
            }
            requests++;
          }
        }
        if (verb === "GET") continue;
        for (const whole of ["{", "[]", '"x"', "null", "12", "\u0000"]) {
          await check(verb, path, whole);
          requests++;
        }
        for (const variant of spoiled(body)) {
          await check(verb, path, variant);
          requests++;
        }
      }
    }
    expect(requests).toBeGreaterThan(1_000);
    expect(failures).toEqual([]);
  });

  it("early answers over one keep-alive connection: every route's next request still gets through", {
    timeout: 120_000,
  }, async () => {
    // A body the route refuses before reading it (wrong media type, a bad path parameter) must not
    // spoil the connection for the client's next request.
    const { app, request } = createTestApp(ctx.db);
    const spec = (await request("GET", "/v1/openapi.json")).json as {
      paths: Record<string, Record<string, Operation>>;
    };
    const { server, port } = await serveApi(app, 0);
    const agent = new Agent({ connections: 1, pipelining: 1, keepAliveTimeout: 60_000 });
    let connections = 0;
    agent.on("connect", () => connections++);
    const token = await mintStaffToken(TEST_SECRET, "owner");
    const base = `http://127.0.0.1:${port}${FUNCTIONS_PREFIX}/api`;
    const failures: string[] = [];
    const big = "x".repeat(256 * 1024);
    const send = async (method: string, path: string, body?: string, contentType?: string) => {
      const response = await undiciRequest(`${base}${path}`, {
        dispatcher: agent,
        method: method as "POST",
        headers: { authorization: `Bearer ${token}`, ...(contentType ? { "content-type": contentType } : {}) },
        body,
      });
      await response.body.text();
      return response;
    };
    let early = 0;
    try {
      for (const [template, operations] of Object.entries(spec.paths)) {
        for (const method of Object.keys(operations)) {
          if (!["post", "patch", "put"].includes(method)) continue;
          const path = template.replace(/^\/api/, "");
          const tries: [string, string][] = [[path.replace(/\{[^}]+\}/g, "x%00"), "application/json"]];
          tries.push([path.replace(/\{[^}]+\}/g, crypto.randomUUID()), "text/plain"]);
          for (const [target, contentType] of tries) {
            try {
              const refused = await send(method.toUpperCase(), target, big, contentType);
              if (refused.statusCode >= 500)
                failures.push(`${method} ${target} (${contentType}) -> ${refused.statusCode}`);
              if (refused.statusCode >= 400) early++;
              const next = await send("GET", "/v1/health");
              if (next.statusCode !== 200) failures.push(`after ${method} ${target}: health ${next.statusCode}`);
            } catch (error) {
              failures.push(`${method} ${target} (${contentType}) -> threw ${error}`);
            }
          }
        }
      }
    } finally {
      await agent.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    expect(early).toBeGreaterThan(40);
    expect(failures).toEqual([]);
    expect(connections).toBe(1);
  });
});
