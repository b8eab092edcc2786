-- Event payloads carry timestamps as ISO 8601 UTC. The functions below build theirs with
-- jsonb_build_object of a timestamptz, which prints in the session's time zone (+05:30 in a session
-- set to Asia/Kolkata); pinning the time zone on the function makes them print UTC in any session.
alter function private.products_emit_events() set timezone = 'UTC';
alter function private.product_variants_emit_events() set timezone = 'UTC';
alter function private.record_webhook_attempt(bigint, uuid, boolean, integer, integer, text, text, interval, interval)
  set timezone = 'UTC';
alter function private.record_webhook_attempts(jsonb, interval) set timezone = 'UTC';
