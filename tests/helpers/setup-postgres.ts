import type { TestProject } from "vitest/node";
import { migrate } from "../../packages/local/src/migrate.ts";
import { createPostgresDb } from "../../packages/server/src/platform/db/postgres.ts";
import { adminDb, databaseUrl } from "./postgres.ts";

/** Migrates a template database once; each test file gets `create database ... template` of it. */
export default async function setup(project: TestProject) {
  const template = `storekeep_template_${process.pid}`;
  const admin = adminDb();
  await admin.query(`drop database if exists ${template}`);
  await admin.query(`create database ${template}`);
  const db = createPostgresDb(databaseUrl(template), { max: 1 });
  try {
    await migrate(db, { seed: true });
  } finally {
    await db.close();
  }
  project.provide("postgresTemplate", template);
  return async () => {
    await admin.query(`drop database if exists ${template} with (force)`);
    await admin.close();
  };
}
