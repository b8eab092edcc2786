// Migrates the database at DATABASE_URL with Storekeep's own runner (the one `npm start` and the
// tests use: platform shim where needed, then supabase/migrations, recorded in the Supabase CLI's
// history table). scripts/supabase-check.sh then asks the real CLI whether it sees that database
// as up to date.
//
//   DATABASE_URL=postgres://... npx tsx scripts/prepare-check-db.ts
import { listMigrations, migrate } from "../packages/local/src/migrate.ts";
import { createPostgresDb } from "../packages/server/src/platform/db/postgres.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("prepare-check-db: DATABASE_URL is not set");
  process.exit(2);
}

const db = createPostgresDb(url, { max: 1, applicationName: "storekeep-prepare-check-db" });
try {
  const result = await migrate(db);
  const expected = (await listMigrations()).map((migration) => migration.file);
  console.log(`shim applied: ${result.shimApplied}`);
  for (const file of result.applied) console.log(`applied ${file}`);
  if (result.applied.join("\n") !== expected.join("\n")) {
    console.error(`prepare-check-db: expected a fresh database to get all ${expected.length} migrations`);
    process.exitCode = 1;
  }
} finally {
  await db.close();
}
