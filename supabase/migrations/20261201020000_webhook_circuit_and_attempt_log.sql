-- Webhooks after an outage, and an attempt log with every attempt (issue 9, item 10).
--
-- 1. A circuit that closes: when a delivery to an endpoint that was failing succeeds, that endpoint's
--    pending retries are brought forward to now instead of waiting out their backoff (a 30 s outage
--    delayed its deliveries by about 6 minutes: retries at 5 s, then 5 min). Endpoints still
--    failing keep their backoff.
-- 2. Every attempt is logged under its own number. The log used to take the attempt number from the
--    delivery when the outcome was recorded, so a late outcome of an expired lease was logged under
--    the next claim's number (attempt 3 twice, no attempt 2); the dispatcher now sends the number it
--    claimed. An attempt whose outcome never came back (the dispatcher stopped, or lost its
--    database connection while recording) is logged as lost when the delivery is claimed again.

create or replace function private.webhook_attempt_lost()
returns text
language sql
immutable
set search_path = ''
as $$ select 'no outcome was recorded before the lease ended'::text $$;
comment on function private.webhook_attempt_lost() is
  'The error an attempt is logged with when its outcome never came back before its lease ended.';
revoke all on function private.webhook_attempt_lost() from public, anon, authenticated, service_role;

create or replace function private.claim_webhook_deliveries(max_deliveries integer, lease interval)
returns table (
  delivery_id bigint,
  claim_token uuid,
  attempt integer,
  endpoint_id uuid,
  url text,
  headers jsonb,
  secrets text[],
  event_id bigint,
  topic text,
  payload jsonb,
  event_created_at timestamptz
)
language sql
volatile
set search_path = ''
as $$
  with candidates as (
    select d.id, d.endpoint_id, d.next_attempt_at
    from private.webhook_deliveries d
    join public.webhook_endpoints e on e.id = d.endpoint_id and e.enabled
    where d.status = 'pending' and d.next_attempt_at <= now()
    order by d.next_attempt_at, d.id
    limit max_deliveries
    for update of d skip locked
  ),
  ranked as (
    select c.id,
      row_number() over (partition by c.endpoint_id order by c.next_attempt_at, c.id) as position,
      e.rate_limit_per_second as rate_limit,
      case when e.rate_limit_per_second is null then 0 else (
        select count(*) from private.webhook_deliveries r
        where r.endpoint_id = c.endpoint_id and r.last_attempt_at > now() - interval '1 second'
      ) end as recent
    from candidates c
    join public.webhook_endpoints e on e.id = c.endpoint_id
  ),
  chosen as (
    select r.id from ranked r where r.rate_limit is null or r.position + r.recent <= r.rate_limit  ),
  -- A delivery still carrying a claim token was claimed before and no outcome came back before its
  -- lease ended (the dispatcher stopped, or could not record it): that attempt is logged as lost, so
  -- the log holds every attempt. A late outcome fills the row in.
  lost as (
    insert into private.webhook_attempts (delivery_id, endpoint_id, attempt, started_at, latency_ms, error)
    select d.id, d.endpoint_id, d.attempts, coalesce(d.last_attempt_at, now()), 0, private.webhook_attempt_lost()
    from private.webhook_deliveries d
    join chosen on chosen.id = d.id
    where d.claim_token is not null
  )
  update private.webhook_deliveries d
  set attempts = d.attempts + 1,
      next_attempt_at = now() + lease,
      claim_token = gen_random_uuid(),
      last_attempt_at = now()
  from chosen, public.webhook_endpoints e, private.events ev
  where d.id = chosen.id and e.id = d.endpoint_id and ev.id = d.event_id
  returning d.id, d.claim_token, d.attempts, e.id, e.url, e.headers,
    array(
      select s.secret from private.webhook_secrets s
      where s.endpoint_id = e.id and (s.expires_at is null or s.expires_at > now())
      order by s.created_at desc, s.id desc
    ),
    ev.id, ev.topic, ev.payload, ev.created_at
$$;
comment on function private.claim_webhook_deliveries(integer, interval) is
  'Leases up to max_deliveries due deliveries (FOR UPDATE SKIP LOCKED, per-endpoint rate limits) with what is needed to send them; logs an earlier claim whose outcome never came back as a lost attempt.';

create or replace function private.record_webhook_attempts(outcomes jsonb, disable_after interval default interval '1 day')
returns table (delivery_id bigint, status text)
language plpgsql
volatile
set search_path = ''
set timezone = 'UTC'
as $$
declare
  healthy uuid[];
  failing uuid[];
  recovered uuid[];
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
    select d.id as delivery, d.endpoint_id, coalesce(i.attempt, d.attempts) as attempt, i.token,
      coalesce(i.succeeded, false) as succeeded,
      i.status_code, greatest(coalesce(i.latency_ms, 0), 0) as latency_ms,
      left(i.response_body, 1024) as response_body, left(i.error, 1024) as error,
      case when i.retry_after_ms is null then null else make_interval(secs => i.retry_after_ms / 1000) end as retry_after
    from jsonb_to_recordset(outcomes) as i(
      delivery bigint, token uuid, succeeded boolean, status_code integer, latency_ms integer,
      response_body text, error text, retry_after_ms double precision, attempt integer
    )
    join locked d on d.id = i.delivery
  ),
  -- A late outcome of an attempt the next claim logged as lost fills that row in; any other is a new row.
  filled as (
    update private.webhook_attempts a
    set status_code = o.status_code, latency_ms = o.latency_ms, response_body = o.response_body, error = o.error
    from o
    where a.delivery_id = o.delivery and a.attempt = o.attempt and a.error = private.webhook_attempt_lost()
    returning a.delivery_id, a.attempt
  ),
  logged as (
    insert into private.webhook_attempts (delivery_id, endpoint_id, attempt, status_code, latency_ms, response_body, error)
    select o.delivery, o.endpoint_id, o.attempt, o.status_code, o.latency_ms, o.response_body, o.error
    from o
    -- an attempt is logged once, even when a dispatcher records a group again after losing the answer
    where not exists (select 1 from private.webhook_attempts a where a.delivery_id = o.delivery and a.attempt = o.attempt)
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
  with closed as (
    update public.webhook_endpoints e set failing_since = null
    where e.id = any (healthy) and e.failing_since is not null
    returning e.id
  )
  select coalesce(array_agg(closed.id order by closed.id), '{}') into recovered from closed;

  -- The circuit closes: an endpoint that answers again gets the retries its outage postponed now,
  -- not after their backoff. Deliveries out on a lease are left to their claim; endpoints still
  -- failing keep their backoff. Rows another transaction holds are skipped, never waited for (they
  -- are being claimed or recorded), so this cannot deadlock with another group.
  update private.webhook_deliveries w set next_attempt_at = now()
  where w.id in (
    select d.id from private.webhook_deliveries d
    where d.endpoint_id = any (recovered) and d.status = 'pending' and d.claim_token is null
      and d.next_attempt_at > now()
    for no key update skip locked
  );
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
  'Logs a group of delivery attempts under the attempt numbers claimed and moves each delivery on (delivered, retry later, failed) in one call; brings a recovered endpoint''s pending retries forward; disables endpoints failing for disable_after.';
