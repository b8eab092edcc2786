-- Records the outcomes of many delivery attempts in one statement, so a dispatcher pays one round
-- trip per group of answers instead of one per attempt. Same rules as
-- private.record_webhook_attempt: every attempt is logged; a 2xx delivers; otherwise the delivery
-- is retried after its retry_after_ms, or failed when that is null; a late outcome of an expired
-- lease may still deliver but never reschedules someone else's claim. Endpoint health: an endpoint
-- with a success in the group is healthy; one with only failures is failing (since its first
-- failure) and is disabled, with a `webhook.endpoint_disabled` event, once that lasts disable_after.
--
-- `outcomes` is a JSON array of
--   {"delivery": 1, "token": "<claim uuid>", "succeeded": true, "status_code": 200, "latency_ms": 12,
--    "response_body": "ok", "error": null, "retry_after_ms": null}
create or replace function private.record_webhook_attempts(outcomes jsonb, disable_after interval default interval '1 day')
returns table (delivery_id bigint, status text)
language plpgsql
volatile
set search_path = ''
as $$
declare
  healthy uuid[];
  failing uuid[];
  endpoint public.webhook_endpoints;
begin
  -- Deliveries are locked in id order, so concurrent groups cannot deadlock; one deleted meanwhile
  -- (with its endpoint) drops out. Row locks are FOR NO KEY UPDATE, the lock an UPDATE of these
  -- columns takes: it does not conflict with the KEY SHARE locks that inserting attempts (foreign
  -- keys) take on the same endpoint in other groups, so two groups never wait on each other there.
  -- Data-modifying CTEs all run, whether referenced or not.
  with locked as (
    select w.id, w.endpoint_id, w.attempts
    from private.webhook_deliveries w
    where w.id in (select (value ->> 'delivery')::bigint from jsonb_array_elements(outcomes))
    order by w.id
    for no key update
  ),
  o as (
    select d.id as delivery, d.endpoint_id, d.attempts as attempt, i.token, coalesce(i.succeeded, false) as succeeded,
      i.status_code, greatest(coalesce(i.latency_ms, 0), 0) as latency_ms,
      left(i.response_body, 1024) as response_body, left(i.error, 1024) as error,
      case when i.retry_after_ms is null then null else make_interval(secs => i.retry_after_ms / 1000) end as retry_after
    from jsonb_to_recordset(outcomes) as i(
      delivery bigint, token uuid, succeeded boolean, status_code integer, latency_ms integer,
      response_body text, error text, retry_after_ms double precision
    )
    join locked d on d.id = i.delivery
  ),
  logged as (
    insert into private.webhook_attempts (delivery_id, endpoint_id, attempt, status_code, latency_ms, response_body, error)
    select o.delivery, o.endpoint_id, o.attempt, o.status_code, o.latency_ms, o.response_body, o.error
    from o
    order by o.delivery
  ),
  moved as (
    update private.webhook_deliveries w
    set status = case when o.succeeded then 'delivered' when o.retry_after is null then 'failed' else 'pending' end,
        next_attempt_at = case when o.succeeded or o.retry_after is null then w.next_attempt_at else now() + o.retry_after end,
        delivered_at = case when o.succeeded then now() else w.delivered_at end,
        claim_token = null,
        last_status_code = o.status_code,
        last_error = o.error
    from o
    where w.id = o.delivery
      and (w.claim_token is not distinct from o.token or (o.succeeded and w.status = 'pending'))
  ),
  per_endpoint as (
    select o.endpoint_id, bool_or(o.succeeded) as any_success from o group by o.endpoint_id
  )
  select coalesce(array_agg(p.endpoint_id order by p.endpoint_id) filter (where p.any_success), '{}'),
         coalesce(array_agg(p.endpoint_id order by p.endpoint_id) filter (where not p.any_success), '{}')
  into healthy, failing
  from per_endpoint p;

  -- Endpoint health, touched only where it changes (a healthy endpoint's row is not even locked).
  perform 1 from public.webhook_endpoints e
  where (e.id = any (healthy) and e.failing_since is not null) or (e.id = any (failing) and (e.failing_since is null or e.enabled))
  order by e.id
  for no key update;
  update public.webhook_endpoints e set failing_since = null
  where e.id = any (healthy) and e.failing_since is not null;
  update public.webhook_endpoints e set failing_since = now()
  where e.id = any (failing) and e.failing_since is null;
  for endpoint in
    update public.webhook_endpoints e
    set enabled = false,
        disabled_reason = 'every delivery failed since ' || to_char(e.failing_since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    where e.id = any (failing) and e.enabled and e.failing_since <= now() - disable_after
    returning *
  loop
    perform private.emit_event('webhook.endpoint_disabled', jsonb_build_object(
      'endpoint_id', endpoint.id,
      'url', endpoint.url,
      'failing_since', endpoint.failing_since,
      'reason', endpoint.disabled_reason
    ));
  end loop;

  return query
    select w.id, w.status from private.webhook_deliveries w
    where w.id in (select (value ->> 'delivery')::bigint from jsonb_array_elements(outcomes))
    order by w.id;
end;
$$;
comment on function private.record_webhook_attempts(jsonb, interval) is
  'Logs a group of delivery attempts and moves each delivery on (delivered, retry later, failed) in one call; disables endpoints failing for disable_after.';
