import { Webhook } from "svix";
import { expect } from "vitest";
import type { AppRole } from "../../packages/server/src/http/auth.ts";
import type { Db } from "../../packages/server/src/platform/db/types.ts";
import { createTestApp } from "./app.ts";
import { claimsOf, productInput, uniqueSku } from "./catalog.ts";

// The freshness matrix: for every catalog topic, a write made through a given path (our API, SQL
// as a staff user the way PostgREST runs it, an inbound pms-product webhook), then every cached read
// at once, anonymous and staff, must answer exactly what an app with an empty cache answers.

export const PMS_PRODUCT_SECRET = "whsec_cHJvZHVjdC1zZWNyZXQtZm9yLXRlc3RzLW9ubHktMzI=";
export const CACHE_TEST_ENV = { INBOUND_WEBHOOK_SECRETS: JSON.stringify({ "pms-product": PMS_PRODUCT_SECRET }) };

type TestApp = ReturnType<typeof createTestApp>;

export interface Subject {
  word: string;
  brand: { id: string; handle: string };
  category: { id: string; handle: string };
  product: { id: string; handle: string; version: number; variants: { id: string; sku: string }[] };
}

export type Path = "api" | "sql" | "webhook";

export interface Scenario {
  topic: string;
  path: Path;
  /** Before the cache is filled: bring the subject into the state the write starts from. */
  prepare?(app: TestApp, db: Db, s: Subject): Promise<void>;
  write(app: TestApp, db: Db, s: Subject): Promise<void>;
  /** Reads whose staff answer this write must change (so the check cannot pass by accident). */
  changes: ReadName[];
}

export const READS = {
  product: (s: Subject) => `/v1/products/${s.product.id}`,
  "product-by-handle": (s: Subject) => `/v1/products/by-handle/${s.product.handle}`,
  products: () => "/v1/products?limit=20",
  "products-search": (s: Subject) => `/v1/products?q=${s.word}`,
  "products-category": (s: Subject) => `/v1/products?category=${s.category.handle}`,
  "products-brand": (s: Subject) => `/v1/products?brand=${s.brand.handle}`,
  "category-tree": () => "/v1/categories/tree",
  categories: () => "/v1/categories?limit=500",
  category: (s: Subject) => `/v1/categories/${s.category.id}`,
  brands: () => "/v1/brands?limit=500",
  brand: (s: Subject) => `/v1/brands/${s.brand.id}`,
  variant: (s: Subject) => `/v1/variants/${s.product.variants.at(-1)?.id}`,
} as const;
export type ReadName = keyof typeof READS;
const ALL_READS = Object.keys(READS) as ReadName[];
const VIEWS: (AppRole | "anon")[] = ["anon", "staff"];

let serial = 0;
const word = () => `zq${process.pid.toString(36)}${(serial++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

async function ok(response: Promise<{ status: number; json: any; text: string }>, status = [200, 201, 204]) {
  const answer = await response;
  expect(status, answer.text).toContain(answer.status);
  return answer.json;
}

/** A published product with a brand, a category and one variant, whose title holds a unique word. */
export async function createSubject(app: TestApp): Promise<Subject> {
  const w = word();
  const brand = await ok(app.request("POST", "/v1/brands", { as: "manager", body: { name: `Brand ${w}` } }));
  const category = await ok(app.request("POST", "/v1/categories", { as: "manager", body: { name: `Category ${w}` } }));
  const product = await ok(
    app.request("POST", "/v1/products", {
      as: "manager",
      body: productInput({ title: `Subject ${w}`, brand_id: brand.id, category_id: category.id, status: "published" }),
    }),
  );
  return { word: w, brand, category, product };
}

/** A signed pms-product message, as the PMS sends it. */
export async function sendPmsProduct(app: TestApp, payload: Record<string, unknown>) {
  const id = `msg_${Date.now()}_${serial++}`;
  const at = new Date();
  const body = JSON.stringify(payload);
  const headers = {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(PMS_PRODUCT_SECRET).sign(id, at, body),
  };
  return ok(app.request("POST", "/v1/webhooks/inbound/pms-product", { body, headers }));
}

/** SQL as the signed-in user of this role, exactly as PostgREST runs a supabase-js call (RLS applies). */
const asStaff = (db: Db, role: AppRole, sql: string, params: unknown[]) =>
  db.asUser(claimsOf(role), (tx) => tx.query(sql, params));

const addSecondVariant = async (app: TestApp, _db: Db, s: Subject) => {
  const variant = await ok(
    app.request("POST", `/v1/products/${s.product.id}/variants`, {
      as: "staff",
      body: { sku: uniqueSku(), price_amount: 500, currency: "EUR", options: { size: "XL" } },
    }),
  );
  s.product.variants.push(variant);
};
const unpublish = async (app: TestApp, _db: Db, s: Subject) => {
  await ok(app.request("POST", `/v1/products/${s.product.id}/unpublish`, { as: "manager", body: {} }));
};
const childCategory = async (app: TestApp, _db: Db, s: Subject) => {
  const child = await ok(
    app.request("POST", "/v1/categories", {
      as: "manager",
      body: { name: `Child ${s.word}`, parent_id: s.category.id },
    }),
  );
  s.category = child; // the reads now look at the child (empty of products), the write changes it
};
const emptyBrand = async (app: TestApp, _db: Db, s: Subject) => {
  s.brand = await ok(app.request("POST", "/v1/brands", { as: "manager", body: { name: `Spare ${s.word}` } }));
};

const PRODUCT_READS: ReadName[] = [
  "product",
  "product-by-handle",
  "products",
  "products-search",
  "products-category",
  "products-brand",
];
const VARIANT_READS: ReadName[] = [...PRODUCT_READS, "variant"];
const LISTS: ReadName[] = ["products", "products-search", "products-category", "products-brand"];

export const SCENARIOS: Scenario[] = [
  // Through the API.
  {
    topic: "product.created",
    path: "api",
    changes: LISTS,
    async write(app, _db, s) {
      await ok(
        app.request("POST", "/v1/products", {
          as: "staff",
          body: productInput({ title: `Another ${s.word}`, brand_id: s.brand.id, category_id: s.category.id }),
        }),
      );
    },
  },
  {
    topic: "product.updated",
    path: "api",
    changes: PRODUCT_READS,
    async write(app, _db, s) {
      await ok(app.request("PATCH", `/v1/products/${s.product.id}`, { as: "staff", body: { description: "changed" } }));
    },
  },
  {
    topic: "product.published",
    path: "api",
    prepare: unpublish,
    changes: PRODUCT_READS,
    async write(app, _db, s) {
      await ok(app.request("POST", `/v1/products/${s.product.id}/publish`, { as: "manager", body: {} }));
    },
  },
  {
    topic: "product.unpublished",
    path: "api",
    changes: PRODUCT_READS,
    write: unpublish,
  },
  {
    topic: "product.deleted",
    path: "api",
    changes: PRODUCT_READS,
    async write(app, _db, s) {
      await ok(app.request("DELETE", `/v1/products/${s.product.id}`, { as: "manager" }));
    },
  },
  {
    topic: "variant.created",
    path: "api",
    changes: PRODUCT_READS,
    write: addSecondVariant,
  },
  {
    topic: "variant.updated",
    path: "api",
    changes: VARIANT_READS,
    async write(app, _db, s) {
      const variant = s.product.variants[0];
      await ok(app.request("PATCH", `/v1/variants/${variant?.id}`, { as: "staff", body: { price_amount: 4321 } }));
    },
  },
  {
    topic: "variant.deleted",
    path: "api",
    prepare: addSecondVariant,
    changes: VARIANT_READS,
    async write(app, _db, s) {
      await ok(app.request("DELETE", `/v1/variants/${s.product.variants[1]?.id}`, { as: "staff" }));
    },
  },
  {
    topic: "brand.created",
    path: "api",
    changes: ["brands"],
    async write(app, _db, s) {
      await ok(app.request("POST", "/v1/brands", { as: "staff", body: { name: `New brand ${s.word}` } }));
    },
  },
  {
    topic: "brand.updated",
    path: "api",
    changes: ["brands", "brand"],
    async write(app, _db, s) {
      await ok(app.request("PATCH", `/v1/brands/${s.brand.id}`, { as: "staff", body: { name: `Renamed ${s.word}` } }));
    },
  },
  {
    topic: "brand.deleted",
    path: "api",
    changes: ["brands", "brand", "product", "products-brand"],
    async write(app, _db, s) {
      await ok(app.request("DELETE", `/v1/brands/${s.brand.id}`, { as: "manager" }));
    },
  },
  {
    topic: "category.created",
    path: "api",
    changes: ["category-tree", "categories"],
    async write(app, _db, s) {
      await ok(
        app.request("POST", "/v1/categories", {
          as: "staff",
          body: { name: `New ${s.word}`, parent_id: s.category.id },
        }),
      );
    },
  },
  {
    topic: "category.updated",
    path: "api",
    changes: ["category-tree", "categories", "category"],
    async write(app, _db, s) {
      await ok(
        app.request("PATCH", `/v1/categories/${s.category.id}`, { as: "staff", body: { name: `Renamed ${s.word}` } }),
      );
    },
  },
  {
    topic: "category.deleted",
    path: "api",
    changes: ["category-tree", "categories", "category", "product", "products-category"],
    async write(app, _db, s) {
      await ok(app.request("DELETE", `/v1/categories/${s.category.id}`, { as: "manager" }));
    },
  },

  {
    topic: "product.publish_failed",
    path: "sql",
    changes: PRODUCT_READS,
    // Scheduled, then its only variant goes: when it comes due the job cannot publish it.
    async prepare(app, _db, s) {
      await unpublish(app, _db, s);
      const publishAt = new Date(Date.now() + 3_600_000).toISOString();
      await ok(
        app.request("POST", `/v1/products/${s.product.id}/publish`, { as: "manager", body: { publish_at: publishAt } }),
      );
      await ok(app.request("DELETE", `/v1/variants/${s.product.variants[0]?.id}`, { as: "staff" }));
    },
    async write(_app, db) {
      const due = await db.query<{ result: { failed: number } }>(
        "select private.catalog_publish_due(now() + interval '2 hours') as result",
      );
      expect(due.rows[0]?.result.failed).toBeGreaterThanOrEqual(1);
    },
  },

  // Straight into the tables as a signed-in staff user (what supabase-js `from()` does through PostgREST).
  {
    topic: "product.created",
    path: "sql",
    changes: LISTS,
    async write(_app, db, s) {
      await asStaff(db, "staff", "insert into public.products (title, brand_id, category_id) values ($1, $2, $3)", [
        `Direct ${s.word}`,
        s.brand.id,
        s.category.id,
      ]);
    },
  },
  {
    topic: "product.updated",
    path: "sql",
    changes: PRODUCT_READS,
    async write(_app, db, s) {
      await asStaff(db, "staff", "update public.products set title = $2 where id = $1", [
        s.product.id,
        `Retitled ${s.word}`,
      ]);
    },
  },
  {
    topic: "product.published",
    path: "sql",
    prepare: unpublish,
    changes: PRODUCT_READS,
    async write(_app, db, s) {
      await asStaff(db, "manager", "update public.products set status = 'published' where id = $1", [s.product.id]);
    },
  },
  {
    topic: "product.unpublished",
    path: "sql",
    changes: PRODUCT_READS,
    async write(_app, db, s) {
      await asStaff(db, "manager", "update public.products set status = 'draft' where id = $1", [s.product.id]);
    },
  },
  {
    topic: "product.deleted",
    path: "sql",
    changes: PRODUCT_READS,
    async write(_app, db, s) {
      await asStaff(db, "manager", "update public.products set deleted_at = now() where id = $1", [s.product.id]);
    },
  },
  {
    topic: "variant.created",
    path: "sql",
    changes: PRODUCT_READS,
    async write(_app, db, s) {
      await asStaff(
        db,
        "staff",
        "insert into public.product_variants (product_id, sku, price_amount, currency) values ($1, $2, 999, 'EUR')",
        [s.product.id, uniqueSku()],
      );
    },
  },
  {
    topic: "variant.updated",
    path: "sql",
    changes: VARIANT_READS,
    async write(_app, db, s) {
      await asStaff(db, "staff", "update public.product_variants set price_amount = 1234 where id = $1", [
        s.product.variants[0]?.id,
      ]);
    },
  },
  {
    topic: "variant.deleted",
    path: "sql",
    prepare: addSecondVariant,
    changes: VARIANT_READS,
    async write(_app, db, s) {
      await asStaff(db, "staff", "update public.product_variants set deleted_at = now() where id = $1", [
        s.product.variants[1]?.id,
      ]);
    },
  },
  {
    topic: "brand.created",
    path: "sql",
    changes: ["brands"],
    async write(_app, db, s) {
      await asStaff(db, "staff", "insert into public.brands (name) values ($1)", [`Direct brand ${s.word}`]);
    },
  },
  {
    topic: "brand.updated",
    path: "sql",
    changes: ["brands", "brand"],
    async write(_app, db, s) {
      await asStaff(db, "staff", "update public.brands set name = $2 where id = $1", [s.brand.id, `Direct ${s.word}`]);
    },
  },
  {
    topic: "brand.deleted",
    path: "sql",
    prepare: emptyBrand,
    changes: ["brands", "brand"],
    async write(_app, db, s) {
      await asStaff(db, "manager", "delete from public.brands where id = $1", [s.brand.id]);
    },
  },
  {
    topic: "category.created",
    path: "sql",
    changes: ["category-tree", "categories"],
    async write(_app, db, s) {
      await asStaff(db, "staff", "insert into public.categories (name, parent_id) values ($1, $2)", [
        `Direct ${s.word}`,
        s.category.id,
      ]);
    },
  },
  {
    topic: "category.updated",
    path: "sql",
    changes: ["category-tree", "categories", "category"],
    async write(_app, db, s) {
      await asStaff(db, "staff", "update public.categories set position = position + 7 where id = $1", [s.category.id]);
    },
  },
  {
    topic: "category.deleted",
    path: "sql",
    prepare: childCategory,
    changes: ["category-tree", "categories", "category"],
    async write(_app, db, s) {
      await asStaff(db, "manager", "delete from public.categories where id = $1", [s.category.id]);
    },
  },

  // Through an inbound pms-product webhook (upsert by SKU).
  {
    topic: "product.created",
    path: "webhook",
    changes: ["products"],
    async write(app, _db, s) {
      await sendPmsProduct(app, { sku: uniqueSku("PMS"), title: `Pms ${s.word}`, price_amount: 700, currency: "EUR" });
    },
  },
  {
    topic: "product.updated",
    path: "webhook",
    changes: PRODUCT_READS,
    async write(app, _db, s) {
      const sku = s.product.variants[0]?.sku;
      await sendPmsProduct(app, { sku, title: `Pms renamed ${s.word}`, price_amount: 1999, currency: "EUR" });
    },
  },
  {
    topic: "variant.updated",
    path: "webhook",
    changes: VARIANT_READS,
    async write(app, _db, s) {
      const sku = s.product.variants[0]?.sku;
      await sendPmsProduct(app, { sku, title: `Subject ${s.word}`, price_amount: 2222, currency: "EUR" });
    },
  },
  {
    topic: "product.unpublished",
    path: "webhook",
    changes: PRODUCT_READS,
    async write(app, _db, s) {
      const sku = s.product.variants[0]?.sku;
      await sendPmsProduct(app, {
        sku,
        title: `Subject ${s.word}`,
        price_amount: 1999,
        currency: "EUR",
        status: "draft",
      });
    },
  },
  {
    topic: "product.published",
    path: "webhook",
    prepare: unpublish,
    changes: PRODUCT_READS,
    async write(app, _db, s) {
      const sku = s.product.variants[0]?.sku;
      await sendPmsProduct(app, {
        sku,
        title: `Subject ${s.word}`,
        price_amount: 1999,
        currency: "EUR",
        status: "published",
      });
    },
  },
];

interface Answer {
  status: number;
  text: string;
  cache: string | null;
}

async function readAll(app: TestApp, s: Subject): Promise<Map<string, Answer>> {
  const answers = new Map<string, Answer>();
  for (const view of VIEWS) {
    for (const name of ALL_READS) {
      const response = await app.request("GET", READS[name](s), { as: view });
      // A problem carries its request's id: compare what it says, not which request said it.
      const text = response.status === 200 ? response.text : `${response.json?.type} ${response.json?.detail}`;
      answers.set(`${view} ${name}`, { status: response.status, text, cache: response.headers.get("x-cache") });
    }
  }
  return answers;
}

/**
 * Fills the cache with every read, checks the reads now come from it, writes, and checks every read
 * again against an app whose cache is empty. Returns the answers before and after for the caller.
 */
export async function checkScenario(app: TestApp, db: Db, scenario: Scenario, fresh: () => TestApp) {
  const subject = await createSubject(app);
  await scenario.prepare?.(app, db, subject);
  await readAll(app, subject);
  await app.services.cache.settled();
  const before = await readAll(app, subject);
  for (const [read, answer] of before) {
    if (answer.status === 200) expect({ read, cache: answer.cache }).toEqual({ read, cache: "hit" });
  }

  await scenario.write(app, db, subject);

  const after = await readAll(app, subject);
  const truth = await readAll(fresh(), subject);
  for (const [read, answer] of after) {
    const expected = truth.get(read);
    expect({ read, status: answer.status, body: answer.text }).toEqual({
      read,
      status: expected?.status,
      body: expected?.text,
    });
  }
  for (const name of scenario.changes) {
    const read = `staff ${name}`;
    expect({ read, changed: before.get(read)?.text !== after.get(read)?.text }).toEqual({ read, changed: true });
  }
  await app.services.cache.settled();
}

export const freshApp =
  (db: Db, env: Record<string, string> = {}) =>
  () =>
    createTestApp(db, { ...CACHE_TEST_ENV, ...env });
