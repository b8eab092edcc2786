import { Problem } from "../../http/problems.ts";
import { idempotentAsUser } from "../../platform/db/idempotency.ts";
import type { Db, DbClaims, Queryable } from "../../platform/db/types.ts";
import type { CreateEndpointBody, Endpoint, UpdateEndpointBody } from "./schemas.ts";
import { refuseUrl, type UrlPolicy } from "./url-policy.ts";

// Management runs as the caller: row level security on the endpoint, delivery and attempt
// tables, and the admin checks inside the private.* functions, decide what an admin may do.

const ENDPOINT_COLUMNS = `id, url, description, topics, enabled, headers, rate_limit_per_second,
  failing_since, disabled_reason, created_at, updated_at`;

interface EndpointRow {
  id: string;
  url: string;
  description: string;
  topics: string[];
  enabled: boolean;
  headers: Record<string, string>;
  rate_limit_per_second: number | null;
  failing_since: Date | null;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
  [column: string]: unknown;
}

const iso = (value: Date | string | null | undefined): string | null =>
  value === null || value === undefined ? null : new Date(value).toISOString();

const toEndpoint = (row: EndpointRow): Endpoint => ({
  id: row.id,
  url: row.url,
  description: row.description,
  topics: row.topics,
  enabled: row.enabled,
  headers: row.headers,
  rate_limit_per_second: row.rate_limit_per_second,
  failing_since: iso(row.failing_since),
  disabled_reason: row.disabled_reason,
  created_at: iso(row.created_at) ?? "",
  updated_at: iso(row.updated_at) ?? "",
});

/** The SSRF rules at registration: a refused URL is a 422 on `body.url`. */
async function requireAllowedUrl(url: string, policy: UrlPolicy): Promise<void> {
  const refused = await refuseUrl(url, policy);
  if (refused) {
    throw new Problem("validation-failed", `the endpoint URL is not allowed: ${refused}`, {
      errors: [{ field: "body.url", message: refused }],
    });
  }
}

function notFound(id: string): Problem {
  return new Problem("not-found", `no webhook endpoint ${id}`);
}

/**
 * Registers an endpoint and answers it with its signing secret, the only time the API shows it.
 *
 * Idempotency-Key and the secret: the first response, secret included, is recorded in
 * private.idempotent_requests (kept 24 hours) so that a client that lost it can send the same
 * request again (same caller, key and body) and recover the same secret; a replay that left the
 * secret out, or issued another one, would leave that client with an endpoint it cannot verify.
 * Storing it there is acceptable because that table is exactly as protected as
 * private.webhook_secrets (tests/idempotency.routes.test.ts checks it): both live in `private`,
 * which the Data API never exposes; both have row level security enabled with no policy; neither
 * grants anything to anon or authenticated, so only security definer functions reach them. The
 * recorded response is handed back only by private.idempotency_begin, to the caller that recorded
 * it (the admin who already received the secret), for the same key and request hash. A replay
 * answers the first secret even after a rotation (a replay is the first response; that secret signs
 * only until the rotation's overlap ends) and even after the endpoint was deleted.
 *
 * The URL policy (a DNS lookup) runs before the transaction, so no transaction waits on DNS.
 */
export async function createEndpoint(
  db: Db,
  claims: DbClaims,
  policy: UrlPolicy,
  body: CreateEndpointBody,
  idempotencyKey?: string,
) {
  await requireAllowedUrl(body.url, policy);
  return idempotentAsUser(db, claims, idempotencyKey, "createWebhookEndpoint", body, async (tx) => {
    const { rows } = await tx.query<EndpointRow>(
      `insert into public.webhook_endpoints (url, topics, description, enabled, headers, rate_limit_per_second)
       values ($1, $2, coalesce($3, ''), coalesce($4, true), coalesce($5::jsonb, '{}'), $6)
       returning ${ENDPOINT_COLUMNS}`,
      [
        body.url,
        body.topics,
        body.description ?? null,
        body.enabled ?? null,
        body.headers ? JSON.stringify(body.headers) : null,
        body.rate_limit_per_second ?? null,
      ],
    );
    const row = rows[0];
    if (!row) throw new Problem("forbidden", "the caller may not register webhook endpoints");
    const secret = await tx.query<{ secret: string }>("select private.current_webhook_secret($1) as secret", [row.id]);
    return { ...toEndpoint(row), secret: secret.rows[0]?.secret ?? "" };
  });
}

export async function listEndpoints(db: Db, claims: DbClaims, page: { limit: number; after?: string }) {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<EndpointRow>(
      `select ${ENDPOINT_COLUMNS} from public.webhook_endpoints
       where $1::uuid is null or id > $1::uuid order by id limit $2`,
      [page.after ?? null, page.limit + 1],
    ),
  );
  return rows.map(toEndpoint);
}

export async function getEndpoint(db: Db, claims: DbClaims, id: string) {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<EndpointRow>(`select ${ENDPOINT_COLUMNS} from public.webhook_endpoints where id = $1`, [id]),
  );
  const row = rows[0];
  if (!row) throw notFound(id);
  return toEndpoint(row);
}

export async function updateEndpoint(
  db: Db,
  claims: DbClaims,
  policy: UrlPolicy,
  id: string,
  body: UpdateEndpointBody,
) {
  if (body.url !== undefined) await requireAllowedUrl(body.url, policy);
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<EndpointRow>(
      `update public.webhook_endpoints set
         url = coalesce($2, url),
         topics = coalesce($3, topics),
         description = coalesce($4, description),
         enabled = coalesce($5, enabled),
         headers = coalesce($6::jsonb, headers),
         rate_limit_per_second = case when $7 then $8::integer else rate_limit_per_second end
       where id = $1
       returning ${ENDPOINT_COLUMNS}`,
      [
        id,
        body.url ?? null,
        body.topics ?? null,
        body.description ?? null,
        body.enabled ?? null,
        body.headers ? JSON.stringify(body.headers) : null,
        body.rate_limit_per_second !== undefined,
        body.rate_limit_per_second ?? null,
      ],
    ),
  );
  const row = rows[0];
  if (!row) throw notFound(id);
  return toEndpoint(row);
}

export async function deleteEndpoint(db: Db, claims: DbClaims, id: string): Promise<void> {
  const { rowCount } = await db.asUser(claims, (tx) =>
    tx.query("delete from public.webhook_endpoints where id = $1", [id]),
  );
  if (rowCount === 0) throw notFound(id);
}

export async function rotateSecret(db: Db, claims: DbClaims, id: string, overlapSeconds: number) {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<{ secret: string; expire_at: Date }>(
      `select private.rotate_webhook_secret($1, make_interval(secs => $2)) as secret,
              now() + make_interval(secs => $2) as expire_at`,
      [id, overlapSeconds],
    ),
  );
  const row = rows[0];
  if (!row) throw notFound(id);
  return { secret: row.secret, previous_secrets_expire_at: iso(row.expire_at) ?? "" };
}

export function sendTestEvent(db: Db, claims: DbClaims, id: string, idempotencyKey?: string) {
  return idempotentAsUser(db, claims, idempotencyKey, "testWebhookEndpoint", { endpoint_id: id }, async (tx) => {
    const { rows } = await tx.query<{ delivery_id: string }>(
      "select private.send_test_webhook($1)::text as delivery_id",
      [id],
    );
    return { delivery_id: rows[0]?.delivery_id ?? "" };
  });
}

export function replayEvents(
  db: Db,
  claims: DbClaims,
  id: string,
  window: { since: string; until?: string },
  idempotencyKey?: string,
) {
  const request = { endpoint_id: id, since: window.since, until: window.until ?? null };
  return idempotentAsUser(db, claims, idempotencyKey, "replayWebhookEvents", request, async (tx) => {
    const { rows } = await tx.query<{ queued: number }>("select private.replay_webhook_events($1, $2, $3) as queued", [
      id,
      window.since,
      window.until ?? null,
    ]);
    return { queued: rows[0]?.queued ?? 0 };
  });
}

interface DeliveryRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  topic: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
  [column: string]: unknown;
}

const DELIVERY_COLUMNS = `id, endpoint_id, event_id, topic, status, attempts, next_attempt_at, last_attempt_at,
  last_status_code, last_error, delivered_at, created_at`;

const toDelivery = (row: DeliveryRow) => ({
  id: row.id,
  endpoint_id: row.endpoint_id,
  event_id: row.event_id,
  topic: row.topic,
  status: row.status,
  attempts: row.attempts,
  next_attempt_at: row.status === "pending" ? iso(row.next_attempt_at) : null,
  last_attempt_at: iso(row.last_attempt_at),
  last_status_code: row.last_status_code,
  last_error: row.last_error,
  delivered_at: iso(row.delivered_at),
  created_at: iso(row.created_at) ?? "",
});

/** Newest first; the cursor is the last id seen. */
export async function listDeliveries(
  db: Db,
  claims: DbClaims,
  filter: { endpoint_id?: string; status?: string },
  page: { limit: number; before?: string },
) {
  const { rows } = await db.asUser(claims, (tx) =>
    tx.query<DeliveryRow>(
      `select ${DELIVERY_COLUMNS} from private.webhook_deliveries
       where ($1::uuid is null or endpoint_id = $1) and ($2::text is null or status = $2)
         and ($3::bigint is null or id < $3::bigint)
       order by id desc limit $4`,
      [filter.endpoint_id ?? null, filter.status ?? null, page.before ?? null, page.limit + 1],
    ),
  );
  return rows.map(toDelivery);
}

interface AttemptRow {
  attempt: number;
  started_at: Date;
  status_code: number | null;
  latency_ms: number;
  response_body: string | null;
  error: string | null;
  [column: string]: unknown;
}

export async function getDelivery(db: Db, claims: DbClaims, id: string) {
  return db.asUser(claims, async (tx) => {
    const delivery = await requireDelivery(tx, id);
    const { rows } = await tx.query<AttemptRow>(
      `select attempt, started_at, status_code, latency_ms, response_body, error
       from private.webhook_attempts where delivery_id = $1 order by id`,
      [id],
    );
    return {
      ...delivery,
      attempts_log: rows.map((row) => ({ ...row, started_at: iso(row.started_at) ?? "" })),
    };
  });
}

export function retryDelivery(db: Db, claims: DbClaims, id: string, idempotencyKey?: string) {
  return idempotentAsUser(db, claims, idempotencyKey, "retryWebhookDelivery", { delivery_id: id }, async (tx) => {
    await tx.query("select private.retry_webhook_delivery($1)", [id]);
    return requireDelivery(tx, id);
  });
}

async function requireDelivery(tx: Queryable, id: string) {
  const { rows } = await tx.query<DeliveryRow>(
    `select ${DELIVERY_COLUMNS} from private.webhook_deliveries where id = $1`,
    [id],
  );
  const row = rows[0];
  if (!row) throw new Problem("not-found", `no webhook delivery ${id}`);
  return toDelivery(row);
}
