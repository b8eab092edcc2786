import { existsSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { PGlite } from "@electric-sql/pglite";

// PGlite's initdb takes 3-5 s on this kind of machine, most of a fresh `npm start`. `npm install`
// runs it once (postinstall) and keeps the empty cluster as an image; a fresh data directory is
// then unpacked from it in about a second. The image is keyed by PGlite's version.

const ROOT = new URL("../../../", import.meta.url).pathname;
const pgliteVersion: string = JSON.parse(
  readFileSync(join(ROOT, "node_modules/@electric-sql/pglite/package.json"), "utf8"),
).version;
export const INITDB_IMAGE = join(ROOT, ".storekeep", `initdb-pglite-${pgliteVersion}.tar`);

/** Writes the image unless it exists. */
export async function prepareInitdbImage(path: string = INITDB_IMAGE): Promise<void> {
  if (existsSync(path)) return;
  const pglite = await PGlite.create();
  const image = await pglite.dumpDataDir("none");
  await pglite.close();
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.partial`, Buffer.from(await image.arrayBuffer()));
  await rename(`${path}.partial`, path);
}

/** Opens PGlite on `dataDir`, unpacking the initdb image into it when the directory is new. */
export async function openPglite(dataDir: string, image: string = INITDB_IMAGE): Promise<PGlite> {
  await mkdir(dataDir, { recursive: true });
  const isNew = (await readdir(dataDir)).length === 0;
  if (isNew && existsSync(image)) {
    return PGlite.create({ dataDir, loadDataDir: new Blob([await readFile(image)]) });
  }
  return PGlite.create({ dataDir });
}
