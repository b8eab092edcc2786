-- The event outbox. Every state change another system or screen cares about writes one row here
-- in the same transaction. Webhooks, realtime, cache invalidation and the changes feed read it.
--
-- Ordering: ids come from a sequence, so a transaction that commits later can hold a smaller id.
-- `transaction_id` lets a reader see only events of transactions older than every transaction still
-- running (`pg_snapshot_xmin`), and read in (transaction_id, id) order: a position that never has
-- an event inserted before it once passed, so a consumer can resume from its cursor safely.
create table private.events (
  id bigint generated always as identity primary key,
  transaction_id xid8 not null default pg_current_xact_id(),
  topic text not null check (topic ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'),
  payload jsonb not null,
  actor_id uuid default auth.uid(),
  created_at timestamptz not null default now()
);
comment on table private.events is 'Transactional outbox: one row per state change, written in the changing transaction.';
create index events_position_idx on private.events (transaction_id, id);
create index events_topic_idx on private.events (topic, id);
alter table private.events enable row level security;

create or replace function private.emit_event(topic text, payload jsonb)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  event_id bigint;
begin
  insert into private.events (topic, payload) values (topic, payload) returning id into event_id;
  -- No NOTIFY here: Postgres serialises the commits of every notifying transaction on one global
  -- lock, so only consumers that have work (see private.wake_event_consumers) send one.
  return event_id;
end;
$$;
comment on function private.emit_event(text, jsonb) is
  'Appends an event to the outbox inside the caller''s transaction.';

-- Listeners (dispatchers, forwarders) wait on channel storekeep_events. A consumer's trigger calls
-- this when an event gives it work; repeated calls in one transaction coalesce into one notification.
create or replace function private.wake_event_consumers()
returns void
language sql
set search_path = ''
as $$
  select pg_notify('storekeep_events', 'events')
$$;
comment on function private.wake_event_consumers() is
  'Notifies channel storekeep_events at commit (once per transaction, however often called).';

-- Events a consumer may read after `after` (its cursor), never overtaking a running transaction.
create or replace function private.events_after(after_transaction_id xid8, after_id bigint, max_events int default 500)
returns setof private.events
language sql
stable
set search_path = ''
as $$
  select e.*
  from private.events e
  where (e.transaction_id, e.id) > (after_transaction_id, after_id)
    and e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
  order by e.transaction_id, e.id
  limit max_events
$$;
comment on function private.events_after(xid8, bigint, int) is
  'Outbox events after a (transaction_id, id) cursor, only from transactions that can no longer be overtaken.';
