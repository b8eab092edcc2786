-- Outbound webhook deliveries: one row per (endpoint, event), written by a trigger on the outbox in
-- the event's own transaction, so no event can be missed between reading and writing. Dispatchers
-- claim due rows with FOR UPDATE SKIP LOCKED and a lease, send them, and record every attempt.

create table private.webhook_deliveries (
  id bigint generated always as identity primary key,
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  event_id bigint not null references private.events (id) on delete cascade,
  topic text not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  -- Attempts since the delivery was last (re)scheduled; the log keeps every one.
  attempts integer not null default 0,
  -- When the next attempt is due; a claim pushes it to the end of the claim's lease.
  next_attempt_at timestamptz not null default now(),
  -- The claim currently allowed to record the outcome (null when none is out).
  claim_token uuid,
  last_attempt_at timestamptz,
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (endpoint_id, event_id)
);
comment on table private.webhook_deliveries is
  'One outbound delivery per endpoint and event: pending (due at next_attempt_at), delivered or failed.';
create index webhook_deliveries_due_idx on private.webhook_deliveries (next_attempt_at, id) where status = 'pending';
create index webhook_deliveries_event_idx on private.webhook_deliveries (event_id);
create index webhook_deliveries_recent_idx on private.webhook_deliveries (endpoint_id, last_attempt_at);
create index webhook_deliveries_listing_idx on private.webhook_deliveries (endpoint_id, id desc);
create trigger webhook_deliveries_before_update_set_updated_at
  before update on private.webhook_deliveries
  for each row execute function private.set_updated_at();

create table private.webhook_attempts (
  id bigint generated always as identity primary key,
  delivery_id bigint not null references private.webhook_deliveries (id) on delete cascade,
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  attempt integer not null,
  started_at timestamptz not null default now(),
  status_code integer,
  latency_ms integer not null check (latency_ms >= 0),
  -- The first KiB of the response body, for the operator.
  response_body text check (length(response_body) <= 1024),
  error text check (length(error) <= 1024)
);
comment on table private.webhook_attempts is 'Every delivery attempt: status code, latency, truncated response body, error.';
create index webhook_attempts_delivery_idx on private.webhook_attempts (delivery_id, id);
create index webhook_attempts_endpoint_idx on private.webhook_attempts (endpoint_id, id);

-- Admins read deliveries and attempts (the API runs as the caller, so RLS decides).
alter table private.webhook_deliveries enable row level security;
alter table private.webhook_attempts enable row level security;
grant select on private.webhook_deliveries, private.webhook_attempts to authenticated;
create policy "Admins can read webhook deliveries"
  on private.webhook_deliveries for select to authenticated
  using ((select private.has_app_role('admin')));
create policy "Admins can read webhook attempts"
  on private.webhook_attempts for select to authenticated
  using ((select private.has_app_role('admin')));

-- Fan-out: every new event becomes one delivery per enabled endpoint whose topics match it.
-- `webhook.test` pings are addressed to one endpoint by private.send_test_webhook instead.
create or replace function private.fan_out_event()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.topic = 'webhook.test' then
    return null;
  end if;
  insert into private.webhook_deliveries (endpoint_id, event_id, topic)
  select e.id, new.id, new.topic
  from public.webhook_endpoints e
  where e.enabled and private.webhook_topic_matches(e.topics, new.topic);
  if found then
    perform private.wake_event_consumers();
  end if;
  return null;
end;
$$;
comment on function private.fan_out_event() is
  'Trigger (after insert on private.events): one webhook delivery per enabled endpoint subscribed to the topic.';
create trigger events_after_insert_fan_out
  after insert on private.events
  for each row execute function private.fan_out_event();

-- Claims up to `max_deliveries` due deliveries for one dispatcher: rows another dispatcher holds
-- are skipped (SKIP LOCKED) and each claimed row is leased until now() + lease, so no other
-- dispatcher sends it at the same time. Per-endpoint rate limits count attempts started in the
-- last second. Returns everything needed to send: url, headers, active secrets, the event.
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
    select r.id from ranked r where r.rate_limit is null or r.position + r.recent <= r.rate_limit
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
  'Leases up to max_deliveries due deliveries (FOR UPDATE SKIP LOCKED, per-endpoint rate limits) with what is needed to send them.';

-- Records one attempt's outcome. A 2xx delivers; otherwise the delivery is retried after
-- `retry_after`, or failed when that is null (kept for replay). An endpoint that has failed every
-- attempt for `disable_after` is disabled and a `webhook.endpoint_disabled` event says so.
-- Returns the delivery's status afterwards.
create or replace function private.record_webhook_attempt(
  delivery bigint,
  token uuid,
  succeeded boolean,
  status_code integer,
  latency_ms integer,
  response_body text,
  error text,
  retry_after interval,
  disable_after interval default interval '1 day'
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  d private.webhook_deliveries;
  endpoint public.webhook_endpoints;
begin
  select * into d from private.webhook_deliveries w where w.id = delivery;
  if not found then
    return null; -- the endpoint (and with it the delivery) was deleted meanwhile
  end if;
  insert into private.webhook_attempts (delivery_id, endpoint_id, attempt, status_code, latency_ms, response_body, error)
  values (d.id, d.endpoint_id, d.attempts, status_code, greatest(latency_ms, 0), left(response_body, 1024), left(error, 1024));

  -- A late outcome of an expired lease may still deliver, never reschedule someone else's claim.
  if d.claim_token is distinct from token and not (succeeded and d.status = 'pending') then
    return d.status;
  end if;

  update private.webhook_deliveries w
  set status = case when succeeded then 'delivered' when retry_after is null then 'failed' else 'pending' end,
      next_attempt_at = case when succeeded or retry_after is null then w.next_attempt_at else now() + retry_after end,
      delivered_at = case when succeeded then now() else w.delivered_at end,
      claim_token = null,
      last_status_code = record_webhook_attempt.status_code,
      last_error = left(record_webhook_attempt.error, 1024)
  where w.id = d.id
  returning * into d;

  if succeeded then
    update public.webhook_endpoints e set failing_since = null where e.id = d.endpoint_id and e.failing_since is not null;
  else
    update public.webhook_endpoints e set failing_since = now() where e.id = d.endpoint_id and e.failing_since is null;
    update public.webhook_endpoints e
    set enabled = false,
        disabled_reason = 'every delivery failed since ' || to_char(e.failing_since at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    where e.id = d.endpoint_id and e.enabled and e.failing_since <= now() - disable_after
    returning * into endpoint;
    if endpoint.id is not null then
      perform private.emit_event('webhook.endpoint_disabled', jsonb_build_object(
        'endpoint_id', endpoint.id,
        'url', endpoint.url,
        'failing_since', endpoint.failing_since,
        'reason', endpoint.disabled_reason
      ));
    end if;
  end if;
  return d.status;
end;
$$;
comment on function private.record_webhook_attempt(bigint, uuid, boolean, integer, integer, text, text, interval, interval) is
  'Logs a delivery attempt and moves the delivery on (delivered, retry later, failed); disables endpoints failing for disable_after.';

-- Sends a `webhook.test` ping to one endpoint. Admins only.
create or replace function private.send_test_webhook(endpoint uuid)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  target public.webhook_endpoints;
  event_id bigint;
  delivery_id bigint;
begin
  if not (select private.has_app_role('admin')) then
    perform private.raise_business_error('P0F01', 'only admins may test webhook endpoints', '{}');
  end if;
  select * into target from public.webhook_endpoints e where e.id = endpoint;
  if not found then
    perform private.raise_business_error('P0N01', 'no such webhook endpoint', jsonb_build_object('endpoint_id', endpoint));
  end if;
  event_id := private.emit_event('webhook.test', jsonb_build_object('endpoint_id', target.id, 'url', target.url));
  insert into private.webhook_deliveries (endpoint_id, event_id, topic)
  values (target.id, event_id, 'webhook.test') returning id into delivery_id;
  perform private.wake_event_consumers();
  return delivery_id;
end;
$$;
comment on function private.send_test_webhook(uuid) is 'Queues a webhook.test event for one endpoint and returns its delivery id. Admins only.';

-- Sends a delivery again now, with a fresh retry schedule. Admins only.
create or replace function private.retry_webhook_delivery(delivery bigint)
returns private.webhook_deliveries
language plpgsql
security definer
set search_path = ''
as $$
declare
  result private.webhook_deliveries;
begin
  if not (select private.has_app_role('admin')) then
    perform private.raise_business_error('P0F01', 'only admins may retry webhook deliveries', '{}');
  end if;
  update private.webhook_deliveries d
  set status = 'pending', attempts = 0, next_attempt_at = now(), claim_token = null
  where d.id = delivery
  returning * into result;
  if result.id is null then
    perform private.raise_business_error('P0N01', 'no such webhook delivery', jsonb_build_object('delivery_id', delivery));
  end if;
  perform private.wake_event_consumers();
  return result;
end;
$$;
comment on function private.retry_webhook_delivery(bigint) is 'Schedules a delivery for an immediate new attempt with a fresh retry schedule. Admins only.';

-- Re-sends every event from `since` (to `until`) that matches an endpoint's topics: existing
-- deliveries are rescheduled, missing ones created. Returns how many were queued. Admins only.
create or replace function private.replay_webhook_events(endpoint uuid, since timestamptz, until timestamptz default null)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  target public.webhook_endpoints;
  queued integer;
begin
  if not (select private.has_app_role('admin')) then
    perform private.raise_business_error('P0F01', 'only admins may replay webhook events', '{}');
  end if;
  select * into target from public.webhook_endpoints e where e.id = endpoint;
  if not found then
    perform private.raise_business_error('P0N01', 'no such webhook endpoint', jsonb_build_object('endpoint_id', endpoint));
  end if;
  insert into private.webhook_deliveries (endpoint_id, event_id, topic)
  select target.id, ev.id, ev.topic
  from private.events ev
  where ev.created_at >= since
    and (until is null or ev.created_at < until)
    and ev.topic <> 'webhook.test'
    and private.webhook_topic_matches(target.topics, ev.topic)
  on conflict (endpoint_id, event_id) do update
    set status = 'pending', attempts = 0, next_attempt_at = now(), claim_token = null;
  get diagnostics queued = row_count;
  perform private.wake_event_consumers();
  return queued;
end;
$$;
comment on function private.replay_webhook_events(uuid, timestamptz, timestamptz) is
  'Queues every matching event in [since, until) for one endpoint again (new or rescheduled deliveries). Admins only.';

grant execute on function
  private.send_test_webhook(uuid),
  private.retry_webhook_delivery(bigint),
  private.replay_webhook_events(uuid, timestamptz, timestamptz)
to authenticated, service_role;

-- The earliest moment a pending delivery of an enabled endpoint falls due (for a dispatcher's sleep).
create or replace function private.next_webhook_due()
returns timestamptz
language sql
stable
set search_path = ''
as $$
  select min(d.next_attempt_at)
  from private.webhook_deliveries d
  join public.webhook_endpoints e on e.id = d.endpoint_id and e.enabled
  where d.status = 'pending'
$$;
comment on function private.next_webhook_due() is 'When the next pending delivery falls due (null when none is pending).';
