/**
 * The scopes an API key may hold (the migration api_keys lists the same in private.api_key_scopes,
 * and tests/api-keys.security.test.ts checks they agree). Each secured route names the one it needs
 * next to its role: `secured({ role: "staff", scope: "catalog:write" }, ...)`.
 */
export const SCOPES = [
  "catalog:read",
  "catalog:write",
  "inventory:read",
  "inventory:write",
  "orders:read",
  "orders:write",
  "webhooks:manage",
  "sync:read",
  "users:manage",
  "api_keys:manage",
] as const;

export type Scope = (typeof SCOPES)[number];
