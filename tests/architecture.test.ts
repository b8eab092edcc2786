import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { asCasts, isRouteFile } from "./helpers/casts.ts";
import { importCycles, importGraph, layerViolations } from "./helpers/imports.ts";
import { routeNames } from "./helpers/route-names.ts";

// Dependencies run one way: composition root (app.ts, main.ts, jobs/) → domains/* → http/ → platform/.
// What must know every domain (event types, inbound handlers) is a list each domain exports and the
// root gathers; a domain never imports another domain's files.

const SERVER = join(import.meta.dirname, "../packages/server/src");
const LOCAL = join(import.meta.dirname, "../packages/local/src");

describe("the server's import graph", () => {
  const graph = importGraph(SERVER);

  it("has no import cycle (type-only imports included)", () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(importCycles(graph)).toEqual([]);
  });

  it("runs one way: no domain imports another, http/ no domain, platform/ neither", () => {
    expect(layerViolations(graph)).toEqual([]);
  });

  it("the local stack has no import cycle either", () => {
    expect(importCycles(importGraph(LOCAL))).toEqual([]);
  });
});

describe("route definitions", () => {
  it("every domain route is defined through routesFor(tag).secured/open, stating its role once", () => {
    const files = readdirSync(join(SERVER, "domains"), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts"))
      .map((file) => join(SERVER, "domains", file));
    const offenders = files.flatMap((file) => {
      const source = readFileSync(file, "utf8");
      const name = relative(SERVER, file);
      return [
        /\bcreateRoute\b/.test(source) ? `${name} calls createRoute` : [],
        /\brequireRole\b|\brequireAccess\b/.test(source) ? `${name} guards a route itself` : [],
      ].flat();
    });
    expect(files.length).toBeGreaterThan(30);
    expect(offenders).toEqual([]);
  });

  it("shared schemas are defined once: the SKU in http/schemas.ts, the page query in http/pagination.ts", () => {
    const files = readdirSync(join(SERVER, "domains"), { recursive: true, encoding: "utf8" })
      .filter((file) => file.endsWith(".ts"))
      .map((file) => join(SERVER, "domains", file));
    const redeclared = files.flatMap((file) => {
      const source = readFileSync(file, "utf8");
      const name = relative(SERVER, file);
      return [
        source.includes("[A-Za-z0-9._/-]") ? `${name} spells out the SKU pattern` : [],
        // The sync feed is no page: it resumes `since` an outbox cursor, in batches of up to 1000.
        /\blimit: z\.coerce/.test(source) && name !== "domains/sync/schemas.ts"
          ? `${name} redeclares the page query's limit`
          : [],
        /"receipt", "adjustment"/.test(source) && !name.endsWith("inventory/schemas.ts")
          ? `${name} lists the manual movement kinds`
          : [],
      ].flat();
    });
    expect(redeclared).toEqual([]);
  });

  it("a route constant is named after its operation (`adjustStock` -> adjustStockRoute)", () => {
    const routeFiles = readdirSync(join(SERVER, "domains"), { recursive: true, encoding: "utf8" })
      .map((file) => join(SERVER, "domains", file))
      .filter(isRouteFile);
    const named = routeFiles.flatMap((file) => routeNames(readFileSync(file, "utf8")));
    expect(named.length).toBeGreaterThan(60);
    expect(named.filter(({ name, expected }) => name !== expected)).toEqual([]);
  });

  it("route files cast nothing: services return the types the response schemas infer", () => {
    const routeFiles = readdirSync(join(SERVER, "domains"), { recursive: true, encoding: "utf8" })
      .map((file) => join(SERVER, "domains", file))
      .filter(isRouteFile);
    expect(routeFiles.length).toBeGreaterThan(15);
    const casts = routeFiles.flatMap((file) => asCasts(file).map((cast) => `${relative(SERVER, file)}:${cast}`));
    expect(casts).toEqual([]);
  });
});

describe("the guards themselves", () => {
  const graph = (edges: Record<string, string[]>) => new Map(Object.entries(edges));

  it("find a cycle through type-only and value imports, and a file importing itself", () => {
    const cycles = importCycles(
      graph({
        "domains/a/event-types.ts": ["platform/event-type.ts", "domains/b/x.ts"],
        "domains/b/x.ts": ["domains/a/event-types.ts"],
        "platform/event-type.ts": [],
        "http/self.ts": ["http/self.ts"],
      }),
    );
    expect(cycles).toEqual([["domains/a/event-types.ts", "domains/b/x.ts"], ["http/self.ts"]]);
  });

  it("read a route constant's name and the one its operationId asks for", () => {
    const source = `
      const getCacheStats = secured(access, { operationId: "getCacheStats", method: "get" });
      const adjustStockRoute = secured(access, { operationId: "adjustStock" });
      const crud = (Name) => ({ remove: secured(access, { operationId: \`delete\${Name}\` }) });
      const closeRoute = (action) => secured(access, { operationId: \`\${action}Suggestion\` });`;
    expect(routeNames(source)).toEqual([
      { name: "getCacheStats", expected: "getCacheStatsRoute" },
      { name: "adjustStockRoute", expected: "adjustStockRoute" },
      { name: "remove", expected: "delete" },
    ]);
  });

  it("refuse a domain importing another, http/ importing a domain and platform/ importing http/", () => {
    expect(
      layerViolations(
        graph({
          "app.ts": ["domains/a/routes.ts", "http/route.ts"],
          "domains/a/routes.ts": ["domains/a/service.ts", "http/route.ts", "platform/db/types.ts"],
          "domains/a/inbound.ts": ["domains/b/service.ts"],
          "http/env.ts": ["domains/a/sender.ts"],
          "platform/db/call.ts": ["http/problems.ts"],
        }),
      ),
    ).toEqual([
      "domains/a/inbound.ts imports domains/b/service.ts",
      "http/env.ts imports domains/a/sender.ts",
      "platform/db/call.ts imports http/problems.ts",
    ]);
  });
});
