import { Problem } from "../../../http/problems.ts";
import { idempotentAsUser } from "../../../platform/db/idempotency.ts";
import type { Db, DbClaims } from "../../../platform/db/types.ts";
import type { Job } from "../schemas.ts";
import { normalizeJson } from "../shared.ts";
import { BodyFingerprint } from "./fingerprint.ts";
import { type ImportItem, ImportReader, type LineError, MAX_IMPORT_ROWS, type ParsedImport } from "./format.ts";

const STAGE_BATCH = 5_000;
export const IMPORT_CHUNK = 1_000;
const MAX_EARLY_ERRORS = 1_000;
const TEXT_SLICE = 1024 * 1024;

/**
 * Starts an import from a streamed body: reads, parses and validates it piece by piece and stages
 * the good rows in batches of STAGE_BATCH (each batch a short transaction as the caller) into a job
 * that no worker takes yet, so the file is never held whole. Then, in one transaction, the
 * Idempotency-Key is claimed and the job queued; the answer recorded is the job as read there (queued,
 * or completed when no line was valid). A repeat (same caller, key, format and body, the body
 * fingerprinted while it streams) gets that answer back with `replayed`, and what it staged is
 * discarded, as is everything staged by a request that fails.
 */
export async function startImport(
  db: Db,
  claims: DbClaims,
  body: ReadableStream<Uint8Array>,
  format: "csv" | "jsonl",
  options: { idempotencyKey?: string; maxBytes: number },
): Promise<{ result: Job; replayed: boolean }> {
  const { rows } = await db.queryAsUser<{ id: string }>(claims, "select private.import_open() as id");
  const id = rows[0]?.id;
  if (!id) throw new Error("import_open returned no id");
  const discard = () => db.queryAsUser(claims, "select private.import_discard($1)", [id]);
  try {
    const staged = await stageBody(db, claims, id, body, format, options.maxBytes);
    if (staged.total === 0) {
      throw new Problem("validation-failed", "the import has no rows", {
        errors: [{ field: "body", message: "no rows" }],
      });
    }
    const request = options.idempotencyKey ? { format, body_sha256: staged.fingerprint } : null;
    const outcome = await idempotentAsUser(
      db,
      claims,
      options.idempotencyKey,
      "importProducts",
      request,
      async (tx) => {
        await tx.query("select private.import_close($1, $2, $3, $4::jsonb)", [
          id,
          staged.total,
          staged.failed,
          JSON.stringify(staged.errors),
        ]);
        const { rows: status } = await tx.query<{ result: Job | null }>("select private.job_status($1) as result", [
          id,
        ]);
        const job = status[0]?.result;
        if (!job) throw new Error("job_status returned nothing for a job just closed");
        return normalizeJson(job);
      },
    );
    if (outcome.replayed) await discard();
    return outcome;
  } catch (error) {
    await discard().catch(() => {});
    throw error;
  }
}

/** Reads the body into the job's staging rows; the products and refused lines, the first refusals, the fingerprint. */
async function stageBody(
  db: Db,
  claims: DbClaims,
  id: string,
  body: ReadableStream<Uint8Array>,
  format: "csv" | "jsonl",
  maxBytes: number,
): Promise<{ total: number; failed: number; errors: LineError[]; fingerprint: string }> {
  const reader = new ImportReader(format);
  const fingerprint = new BodyFingerprint();
  const decoder = new TextDecoder();
  const errors: LineError[] = [];
  let failed = 0;
  const batch: ImportItem[] = [];
  let bytes = 0;
  const stage = async (all = false) => {
    while (batch.length >= STAGE_BATCH || (all && batch.length > 0)) {
      const rows = batch.splice(0, STAGE_BATCH);
      await db.queryAsUser(claims, "select private.import_stage($1, $2::jsonb)", [id, JSON.stringify(rows)]);
    }
  };
  const take = async ({ items, errors: refused }: ParsedImport) => {
    if (reader.total > MAX_IMPORT_ROWS) {
      throw new Problem("payload-too-large", `an import takes at most ${MAX_IMPORT_ROWS} rows`);
    }
    failed += refused.length;
    errors.push(...refused.slice(0, MAX_EARLY_ERRORS - errors.length));
    for (const item of items) batch.push(item);
    await stage();
  };
  // A large piece (a body given whole) is read a slice at a time, so what is held stays small.
  const read = async (text: string) => {
    for (let at = 0; at < text.length; at += TEXT_SLICE) await take(reader.push(text.slice(at, at + TEXT_SLICE)));
  };
  const source = body.getReader();
  try {
    for (let next = await source.read(); !next.done; next = await source.read()) {
      bytes += next.value.byteLength;
      if (bytes > maxBytes) throw new Problem("payload-too-large", `an import body is at most ${maxBytes} bytes`);
      await fingerprint.add(next.value);
      await read(decoder.decode(next.value, { stream: true }));
    }
  } finally {
    await source.cancel().catch(() => {});
  }
  await read(decoder.decode());
  await take(reader.end());
  await stage(true);
  return { total: reader.total, failed, errors, fingerprint: await fingerprint.digest() };
}

/** Processes an import's staged rows chunk by chunk (each chunk one transaction as the job's user). */
export async function processImport(db: Db, claims: DbClaims, jobId: string, chunk = IMPORT_CHUNK): Promise<number> {
  let processed = 0;
  for (;;) {
    const { rows } = await db.queryAsUser<{ result: { taken: number } }>(
      claims,
      "select private.catalog_import_chunk($1, $2) as result",
      [jobId, chunk],
    );
    const taken = rows[0]?.result.taken ?? 0;
    if (taken === 0) return processed;
    processed += taken;
  }
}

/** The scheduled worker: finishes every import with rows left (for example after a restart), drops abandoned staging. */
export async function processPendingImports(db: Db): Promise<{ jobs: number; rows: number; abandoned: number }> {
  const { rows } = await db.query<{ id: string; claims: DbClaims }>("select id, claims from private.import_pending()");
  let total = 0;
  for (const job of rows) total += await processImport(db, job.claims, job.id);
  const { rows: dropped } = await db.query<{ n: number }>("select private.import_discard_abandoned() as n");
  return { jobs: rows.length, rows: total, abandoned: dropped[0]?.n ?? 0 };
}

export async function getJob(db: Db, claims: DbClaims, id: string): Promise<Job> {
  const { rows } = await db.queryAsUser<{ result: Job | null }>(claims, "select private.job_status($1) as result", [
    id,
  ]);
  const job = rows[0]?.result;
  if (!job) throw new Problem("not-found", `no job ${id}`);
  return normalizeJson(job);
}
