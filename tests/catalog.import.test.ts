import { describe, expect, it } from "vitest";
import { parseCsv } from "../packages/server/src/domains/catalog/transfer/csv.ts";
import { createTestApp } from "./helpers/app.ts";
import { engine, useTestDatabase } from "./helpers/db.ts";

const ctx = useTestDatabase();
const api = () => createTestApp(ctx.db);

async function waitForJob(id: string, as: "staff" | "manager" = "staff") {
  for (let i = 0; i < 200; i++) {
    const job = await api().request("GET", `/v1/jobs/${id}`, { as });
    expect(job.status, job.text).toBe(200);
    if (job.json.status === "completed" || job.json.status === "failed") return job.json;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`job ${id} did not finish`);
}

async function startImport(body: string, contentType: string, as: "staff" | "manager" = "staff") {
  const response = await api().request("POST", "/v1/products/import", {
    as,
    body,
    headers: { "content-type": contentType },
  });
  return response;
}

describe(`product import on ${engine}`, () => {
  it("imports CSV as a job: variants grouped by handle, bad lines reported with their line numbers", async () => {
    await api().request("POST", "/v1/brands", { as: "staff", body: { name: "Import Brand" } });
    const csv = [
      "handle,title,description,brand,sku,variant_title,options,price_amount,currency,compare_at_amount",
      'imp-tee,Import Tee,"Soft, ""quoted"" cotton",import-brand,IMP-TEE-S,Small,"{""size"":""S""}",1500,EUR,',
      "imp-tee,,,,IMP-TEE-M,Medium,,1600,EUR,",
      "imp-cap,Import Cap,,,IMP-CAP,,,900,EUR,800", // compare_at below price: database rule
      "imp-bag,Import Bag,,unknown-brand,IMP-BAG,,,1200,EUR,", // unknown brand
      "imp-sock,Import Sock,,,IMP-SOCK,,,abc,EUR,", // not a number
      'imp-mug,Import Mug,"multi',
      'line description",,IMP-MUG,,,700,EUR,',
      "imp-dup,Import Duplicate,,,imp-tee-s,,,100,EUR,", // SKU taken (case-insensitive)
    ].join("\r\n");
    const response = await startImport(csv, "text/csv");
    expect(response.status, response.text).toBe(202);
    expect(response.headers.get("location")).toBe(`/api/v1/jobs/${response.json.id}`);
    expect(response.json).toMatchObject({ kind: "catalog.import", total: 6 });

    const job = await waitForJob(response.json.id);
    expect(job).toMatchObject({ status: "completed", total: 6, done: 2, failed: 4 });
    expect(job.errors.map((e: any) => e.line)).toEqual([4, 5, 6, 9]);
    expect(job.errors.find((e: any) => e.line === 5).message).toMatch(/brand/);
    expect(job.errors.find((e: any) => e.line === 6).message).toMatch(/price_amount/);

    const tee = await ctx.db.query<{ description: string; skus: string[]; brand: string }>(
      `select p.description, array_agg(v.sku order by v.position) as skus, b.handle as brand
       from public.products p join public.product_variants v on v.product_id = p.id join public.brands b on b.id = p.brand_id
       where p.handle = 'imp-tee' group by p.id, b.handle`,
    );
    expect(tee.rows[0]).toEqual({
      description: 'Soft, "quoted" cotton',
      skus: ["IMP-TEE-S", "IMP-TEE-M"],
      brand: "import-brand",
    });
    const mug = await ctx.db.query<{ description: string }>(
      "select description from public.products where handle = 'imp-mug'",
    );
    expect(mug.rows[0]?.description).toBe("multi\r\nline description"); // CRLF inside quotes is kept
  });

  it("imports JSON Lines; unparseable lines and refused rows fail alone", async () => {
    const lines = [
      JSON.stringify({ title: "JL one", variants: [{ sku: "JL-1", price_amount: 100, currency: "EUR" }] }),
      "{not json",
      "",
      JSON.stringify({
        title: "JL published",
        status: "published",
        variants: [{ sku: "JL-2", price_amount: 1, currency: "EUR" }],
      }),
      JSON.stringify({ title: "JL two" }),
    ].join("\n");
    const response = await startImport(lines, "application/x-ndjson");
    expect(response.status).toBe(202);
    const job = await waitForJob(response.json.id);
    expect(job).toMatchObject({ total: 4, done: 2, failed: 2 });
    expect(job.errors.map((e: any) => [e.line, e.sqlstate ?? null])).toEqual([
      [2, null],
      [4, "P0F01"], // staff may not import published products
    ]);
    // The same file by a manager publishes that row.
    const byManager = await startImport(
      lines.replace(/JL-(\d)/g, "JLM-$1").replace(/JL (one|two)/g, "JLM $1"),
      "application/x-ndjson",
      "manager",
    );
    const managerJob = await waitForJob(byManager.json.id, "manager");
    expect(managerJob).toMatchObject({ done: 3, failed: 1 });
  });

  it("generates unique handles from titles within one chunk and around stored ones", async () => {
    const tag = `hg${Date.now().toString(36)}`;
    const stored = await api().request("POST", "/v1/products", { as: "staff", body: { title: `${tag} Twin` } });
    expect(stored.json.handle).toBe(`${tag}-twin`);
    const lines = [
      { title: `${tag} Twin` }, // taken: twin-2
      { title: `${tag} Twin` }, // twin-3
      { title: `${tag} Twin 2` }, // its slug is a handle line 1 took: twin-2-2
      { title: `${tag} Solo piece` }, // free: solo-piece
      { handle: `${tag}-solo-x`, title: `${tag} Explicit` },
      { title: `${tag} Solo X` }, // the handle of line 5: solo-x-2
    ]
      .map((line) => JSON.stringify(line))
      .join("\n");
    const job = await waitForJob((await startImport(lines, "application/x-ndjson")).json.id);
    expect(job).toMatchObject({ done: 6, failed: 0 });
    const { rows } = await ctx.db.query<{ title: string; handle: string }>(
      "select title, handle from public.products where handle like $1 order by created_at, handle",
      [`${tag}-%`],
    );
    expect(rows.map((row) => row.handle.slice(tag.length + 1)).sort()).toEqual(
      ["twin", "twin-2", "twin-3", "twin-2-2", "solo-piece", "solo-x", "solo-x-2"].sort(),
    );
    expect(rows.find((row) => row.handle === `${tag}-twin-2-2`)?.title).toBe(`${tag} Twin 2`);
    expect(rows.find((row) => row.handle === `${tag}-solo-x-2`)?.title).toBe(`${tag} Solo X`);
  });

  it("a job is visible to its owner and managers only; unknown formats and empty bodies are refused", async () => {
    const response = await startImport(JSON.stringify({ title: "Owner only" }), "application/x-ndjson");
    await waitForJob(response.json.id);
    expect((await api().request("GET", `/v1/jobs/${response.json.id}`, { as: "admin" })).status).toBe(200);
    expect((await api().request("GET", `/v1/jobs/${response.json.id}`, { as: "viewer" })).status).toBe(403);
    const otherStaff = await ctx.db.asUser(
      { role: "authenticated", sub: "00000000-0000-4000-8000-0000000000c9", app_role: "staff" },
      (tx) => tx.query("select private.job_status($1) as job", [response.json.id]),
    );
    expect(otherStaff.rows[0]).toEqual({ job: null });
    expect((await startImport("title\nx", "application/pdf")).status).toBe(415);
    expect((await startImport("", "text/csv")).status).toBe(422);
    const unknownColumn = await startImport("title,colour\nx,red", "text/csv");
    const job = await waitForJob(unknownColumn.json.id);
    expect(job.errors[0]).toMatchObject({ line: 1 });
  });

  it("the scheduled worker finishes imports whose rows were left behind", async () => {
    const rows = Array.from({ length: 30 }, (_, i) => JSON.stringify({ title: `Left ${i}` })).join("\n");
    const job = await ctx.db.asUser(
      { role: "authenticated", sub: "00000000-0000-4000-8000-000000000004", app_role: "staff" },
      async (tx) => {
        const { rows: started } = await tx.query<{ id: string }>(
          "select private.job_start('catalog.import', 30) as id",
        );
        const id = started[0]?.id as string;
        await tx.query("select private.import_stage($1, $2::jsonb)", [
          id,
          JSON.stringify(rows.split("\n").map((line, i) => ({ line: i + 1, data: JSON.parse(line) }))),
        ]);
        return id;
      },
    );
    const { jobs } = await import("../packages/server/src/jobs/registry.ts");
    const result = await jobs.find((each) => each.name === "catalog.import")?.run(ctx.db, api().services as never);
    expect(result).toMatchObject({ jobs: 1, rows: 30 });
    expect(await waitForJob(job)).toMatchObject({ status: "completed", done: 30, failed: 0 });
  });
});

describe(`product export on ${engine}`, () => {
  it("streams JSON Lines and CSV of the filtered catalog; the CSV imports again", async () => {
    const jsonl = await api().request("GET", "/v1/products/export?format=jsonl&q=import", { as: "viewer" });
    expect(jsonl.status).toBe(200);
    expect(jsonl.headers.get("content-type")).toMatch(/application\/x-ndjson/);
    const products = jsonl.text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(products.map((p) => p.handle).sort()).toEqual(["imp-mug", "imp-tee"]);

    const csv = await api().request("GET", "/v1/products/export?format=csv&q=import", { as: "viewer" });
    expect(csv.headers.get("content-type")).toMatch(/text\/csv/);
    const records = parseCsv(csv.text);
    expect(records[0]?.fields.slice(0, 3)).toEqual(["handle", "title", "description"]);
    expect(records).toHaveLength(4); // header + tee (2 variants) + mug
    const teeLine = records.find((record) => record.fields[8] === "IMP-TEE-S");
    expect(teeLine?.fields[5]).toBe("import-brand");

    // Round trip: the exported CSV, with new handles and SKUs, imports cleanly.
    const again = csv.text.replace(/imp-(tee|mug)/g, "rt-$1").replace(/IMP-/g, "RT-");
    const job = await waitForJob((await startImport(again, "text/csv")).json.id);
    expect(job).toMatchObject({ total: 2, done: 2, failed: 0 });
  });

  it("pages through a catalog larger than one page", async () => {
    const rows = Array.from({ length: 700 }, (_, i) =>
      JSON.stringify({
        title: `Paged export ${i}`,
        variants: [{ sku: `PAGED-${i}`, price_amount: i, currency: "EUR" }],
      }),
    ).join("\n");
    const job = await waitForJob((await startImport(rows, "application/x-ndjson")).json.id);
    expect(job).toMatchObject({ done: 700 });
    const exported = await api().request("GET", "/v1/products/export?format=jsonl&q=paged", { as: "viewer" });
    const lines = exported.text.trim().split("\n");
    expect(lines).toHaveLength(700);
    expect(new Set(lines.map((line) => JSON.parse(line).id)).size).toBe(700);
  });
});
