import { fieldErrors } from "../../../http/errors.ts";
import { Problem } from "../../../http/problems.ts";
import type { Db } from "../../../platform/db/types.ts";
import type { AnyInboundHandler } from "../../../platform/inbound-handler.ts";
import { verifiesWithAny } from "../signing.ts";

// Inbound webhooks. A source is any name configured with a secret (INBOUND_WEBHOOK_SECRETS);
// a handler, when there is one for the source, validates and applies the payload through the
// same SQL functions the API uses. Order: verify the signature (svix, Standard Webhooks, 5 min
// tolerance) → record the message id in the transaction that applies it (a repeat answers
// `duplicate` and applies nothing) → validate with zod (422 rolls everything back) → apply.

export interface InboundResult {
  status: "applied" | "duplicate" | "stored";
  message_id: string;
  result?: Record<string, unknown>;
}

const MAX_BODY = 1024 * 1024;

/** The whole inbound pipeline for one request; throws a Problem for every refusal. */
export async function receiveInbound(
  db: Db,
  secretsBySource: Record<string, string[]>,
  source: string,
  body: string,
  header: (name: string) => string | undefined,
  handlers: ReadonlyMap<string, AnyInboundHandler>,
): Promise<InboundResult> {
  const secrets = secretsBySource[source];
  if (!secrets?.length) throw new Problem("not-found", `no inbound webhook source ${source}`);
  if (body.length > MAX_BODY) throw new Problem("payload-too-large", "inbound webhook bodies are at most 1 MiB");

  const headers = {
    "webhook-id": header("webhook-id") ?? "",
    "webhook-timestamp": header("webhook-timestamp") ?? "",
    "webhook-signature": header("webhook-signature") ?? "",
  };
  if (!verifiesWithAny(secrets, body, headers)) {
    throw new Problem("unauthenticated", "the webhook signature is invalid or its timestamp is outside 5 minutes");
  }
  const messageId = headers["webhook-id"];
  if (messageId.length > 255) throw new Problem("malformed-request", "webhook-id is longer than 255 characters");

  let payload: unknown;
  try {
    payload = JSON.parse(body);
  } catch {
    throw new Problem("malformed-request", "the body is not JSON");
  }
  const handler = handlers.get(source);

  return db.asUser({ role: "service_role", inbound_source: source }, async (tx) => {
    const { rows } = await tx.query<{ first: boolean }>("select private.claim_inbound_webhook($1, $2, $3) as first", [
      source,
      messageId,
      JSON.stringify(payload),
    ]);
    if (!rows[0]?.first) return { status: "duplicate" as const, message_id: messageId };
    if (!handler) return { status: "stored" as const, message_id: messageId };

    const parsed = handler.payload.safeParse(payload);
    if (!parsed.success) {
      throw new Problem("validation-failed", `the ${source} payload has invalid fields`, {
        errors: fieldErrors(parsed.error, "json"),
      });
    }
    const result = await handler.apply(tx, parsed.data as never, { id: messageId, source });
    await tx.query(
      `update private.inbound_webhook_messages set status = 'applied', result = $3
       where source = $1 and message_id = $2`,
      [source, messageId, JSON.stringify(result)],
    );
    return { status: "applied" as const, message_id: messageId, result };
  });
}
