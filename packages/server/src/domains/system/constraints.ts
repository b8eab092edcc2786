import { type ConstraintRules, rules } from "../../http/constraints.ts";

// The platform's own tables (outbox, audit log, idempotency store): never written from a client's
// field, so none names one (see http/constraints.ts).
export const systemConstraints: ConstraintRules = {
  ...rules("private.events", {
    events_pkey: [null, "internal", "an event is recorded once"],
    events_topic_check: [null, "internal", "an event topic is a dotted lower-case name"],
  }),
  ...rules("private.audit_log", {
    audit_log_pkey: [null, "internal", "an audit entry is recorded once"],
    audit_log_operation_check: [null, "internal", "an audit entry records an insert, update or delete"],
  }),
  ...rules("private.idempotent_requests", {
    idempotent_requests_pkey: ["header.idempotency-key", "taken", "this Idempotency-Key is in use"],
    idempotent_requests_key_check: ["header.idempotency-key", "invalid", "an Idempotency-Key is 1 to 200 characters"],
  }),
};
