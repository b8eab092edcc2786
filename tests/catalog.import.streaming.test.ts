import { describe, expect, it } from "vitest";
import { BodyFingerprint } from "../packages/server/src/domains/catalog/transfer/fingerprint.ts";
import { ImportReader, type ParsedImport } from "../packages/server/src/domains/catalog/transfer/format.ts";
import { startImport } from "../packages/server/src/domains/catalog/transfer/service.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);
const staff = { role: "authenticated" as const, sub: "00000000-0000-4000-8000-000000000004", app_role: "staff" };

/** Reads `text` in pieces of `size` characters; every product and refused line, in order. */
function readInPieces(text: string, format: "csv" | "jsonl", size: number) {
  const reader = new ImportReader(format);
  const all: ParsedImport = { items: [], errors: [] };
  const add = (part: ParsedImport) => {
    all.items.push(...part.items);
    all.errors.push(...part.errors);
  };
  for (let at = 0; at < text.length; at += size) add(reader.push(text.slice(at, at + size)));
  add(reader.end());
  return { ...all, total: reader.total };
}

/** A stream of the text's bytes in pieces of `size` bytes. */
const streamOf = (text: string, size: number) => {
  const bytes = new TextEncoder().encode(text);
  let at = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
};

const stagingJobs = async () =>
  (await ctx.db.query<{ n: number }>("select count(*)::int as n from private.background_jobs where status = 'staging'"))
    .rows[0]?.n;

describe(`import read as a stream on ${engine}`, () => {
  it("reads the same products and line errors however the file is cut (CRLF, quotes, multi-byte characters)", () => {
    const csv = [
      "\ufeffhandle,title,description,sku,price_amount,currency",
      'st-a,Stream Ä,"a ""quoted""\r\nnewline",ST-A-1,100,EUR',
      "st-a,,,ST-A-2,110,EUR",
      "st-b,Stream B,,ST-B,abc,EUR",
      "st-c,Stream C ☕,,ST-C,300,EUR",
      "",
    ].join("\r\n");
    const whole = readInPieces(csv, "csv", csv.length);
    expect(whole.items.map((item) => item.line)).toEqual([2, 6]);
    expect(whole.errors.map((error) => [error.line, error.field])).toEqual([[5, "variants.0.price_amount"]]);
    expect(whole.items[0]?.data).toMatchObject({ description: 'a "quoted"\r\nnewline', title: "Stream Ä" });
    for (const size of [1, 2, 3, 7, 64]) expect(readInPieces(csv, "csv", size)).toEqual(whole);

    const jsonl = ['{"title":"J ☕ 1"}', "{oops", "", '{"title":"J 2"}\r', '{"title":"J 3"}'].join("\n");
    const lines = readInPieces(jsonl, "jsonl", jsonl.length);
    expect(lines.items.map((item) => item.line)).toEqual([1, 4, 5]);
    expect(lines.errors.map((error) => error.line)).toEqual([2]);
    for (const size of [1, 5, 16]) expect(readInPieces(jsonl, "jsonl", size)).toEqual(lines);
  });

  it("fingerprints a body the same way whatever its pieces, and another body otherwise", async () => {
    const body = new Uint8Array(3 * 1024 * 1024 + 17).map((_, i) => i % 251);
    const fingerprintOf = async (size: number, bytes = body) => {
      const fingerprint = new BodyFingerprint();
      for (let at = 0; at < bytes.length; at += size) await fingerprint.add(bytes.subarray(at, at + size));
      return fingerprint.digest();
    };
    const whole = await fingerprintOf(body.length);
    expect(await fingerprintOf(65_536)).toBe(whole);
    expect(await fingerprintOf(1_000_003)).toBe(whole);
    const changed = body.slice();
    changed[2 * 1024 * 1024 + 5] = 0;
    expect(await fingerprintOf(65_536, changed)).not.toBe(whole);
  });

  it("a body past the limit mid-stream is refused and leaves nothing staged", async () => {
    // 8,000 lines of about 26 bytes: the first batch of 5,000 is staged before the limit is passed.
    const lines = Array.from({ length: 8_000 }, (_, i) => JSON.stringify({ title: `Too large ${i}` })).join("\n");
    const staged: number[] = [];
    const watched = {
      ...ctx.db,
      queryAsUser: ((claims, sql, params) => {
        if (sql.includes("import_stage")) staged.push(JSON.parse(String(params?.[1])).length);
        return ctx.db.queryAsUser(claims, sql, params);
      }) as typeof ctx.db.queryAsUser,
    };
    await expect(
      startImport(watched, staff, streamOf(lines, 4096), "jsonl", { maxBytes: 150_000 }),
    ).rejects.toMatchObject({
      code: "payload-too-large",
    });
    expect(staged).toHaveLength(1);
    expect(staged[0]).toBeGreaterThanOrEqual(5_000);
    expect(await stagingJobs()).toBe(0);
    const { rows } = await ctx.db.query("select count(*)::int as n from private.import_rows");
    expect(rows[0]).toEqual({ n: 0 });
  });

  it("a repeat with the same key stages nothing more and answers the first job; another body under it is a 409", async () => {
    const body = Array.from({ length: 20 }, (_, i) => JSON.stringify({ title: `Keyed ${i}` })).join("\n");
    const send = (text: string) =>
      api().request("POST", "/v1/products/import", {
        as: "staff",
        body: text,
        headers: { "content-type": "application/x-ndjson", "idempotency-key": "stream-key-1" },
      });
    const first = await send(body);
    expect(first.status, first.text).toBe(202);
    const jobs = async () =>
      (await ctx.db.query<{ n: number }>("select count(*)::int as n from private.background_jobs")).rows[0]?.n;
    const before = await jobs();
    const again = await send(body);
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json.id).toBe(first.json.id);
    const other = await send(`${body}\n{"title":"One more"}`);
    expect(other.status).toBe(409);
    expect(await jobs()).toBe(before);
    expect(await stagingJobs()).toBe(0);
  });
});
