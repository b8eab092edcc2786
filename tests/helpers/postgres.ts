import { createPostgresDb } from "../../packages/server/src/platform/db/postgres.ts";
import type { Db } from "../../packages/server/src/platform/db/types.ts";

/** DATABASE_URL with its database name replaced. */
export function databaseUrl(database?: string): string {
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error("DATABASE_URL is not set");
  const url = new URL(base);
  if (database) url.pathname = `/${database}`;
  return url.toString();
}

/** A small pool on DATABASE_URL's own database, for create/drop database. */
export function adminDb(): Db {
  return createPostgresDb(databaseUrl(), { max: 2, applicationName: "storekeep-tests" });
}
