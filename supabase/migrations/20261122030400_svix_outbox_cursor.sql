-- Svix Cloud mode (SVIX_API_KEY set): instead of our dispatcher, a sender forwards the outbox to a
-- Svix application. It reads private.events in (transaction_id, id) order from a persisted cursor,
-- one row per Svix application: a runner locks the row (FOR UPDATE SKIP LOCKED, so a second runner
-- skips rather than sends the same events), sends the next events, and advances the cursor in the
-- same transaction only past the events Svix accepted. Svix dedupes on eventId (our event id), so a
-- crash between Svix accepting and the commit only causes a harmless resend.

create table private.svix_outbox_cursors (
  -- The Svix application uid the events go to.
  app_uid text primary key check (length(app_uid) between 1 and 256),
  -- The last event sent: (transaction_id, event_id), as private.events_after takes it.
  transaction_id xid8 not null default '0'::xid8,
  event_id bigint not null default 0,
  -- Events accepted by Svix through this cursor, for the operator.
  sent bigint not null default 0 check (sent >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table private.svix_outbox_cursors is
  'Svix Cloud mode: how far the outbox has been forwarded to each Svix application (a new one starts at the oldest retained event).';

create trigger svix_outbox_cursors_before_update_set_updated_at
  before update on private.svix_outbox_cursors
  for each row execute function private.set_updated_at();

alter table private.svix_outbox_cursors enable row level security;
revoke all on private.svix_outbox_cursors from public, anon, authenticated;

-- In Svix mode every event is work for the forwarder: wake it at commit. Without a cursor row
-- (the built-in dispatcher's mode) this costs one lookup per statement and notifies nobody.
create or replace function private.wake_svix_forwarder()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from private.svix_outbox_cursors) then
    perform private.wake_event_consumers();
  end if;
  return null;
end;
$$;
comment on function private.wake_svix_forwarder() is
  'Trigger (after insert on private.events, per statement): wakes the Svix forwarder when one is configured.';
create trigger events_after_insert_wake_svix
  after insert on private.events
  for each statement execute function private.wake_svix_forwarder();
