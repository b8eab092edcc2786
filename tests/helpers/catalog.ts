import type { AppRole } from "../../packages/server/src/http/auth.ts";
import type { DbClaims } from "../../packages/server/src/platform/db/types.ts";
import { DEMO_USERS } from "./app.ts";

let counter = 0;

/** A SKU no other test in this process has used. */
export function uniqueSku(prefix = "T"): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 6)}`.toUpperCase();
}

/** A product body for POST /products with one variant, overridable. */
export function productInput(overrides: Record<string, unknown> = {}) {
  return {
    title: "Test product",
    description: "A product made by a test",
    variants: [{ sku: uniqueSku(), price_amount: 1999, currency: "EUR", options: { size: "M" } }],
    ...overrides,
  };
}

/** The claims PostgREST would set for a demo user of this role (or anon). */
export function claimsOf(role: AppRole | "anon"): DbClaims {
  if (role === "anon") return { role: "anon" };
  return { role: "authenticated", sub: DEMO_USERS[role], app_role: role };
}
