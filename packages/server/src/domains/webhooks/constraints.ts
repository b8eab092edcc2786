import { type ConstraintRules, rules } from "../../http/constraints.ts";

// What each webhook constraint means to a client (see http/constraints.ts).
export const webhookConstraints: ConstraintRules = {
  ...rules("public.webhook_endpoints", {
    webhook_endpoints_pkey: [null, "internal", "an endpoint exists already"],
    webhook_endpoints_url_check: [
      "url",
      "invalid",
      "a URL is http(s)://host..., at most 2,000 characters, without credentials",
    ],
    webhook_endpoints_topics_check: ["topics", "invalid", "1 to 100 topics such as product.* or stock.changed"],
    webhook_endpoints_description_check: ["description", "too_long", "a description is at most 1,000 characters"],
    webhook_endpoints_headers_check: ["headers", "invalid", "headers are a JSON object"],
    webhook_endpoints_rate_limit_per_second_check: [
      "rate_limit_per_second",
      "out_of_range",
      "a rate limit is 1 to 10,000 per second",
    ],
  }),
  ...rules("private.webhook_secrets", {
    webhook_secrets_pkey: [null, "internal", "a secret exists already"],
    webhook_secrets_secret_check: [null, "internal", "a signing secret is whsec_ and base64"],
    webhook_secrets_endpoint_id_fkey: [null, "internal", "a secret belongs to an existing endpoint"],
  }),
  ...rules("private.webhook_deliveries", {
    webhook_deliveries_pkey: [null, "internal", "a delivery exists already"],
    webhook_deliveries_endpoint_id_event_id_key: [null, "internal", "an event is delivered to an endpoint once"],
    webhook_deliveries_status_check: ["status", "invalid", "a delivery is pending, delivered or failed"],
    webhook_deliveries_endpoint_id_fkey: [null, "internal", "a delivery goes to an existing endpoint"],
    webhook_deliveries_event_id_fkey: [null, "internal", "a delivery carries an existing event"],
  }),
  ...rules("private.webhook_attempts", {
    webhook_attempts_pkey: [null, "internal", "an attempt is recorded once"],
    webhook_attempts_error_check: [null, "internal", "an attempt's error is at most 1,024 characters"],
    webhook_attempts_latency_ms_check: [null, "internal", "an attempt's latency is never negative"],
    webhook_attempts_response_body_check: [
      null,
      "internal",
      "an attempt keeps at most 1,024 characters of the response",
    ],
    webhook_attempts_delivery_id_fkey: [null, "internal", "an attempt belongs to an existing delivery"],
    webhook_attempts_endpoint_id_fkey: [null, "internal", "an attempt belongs to an existing endpoint"],
  }),
  ...rules("private.inbound_webhook_messages", {
    inbound_webhook_messages_pkey: [null, "internal", "a message id is applied once per source"],
    inbound_webhook_messages_message_id_check: [null, "internal", "a message id is 1 to 255 characters"],
    inbound_webhook_messages_source_check: ["source", "invalid", "a source is lower-case letters, digits, _ and -"],
    inbound_webhook_messages_status_check: [null, "internal", "a message is applied or stored"],
  }),
  ...rules("private.svix_outbox_cursors", {
    svix_outbox_cursors_pkey: [null, "internal", "one cursor per Svix application"],
    svix_outbox_cursors_app_uid_check: [null, "internal", "a Svix application uid is 1 to 256 characters"],
    svix_outbox_cursors_sent_check: [null, "internal", "a sent count is never negative"],
  }),
};
