import { readFile } from "node:fs/promises";
import { PGlite } from "@electric-sql/pglite";
import { afterAll, beforeAll, inject } from "vitest";
import { createPgliteDb } from "../../packages/server/src/platform/db/pglite.ts";
import { createPostgresDb } from "../../packages/server/src/platform/db/postgres.ts";
import type { Db } from "../../packages/server/src/platform/db/types.ts";
import { adminDb, databaseUrl } from "./postgres.ts";

export type Engine = "pglite" | "postgres";

/** The engine this vitest project runs on. */
export const engine: Engine = process.env.STOREKEEP_TEST_ENGINE === "postgres" ? "postgres" : "pglite";
export const onPostgres = engine === "postgres";

export interface TestDatabase {
  db: Db;
  /** Postgres only: the URL of this file's own database (for a second pool or another process). */
  url?: string;
  drop(): Promise<void>;
}

/** A fresh, migrated and seeded database of its own for the calling test file. */
export async function createTestDatabase(options: { poolMax?: number } = {}): Promise<TestDatabase> {
  if (engine === "pglite") {
    const image = new Blob([await readFile(inject("pgliteTemplate"))]);
    const db = createPgliteDb(await PGlite.create({ loadDataDir: image }));
    return { db, drop: () => db.close() };
  }
  const name = `storekeep_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = adminDb();
  try {
    await admin.query(`create database ${name} template ${inject("postgresTemplate")}`);
  } finally {
    await admin.close();
  }
  const url = databaseUrl(name);
  // Suites that flood a small pool (300 requests on 25 connections) test what the database decides,
  // not how fast a shared machine frees a connection: they wait for one as long as a test may.
  const db = createPostgresDb(url, { max: options.poolMax ?? 10, acquireTimeoutMs: 30_000 });
  return {
    db,
    url,
    async drop() {
      await db.close();
      const dropper = adminDb();
      await dropper.query(`drop database if exists ${name} with (force)`).finally(() => dropper.close());
    },
  };
}

/** Registers a fresh database for this file: `const ctx = useTestDatabase(); ctx.db` inside tests. */
export function useTestDatabase(options: { poolMax?: number } = {}): {
  readonly db: Db;
  readonly url: string | undefined;
} {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(options);
  });
  afterAll(async () => {
    await database?.drop();
  });
  return {
    get db() {
      if (!database) throw new Error("the test database is not ready (use it inside a test or hook)");
      return database.db;
    },
    get url() {
      return database?.url;
    },
  };
}
