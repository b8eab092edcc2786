// The numbers issue #10 asks for, for any checkout of the repository:
//   npx tsx scripts/architecture-numbers.ts [path/to/checkout]
// import cycles in packages/server/src, its largest files, and the `as` casts in route files
// (AST-counted: `as const` is no cast and is not counted).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { asCasts, isRouteFile } from "../tests/helpers/casts.ts";
import { importCycles, importGraph } from "../tests/helpers/imports.ts";

const root = resolve(process.argv[2] ?? ".", "packages/server/src");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : name.endsWith(".ts") ? [path] : [];
  });
}

const all = files(root);
const cycles = importCycles(importGraph(root));
console.log(`import cycles: ${cycles.length}`);
for (const cycle of cycles) console.log(`  ${cycle.join(" -> ")}`);

const sizes = all
  .map((path) => ({ path: relative(root, path), lines: readFileSync(path, "utf8").split("\n").length - 1 }))
  .sort((a, b) => b.lines - a.lines);
console.log("largest files (lines):");
for (const { path, lines } of sizes.slice(0, 4)) console.log(`  ${lines} ${path}`);

const casts = all.filter(isRouteFile).flatMap((path) => asCasts(path).map((cast) => `${relative(root, path)}:${cast}`));
console.log(`as casts in route files: ${casts.length}`);
for (const cast of casts) console.log(`  ${cast}`);
