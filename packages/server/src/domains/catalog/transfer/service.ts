import { Problem } from "../../../http/problems.ts";
import { idempotentAsUser, sha256 } from "../../../platform/db/idempotency.ts";
import type { Db, DbClaims } from "../../../platform/db/types.ts";
import type { Job } from "../schemas.ts";
import { normalizeJson } from "../shared.ts";
import { MAX_IMPORT_ROWS, parseImport } from "./format.ts";

const STAGE_BATCH = 5_000;
export const IMPORT_CHUNK = 1_000;

/**
 * Starts an import: parses and validates every line, then creates the job and stages the good
 * rows in one transaction as the caller. Processing happens in chunks afterwards (processImport).
 *
 * With an Idempotency-Key the key is claimed in that same transaction, and the answer recorded is the
 * job as read in it (queued, or completed when no line was valid): what the first request answers.
 * A repeat (same caller, key, format and body; the body is fingerprinted by its SHA-256) gets that
 * answer back with `replayed` and creates no second job. Parsing happens before the transaction so a
 * large body does not keep it (and the key's row lock) open; a repeat therefore parses again, which
 * writes nothing.
 */
export async function startImport(
  db: Db,
  claims: DbClaims,
  text: string,
  format: "csv" | "jsonl",
  idempotencyKey?: string,
): Promise<{ result: Job; replayed: boolean }> {
  const parsed = parseImport(text, format);
  if (parsed.total > MAX_IMPORT_ROWS) {
    throw new Problem("payload-too-large", `an import takes at most ${MAX_IMPORT_ROWS} rows, got ${parsed.total}`);
  }
  if (parsed.total === 0) {
    throw new Problem("validation-failed", "the import has no rows", {
      errors: [{ field: "body", message: "no rows" }],
    });
  }
  const request = idempotencyKey ? { format, body_sha256: await sha256(text) } : null;
  return idempotentAsUser(db, claims, idempotencyKey, "importProducts", request, async (tx) => {
    const { rows } = await tx.query<{ id: string }>("select private.job_start('catalog.import', $1, $2::jsonb) as id", [
      parsed.total,
      JSON.stringify(parsed.errors),
    ]);
    const id = rows[0]?.id;
    if (!id) throw new Error("job_start returned no id");
    for (let at = 0; at < parsed.items.length; at += STAGE_BATCH) {
      await tx.query("select private.import_stage($1, $2::jsonb)", [
        id,
        JSON.stringify(parsed.items.slice(at, at + STAGE_BATCH)),
      ]);
    }
    const { rows: status } = await tx.query<{ result: Job | null }>("select private.job_status($1) as result", [id]);
    const job = status[0]?.result;
    if (!job) throw new Error("job_status returned nothing for a job just started");
    return normalizeJson(job);
  });
}

/** Processes an import's staged rows chunk by chunk (each chunk one transaction as the job's user). */
export async function processImport(db: Db, claims: DbClaims, jobId: string, chunk = IMPORT_CHUNK): Promise<number> {
  let processed = 0;
  for (;;) {
    const { rows } = await db.asUser(claims, (tx) =>
      tx.query<{ result: { taken: number } }>("select private.catalog_import_chunk($1, $2) as result", [jobId, chunk]),
    );
    const taken = rows[0]?.result.taken ?? 0;
    if (taken === 0) return processed;
    processed += taken;
  }
}

/** The scheduled worker: finishes every import with rows left (for example after a restart). */
export async function processPendingImports(db: Db): Promise<{ jobs: number; rows: number }> {
  const { rows } = await db.query<{ id: string; claims: DbClaims }>("select id, claims from private.import_pending()");
  let total = 0;
  for (const job of rows) total += await processImport(db, job.claims, job.id);
  return { jobs: rows.length, rows: total };
}

export async function getJob(db: Db, claims: DbClaims, id: string): Promise<Job> {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<{ result: Job | null }>("select private.job_status($1) as result", [id]),
  );
  const job = rows[0]?.result;
  if (!job) throw new Problem("not-found", `no job ${id}`);
  return normalizeJson(job);
}
