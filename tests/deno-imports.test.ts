import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

// deno.json's import map is what Supabase deploys with (config.toml: import_map = "../deno.json");
// package.json is what Node and every other test run. They must name the same packages at the
// same versions, and the map must resolve every bare import the edge functions reach.

const ROOT = join(import.meta.dirname, "..");
const SOURCE_DIRS = ["packages/server/src", "functions"];

interface DenoConfig {
  imports: Record<string, string>;
  nodeModulesDir?: string;
  compilerOptions?: { strict?: boolean };
}
interface PackageJson {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
interface DenoLock {
  specifiers: Record<string, string>;
  workspace: { dependencies: string[] };
  npm: Record<string, { dependencies?: string[] }>;
}
interface PackageLock {
  packages: Record<string, { version?: string }>;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(join(ROOT, file), "utf8")) as T;
const deno = readJson<DenoConfig>("deno.json");
const pkg = readJson<PackageJson>("package.json");

/** `npm:name@version/sub` or `npm:/name@version/` → name and version. */
function parseNpm(target: string): { name: string; version: string } | undefined {
  const match = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)@([^/]+)(?:\/.*)?$/.exec(target);
  return match?.[1] && match[2] ? { name: match[1], version: match[2] } : undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|tsx|js|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts"))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** Every module specifier in a file: static and dynamic imports, re-exports and `@ts-types` directives. */
function specifiersIn(code: string): string[] {
  const patterns = [
    // Statements start a line, so SQL or prose inside strings that says "from" is not mistaken for one.
    /^\s*(?:import|export)\b[^'"`;]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
    /@ts-types\s*=\s*["']([^"']+)["']/g,
  ];
  return patterns.flatMap((pattern) => [...code.matchAll(pattern)].map((match) => match[1] as string));
}

/** The import-map entry Deno would use: an exact key, else the longest `prefix/` key. */
function mapped(specifier: string): string | undefined {
  if (deno.imports[specifier]) return specifier;
  return Object.keys(deno.imports)
    .filter((key) => key.endsWith("/") && specifier.startsWith(key))
    .sort((a, b) => b.length - a.length)[0];
}

const imports = SOURCE_DIRS.flatMap(sourceFiles).flatMap((file) =>
  specifiersIn(readFileSync(join(ROOT, file), "utf8")).map((specifier) => ({ file, specifier })),
);
const bare = imports.filter(({ specifier }) => !/^(\.{0,2}\/|node:)/.test(specifier));

describe("deno.json mirrors package.json", () => {
  it("finds the imports it checks (the scan itself works)", () => {
    expect(imports.map((i) => i.specifier)).toEqual(
      expect.arrayContaining(["hono", "pg", "../../packages/server/src/main.ts"]),
    );
    expect(bare.map((i) => i.specifier)).toContain("@types/pg");
  });

  it("maps every npm: entry to exactly the version package.json pins", () => {
    const entries = Object.entries(deno.imports);
    expect(entries.length).toBeGreaterThan(0);
    for (const [key, target] of entries) {
      const npm = parseNpm(target);
      expect(npm, `deno.json imports["${key}"] = "${target}" is not an exact npm: specifier`).toBeDefined();
      if (!npm) continue;
      // Runtime packages must be real dependencies; only type packages may come from devDependencies.
      const declared = npm.name.startsWith("@types/")
        ? (pkg.dependencies[npm.name] ?? pkg.devDependencies[npm.name])
        : pkg.dependencies[npm.name];
      expect(declared, `deno.json maps ${npm.name}, which package.json's dependencies do not list`).toBeDefined();
      expect(
        npm.version,
        `deno.json imports["${key}"] has ${npm.name}@${npm.version}; package.json has ${declared}`,
      ).toBe(declared);
      // A `name/` prefix entry must point into the same package as `name`.
      if (key.endsWith("/")) {
        expect(target, `prefix entry "${key}" must end with "/"`).toMatch(/\/$/);
        expect(key.slice(0, -1), `prefix entry "${key}" maps another package`).toBe(npm.name);
      } else {
        expect(key, `imports["${key}"] maps another package (${npm.name})`).toBe(npm.name);
      }
    }
  });

  it("maps every bare import under packages/server/src and functions/", () => {
    const unmapped = bare.filter(({ specifier }) => !mapped(specifier)).map((i) => `${i.file}: "${i.specifier}"`);
    expect(unmapped, "add these to deno.json's imports (same version as package.json)").toEqual([]);
  });

  it("imports npm packages by bare name only, so Node and Deno resolve the same source", () => {
    const direct = bare
      .filter(({ specifier }) => /^(npm|jsr|https?):/.test(specifier))
      .map((i) => `${i.file}: "${i.specifier}"`);
    expect(direct, "import by bare name and map it in deno.json").toEqual([]);
  });

  it("keeps Deno on its own npm cache with strict type checking", () => {
    // Supabase bundles without our node_modules; "none" makes local Deno resolve exactly as it will.
    expect(deno.nodeModulesDir).toBe("none");
    expect(deno.compilerOptions?.strict).toBe(true);
  });
});

describe("deno.lock agrees with deno.json and package-lock.json", () => {
  const lock = readJson<DenoLock>("deno.lock");
  const npmLock = readJson<PackageLock>("package-lock.json");

  it("is up to date with deno.json's imports (run `npm run check:deno` to refresh it)", () => {
    expect([...lock.workspace.dependencies].sort()).toEqual(
      Object.values(deno.imports)
        .filter((target) => !target.endsWith("/"))
        .sort(),
    );
  });

  it("runs under Deno no package version that Node's tests do not run", () => {
    // Walk the runtime graph from what the edge functions import (types-only packages excluded).
    const key = (dep: string) => {
      if (lock.npm[dep]) return dep;
      const found = Object.keys(lock.npm).filter((k) => k === dep || k.startsWith(`${dep}@`));
      return found.length === 1 ? found[0] : undefined;
    };
    const roots = Object.entries(lock.specifiers)
      .filter(([specifier]) => !specifier.startsWith("npm:@types/"))
      .map(([specifier, resolved]) => `${(parseNpm(specifier) as { name: string }).name}@${resolved}`);
    const seen = new Set<string>();
    const queue = [...roots];
    while (queue.length > 0) {
      const next = queue.pop() as string;
      if (seen.has(next)) continue;
      seen.add(next);
      for (const dep of lock.npm[next]?.dependencies ?? []) {
        const found = key(dep);
        expect(found, `deno.lock: cannot resolve ${dep} (from ${next})`).toBeDefined();
        if (found) queue.push(found);
      }
    }
    const nodeVersions = new Map<string, Set<string>>();
    for (const [path, entry] of Object.entries(npmLock.packages)) {
      const name = path.split("node_modules/").at(-1);
      if (!name || !entry.version) continue;
      nodeVersions.set(name, (nodeVersions.get(name) ?? new Set()).add(entry.version));
    }
    const mismatched = [...seen]
      .map((id) => {
        const at = id.indexOf("@", 1);
        return { name: id.slice(0, at), version: id.slice(at + 1).split("_")[0] as string };
      })
      .filter(({ name, version }) => !nodeVersions.get(name)?.has(version))
      .map(({ name, version }) => `${name}@${version} (package-lock.json: ${[...(nodeVersions.get(name) ?? [])]})`);
    expect(seen.size).toBeGreaterThan(roots.length);
    expect(mismatched, "re-resolve deno.lock or package-lock.json so both run the same versions").toEqual([]);
  });
});
