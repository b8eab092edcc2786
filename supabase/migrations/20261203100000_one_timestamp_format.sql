-- One timestamp format for every payload: ISO 8601 UTC with milliseconds and `Z`
-- (`2026-12-01T19:58:17.123Z`), as private.iso prints it and as JavaScript's Date#toISOString does.
-- These builders put a bare timestamptz into jsonb, which prints `+00:00` and as many fractional
-- digits as it has (`2026-12-01T19:58:17.84+00:00`): the product and variant events, the API key
-- alerts, webhook.endpoint_disabled, every Realtime broadcast's `occurred_at` and every
-- /v1/sync/changes entry's. Each is redefined with private.iso and nothing else changed
-- (tests/timestamps.test.ts walks every payload).
--
-- private.record_webhook_attempt (one attempt) goes: record_webhook_attempts replaced it and nothing
-- calls it any more.

create or replace function private.products_emit_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    insert into private.events (topic, payload)
    select 'product.created', jsonb_build_object('id', n.id, 'handle', n.handle, 'status', n.status, 'version', n.version,
             'published_at', private.iso(n.published_at), 'publish_at', private.iso(n.publish_at), 'deleted_at', private.iso(n.deleted_at)) from new_rows n;
  elsif tg_op = 'DELETE' then
    insert into private.events (topic, payload)
    select 'product.deleted', jsonb_build_object('id', o.id, 'handle', o.handle, 'status', o.status, 'version', o.version,
             'published_at', private.iso(o.published_at), 'publish_at', private.iso(o.publish_at), 'deleted_at', private.iso(o.deleted_at)) from old_rows o;
  else
    insert into private.events (topic, payload)
    select t.topic, jsonb_build_object('id', n.id, 'handle', n.handle, 'status', n.status, 'version', n.version,
             'published_at', private.iso(n.published_at), 'publish_at', private.iso(n.publish_at), 'deleted_at', private.iso(n.deleted_at))
      from (select r.*, row_number() over () as ord from new_rows r) n
      join old_rows o on o.id = n.id
      cross join lateral (select case when n.deleted_at is not null and o.deleted_at is null then 'product.deleted'
                    when o.version = n.version then null
                    when n.status = 'published' and o.status <> 'published' then 'product.published'
                    when o.status = 'published' and n.status <> 'published' then 'product.unpublished'
                    else 'product.updated' end as topic) t
     where t.topic is not null
     order by n.ord;
  end if;
  return null;
end;
$$;
comment on function private.products_emit_events() is
  'Trigger (after each statement on products): product.created | updated | published | unpublished | deleted to the outbox.';

create or replace function private.product_variants_emit_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    insert into private.events (topic, payload)
    select 'variant.created', jsonb_build_object('id', n.id, 'product_id', n.product_id, 'sku', n.sku, 'version', n.version,
             'price_amount', n.price_amount, 'currency', n.currency, 'deleted_at', private.iso(n.deleted_at)) from new_rows n;
  elsif tg_op = 'DELETE' then
    insert into private.events (topic, payload)
    select 'variant.deleted', jsonb_build_object('id', o.id, 'product_id', o.product_id, 'sku', o.sku, 'version', o.version,
             'price_amount', o.price_amount, 'currency', o.currency, 'deleted_at', private.iso(o.deleted_at)) from old_rows o;
  else
    insert into private.events (topic, payload)
    select t.topic, jsonb_build_object('id', n.id, 'product_id', n.product_id, 'sku', n.sku, 'version', n.version,
             'price_amount', n.price_amount, 'currency', n.currency, 'deleted_at', private.iso(n.deleted_at))
      from (select r.*, row_number() over () as ord from new_rows r) n
      join old_rows o on o.id = n.id
      cross join lateral (select case when n.deleted_at is not null and o.deleted_at is null then 'variant.deleted'
                    when o.version = n.version then null
                    else 'variant.updated' end as topic) t
     where t.topic is not null
     order by n.ord;
  end if;
  return null;
end;
$$;
comment on function private.product_variants_emit_events() is
  'Trigger (after each statement on product_variants): variant.created | updated | deleted to the outbox.';

create or replace function private.emit_api_key_alerts(max_age interval, unused_after interval, overlap_warning interval)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  candidate record;
  k private.api_keys;
  counts jsonb := '{"rotation_due": 0, "unused": 0, "overlap_ending": 0}';
  base jsonb;
begin
  for candidate in select * from private.api_key_alert_candidates(max_age, unused_after, overlap_warning) loop
    select * into k from private.api_keys a where a.id = candidate.key_id;
    -- Emitted once; an unused alert again only when the key was used after the last one.
    insert into private.api_key_alerts as seen (key_id, kind) values (k.id, candidate.kind)
    on conflict (key_id, kind) do update set alerted_at = now()
      where seen.kind = 'unused' and k.last_used_at is not null and k.last_used_at > seen.alerted_at;
    continue when not found;
    base := jsonb_build_object('api_key_id', k.id, 'name', k.name, 'prefix', k.prefix, 'created_at', private.iso(k.created_at),
      'last_used_at', private.iso(k.last_used_at)) || candidate.payload;
    case candidate.kind
      when 'rotation_due' then perform private.emit_event('api_key.rotation_due', base);
      when 'unused' then perform private.emit_event('api_key.unused', base);
      else perform private.emit_event('api_key.overlap_ending', base || jsonb_build_object('overlap_ends_at', private.iso(k.overlap_ends_at)));
    end case;
    counts := jsonb_set(counts, array[candidate.kind], to_jsonb((counts ->> candidate.kind)::int + 1));
  end loop;
  return counts;
end;
$$;
comment on function private.emit_api_key_alerts(interval, interval, interval) is
  'Emits api_key.rotation_due / api_key.unused / api_key.overlap_ending once per key and condition; returns counts.';

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
      'failing_since', private.iso(endpoint.failing_since),
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

create or replace function private.events_after_insert_broadcast()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform realtime.send(
    jsonb_build_object(
      'cursor', e.transaction_id::text || '-' || e.id::text,
      'event_id', e.id,
      'topic', e.topic,
      'data', e.payload,
      'occurred_at', private.iso(e.created_at)
    ),
    e.topic,
    c.channel,
    true)
  from new_events e
  cross join lateral (select private.realtime_channel(e.topic, e.payload) as channel) c
  where c.channel is not null;
  return null;
end;
$$;
comment on function private.events_after_insert_broadcast() is
  'Trigger (after each insert statement on private.events): sends followed events to their private Realtime channel.';
revoke all on function private.events_after_insert_broadcast() from public, anon, authenticated;

create or replace function private.sync_changes(since text, topics text[] default null, max_events int default 100)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  after_at record;
  page jsonb;
  returned int;
  head text;
begin
  if not private.has_app_role('viewer') then
    perform private.raise_business_error('P0F01', 'catching up needs a staff role (viewer and up)');
  end if;
  select * into after_at from private.sync_cursor_position(since);
  perform private.sync_check_horizon(after_at.transaction_id, after_at.id);
  head := private.sync_head();
  select coalesce(jsonb_agg(jsonb_build_object(
      'cursor', e.transaction_id::text || '-' || e.id::text,
      'event_id', e.id,
      'topic', e.topic,
      'data', e.payload,
      'occurred_at', private.iso(e.created_at)
    ) order by e.transaction_id, e.id), '[]'::jsonb), count(*)::int
  into page, returned
  from (
    select ev.* from private.events ev
    where (ev.transaction_id, ev.id) > (after_at.transaction_id, after_at.id)
      and ev.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
      and (topics is null or ev.topic = any (topics) or split_part(ev.topic, '.', 1) = any (topics))
      and private.may_read_event(ev.topic)
    order by ev.transaction_id, ev.id
    limit max_events
  ) e;
  return jsonb_build_object(
    'data', page,
    'has_more', returned = max_events,
    -- A short page read everything up to the head: resume from there (past events the caller
    -- may not see), so the next call does not scan them again.
    'next_cursor', case when returned = max_events then page -> -1 ->> 'cursor'
                        when (split_part(head, '-', 1)::xid8, split_part(head, '-', 2)::bigint) > (after_at.transaction_id, after_at.id) then head
                        else since end
  );
end;
$$;
comment on function private.sync_changes(text, text[], int) is
  'GET /v1/sync/changes: outbox events after a cursor that the caller may read, with the next cursor.';

drop function private.record_webhook_attempt(bigint, uuid, boolean, integer, integer, text, text, interval, interval);
