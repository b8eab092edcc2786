import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sqlStateProblems } from "../packages/server/src/http/sql-errors.ts";

// Every business SQLSTATE a migration raises (class P0, P0A00-P0Z99) must have a row in the one
// error table, or a client would get a 500 for a refusal the database meant as a 4xx.

const MIGRATIONS = join(import.meta.dirname, "../supabase/migrations");

/** Codes raised and caught inside the database, never reaching a client, with where. */
const INTERNAL: Record<string, string> = {
  P0R01: "private.catalog_bulk: the atomic bulk's rollback signal, caught by the same function",
};

/** Every Storekeep SQLSTATE named in SQL code (comments left out), with the files naming it. */
function raisedCodes(files: { name: string; sql: string }[]): Map<string, string[]> {
  const codes = new Map<string, string[]>();
  for (const { name, sql } of files) {
    const code = sql.replace(/--[^\n]*/g, "").replace(/\/\*[\s\S]*?\*\//g, "");
    for (const [, found] of code.matchAll(/'(P0[A-Z][0-9]{2})'/g)) {
      codes.set(found as string, [...new Set([...(codes.get(found as string) ?? []), name])]);
    }
  }
  return codes;
}

/** The codes raised that neither the table maps nor INTERNAL explains. */
function unmapped(codes: Map<string, string[]>, table: Record<string, unknown>): string[] {
  return [...codes]
    .filter(([code]) => !(code in table) && !(code in INTERNAL))
    .map(([code, files]) => `${code} (${files.join(", ")})`);
}

const migrations = readdirSync(MIGRATIONS)
  .filter((name) => name.endsWith(".sql"))
  .map((name) => ({ name, sql: readFileSync(join(MIGRATIONS, name), "utf8") }));

describe("the SQLSTATE table", () => {
  it("maps every business SQLSTATE a migration raises", () => {
    const codes = raisedCodes(migrations);
    expect(codes.size).toBeGreaterThanOrEqual(6);
    expect(unmapped(codes, sqlStateProblems)).toEqual([]);
  });

  it("only excuses internal codes the migrations catch where they raise them", () => {
    for (const code of Object.keys(INTERNAL)) {
      expect(migrations.some(({ sql }) => sql.includes(`when sqlstate '${code}'`))).toBe(true);
    }
  });

  it("finds an unmapped code in SQL and ignores one named only in a comment", () => {
    const codes = raisedCodes([
      {
        name: "20991231000000_new.sql",
        sql: "-- P0Q02 is mentioned here only\nperform private.raise_business_error('P0Q01', 'no', '{}');",
      },
    ]);
    expect(unmapped(codes, sqlStateProblems)).toEqual(["P0Q01 (20991231000000_new.sql)"]);
  });
});
