-- Catch-up for clients that were offline: the outbox after a cursor, filtered to what the caller
-- may see (GET /v1/sync/changes), and how far behind a cursor is (GET /v1/sync/status).
--
-- A cursor is `<transaction_id>-<id>`, the outbox position every live broadcast carries (see
-- realtime_broadcast); `0-0` is the beginning. Pages follow private.events_after's order, so a
-- client that resumes from a page's next_cursor never misses an event committed late.
--
-- Retention: private.prune_events now remembers the last position it deleted (the horizon); a
-- cursor before it may have missed events, and is refused with P0G01 (HTTP 410: reload).
--
--   P0G01  gone: the cursor is older than the outbox retention   410
create table private.outbox_horizon (
  singleton boolean primary key default true check (singleton),
  transaction_id xid8 not null,
  id bigint not null,
  pruned_at timestamptz not null default now()
);
comment on table private.outbox_horizon is 'The last outbox position pruned: cursors before it are too old to catch up from.';
alter table private.outbox_horizon enable row level security;

create or replace function private.prune_events(retention interval default interval '30 days', batch_size int default 10000)
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  deleted int;
  last_transaction_id xid8;
  last_id bigint;
begin
  with gone as (
    delete from private.events
    where id in (
      select e.id from private.events e
      where e.created_at < now() - retention
      order by e.id
      limit batch_size
    )
    returning transaction_id, id
  )
  select count(*)::int,
    (array_agg(g.transaction_id order by g.transaction_id desc, g.id desc))[1],
    (array_agg(g.id order by g.transaction_id desc, g.id desc))[1]
  into deleted, last_transaction_id, last_id
  from gone g;
  if deleted > 0 then
    insert into private.outbox_horizon as h (transaction_id, id) values (last_transaction_id, last_id)
    on conflict (singleton) do update
      set transaction_id = excluded.transaction_id, id = excluded.id, pruned_at = now()
      where (h.transaction_id, h.id) < (excluded.transaction_id, excluded.id);
  end if;
  return deleted;
end;
$$;
comment on function private.prune_events(interval, int) is
  'Deletes up to batch_size outbox events older than retention and records the horizon; returns how many.';

-- Which outbox topics a caller may read: staff roles from viewer up read the catalog, inventory
-- and order topics; webhook.* (endpoint health) only admins, like the endpoints themselves.
create or replace function private.may_read_event(topic text)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
  if split_part(topic, '.', 1) = 'webhook' then
    return private.has_app_role('admin');
  end if;
  return private.has_app_role('viewer');
end;
$$;
comment on function private.may_read_event(text) is 'Whether the caller may read outbox events of this topic.';

create or replace function private.sync_cursor_position(given text, out transaction_id xid8, out id bigint)
language plpgsql
immutable
set search_path = ''
as $$
begin
  if given is null or given !~ '^[0-9]{1,19}-[0-9]{1,19}$' then
    perform private.raise_business_error('P0V01', 'a cursor is <transaction_id>-<id> (0-0 for the beginning)',
      jsonb_build_object('field', 'cursor'));
  end if;
  transaction_id := split_part(given, '-', 1)::xid8;
  id := split_part(given, '-', 2)::bigint;
end;
$$;

create or replace function private.sync_check_horizon(after_transaction_id xid8, after_id bigint)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  horizon private.outbox_horizon;
begin
  select * into horizon from private.outbox_horizon;
  if found and (after_transaction_id, after_id) < (horizon.transaction_id, horizon.id) then
    perform private.raise_business_error('P0G01', 'the cursor is older than the outbox retention: reload, then follow from a fresh cursor',
      jsonb_build_object('oldest_cursor', horizon.transaction_id::text || '-' || horizon.id::text));
  end if;
end;
$$;

-- The newest position no running transaction can still come before (at least the horizon, when
-- everything before it was pruned).
create or replace function private.sync_head()
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    (select p.transaction_id::text || '-' || p.id::text
     from (
       (select e.transaction_id, e.id from private.events e
        where e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        order by e.transaction_id desc, e.id desc limit 1)
       union all
       select h.transaction_id, h.id from private.outbox_horizon h
     ) p
     order by p.transaction_id desc, p.id desc limit 1),
    '0-0')
$$;

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
      'occurred_at', e.created_at
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

create or replace function private.sync_status(since text default null, topics text[] default null)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  after_at record;
  head text := private.sync_head();
  behind bigint;
  oldest text;
begin
  if not private.has_app_role('viewer') then
    perform private.raise_business_error('P0F01', 'sync status needs a staff role (viewer and up)');
  end if;
  select h.transaction_id::text || '-' || h.id::text into oldest from private.outbox_horizon h;
  if since is null then
    return jsonb_build_object('head_cursor', head, 'oldest_cursor', coalesce(oldest, '0-0'));
  end if;
  select * into after_at from private.sync_cursor_position(since);
  perform private.sync_check_horizon(after_at.transaction_id, after_at.id);
  select count(*) into behind
  from private.events ev
  where (ev.transaction_id, ev.id) > (after_at.transaction_id, after_at.id)
    and ev.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
    and (topics is null or ev.topic = any (topics) or split_part(ev.topic, '.', 1) = any (topics))
    and private.may_read_event(ev.topic);
  return jsonb_build_object(
    'cursor', since,
    'head_cursor', head,
    'oldest_cursor', coalesce(oldest, '0-0'),
    'behind', behind,
    'up_to_date', behind = 0
  );
end;
$$;
comment on function private.sync_status(text, text[]) is
  'GET /v1/sync/status: how many events the caller may read lie between a cursor and the head.';

revoke all on function private.sync_changes(text, text[], int), private.sync_status(text, text[]),
  private.sync_check_horizon(xid8, bigint), private.sync_head(), private.sync_cursor_position(text),
  private.may_read_event(text) from public, anon;
grant execute on function private.sync_changes(text, text[], int), private.sync_status(text, text[]),
  private.sync_cursor_position(text), private.may_read_event(text) to authenticated, service_role;
