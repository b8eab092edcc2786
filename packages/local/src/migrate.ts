import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Db } from "../../server/src/platform/db/types.ts";

const ROOT = new URL("../../../", import.meta.url).pathname;
export const MIGRATIONS_DIR = join(ROOT, "supabase/migrations");
export const SEED_FILE = join(ROOT, "supabase/seed.sql");
export const SHIM_FILE = new URL("../sql/platform-shim.sql", import.meta.url).pathname;

// The Supabase CLI's own history table, so `supabase db push` sees what we applied.
const HISTORY_DDL = `
  create schema if not exists supabase_migrations;
  create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
  alter table supabase_migrations.schema_migrations add column if not exists statements text[];
  alter table supabase_migrations.schema_migrations add column if not exists name text;
`;

export interface MigrateOptions {
  migrationsDir?: string;
  /** Apply the platform shim first: `auto` does it where the database is not Supabase. */
  shim?: "auto" | boolean;
  seed?: boolean;
}

export interface MigrateResult {
  shimApplied: boolean;
  applied: string[];
  seeded: boolean;
}

/** Applies the shim (where needed), every pending migration in order, and optionally the seed. */
export async function migrate(db: Db, options: MigrateOptions = {}): Promise<MigrateResult> {
  const shimApplied = await applyShim(db, options.shim ?? "auto");
  await db.exec(HISTORY_DDL);
  const done = new Set(
    (await db.query<{ version: string }>("select version from supabase_migrations.schema_migrations")).rows.map(
      (row) => row.version,
    ),
  );

  const applied: string[] = [];
  for (const migration of await listMigrations(options.migrationsDir ?? MIGRATIONS_DIR)) {
    if (done.has(migration.version)) continue;
    const sql = await readFile(migration.path, "utf8");
    await db.transaction(async (tx) => {
      await tx.exec(sql);
      await tx.query(
        "insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)",
        [migration.version, migration.name, [sql]],
      );
    });
    applied.push(migration.file);
  }

  if (options.seed) await db.exec(await readFile(SEED_FILE, "utf8"));
  return { shimApplied, applied, seeded: options.seed ?? false };
}

async function applyShim(db: Db, shim: "auto" | boolean): Promise<boolean> {
  if (shim === false) return false;
  if (shim === "auto") {
    // Re-applied (it is idempotent) to a local database made before the shim grew realtime.
    const { rows } = await db.query<{ present: boolean }>(
      "select to_regclass('auth.users') is not null and to_regclass('realtime.messages') is not null as present",
    );
    if (rows[0]?.present) return false;
  }
  await db.exec(await readFile(SHIM_FILE, "utf8"));
  return true;
}

export interface Migration {
  file: string;
  version: string;
  name: string;
  path: string;
}

export async function listMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith(".sql")).sort();
  return files.map((file) => {
    const match = /^(\d{14})_(.+)\.sql$/.exec(file);
    if (!match?.[1] || !match[2]) throw new Error(`migration ${file} is not named YYYYMMDDHHMMSS_<topic>.sql`);
    return { file, version: match[1], name: match[2], path: join(dir, file) };
  });
}
