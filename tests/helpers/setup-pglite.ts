import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import type { TestProject } from "vitest/node";
import { migrate } from "../../packages/local/src/migrate.ts";
import { createPgliteDb } from "../../packages/server/src/platform/db/pglite.ts";

/** Migrates one PGlite database and saves its data directory; each test file starts from a copy. */
export default async function setup(project: TestProject) {
  const pglite = await PGlite.create();
  await migrate(createPgliteDb(pglite), { seed: true });
  const image = await pglite.dumpDataDir("none");
  await pglite.close();
  const dir = join(process.cwd(), ".tmp");
  await mkdir(dir, { recursive: true });
  const path = join(dir, `pglite-template-${process.pid}.tar`);
  await writeFile(path, Buffer.from(await image.arrayBuffer()));
  project.provide("pgliteTemplate", path);
}

declare module "vitest" {
  export interface ProvidedContext {
    pgliteTemplate: string;
    postgresTemplate: string;
  }
}
