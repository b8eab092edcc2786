-- Broadcast from Database: every outbox event that a PMS screen follows is also sent to a private
-- Realtime channel, in the writing transaction (Supabase's recommended path at scale):
--
--   stock.*              -> inventory:<location_code>
--   product.*, variant.* -> product:<product id>
--   order.*              -> orders
--
-- The broadcast event is the outbox topic; the payload is the outbox event itself (same schema as
-- the webhook, see the event catalogue) with its sync cursor, so a client knows what it applied
-- and can resume with GET /v1/sync/changes?since=<cursor>.
-- One statement-level trigger on the outbox: a write pays one realtime.send per followed event.
create or replace function private.realtime_channel(topic text, payload jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when topic like 'stock.%' then 'inventory:' || (payload ->> 'location_code')
    when topic like 'product.%' then 'product:' || (payload ->> 'id')
    when topic like 'variant.%' then 'product:' || (payload ->> 'product_id')
    when topic like 'order.%' then 'orders'
  end
$$;
comment on function private.realtime_channel(text, jsonb) is
  'The private Realtime channel an outbox event is broadcast to, or null when none follows it.';

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
      'occurred_at', e.created_at
    ),
    e.topic,
    private.realtime_channel(e.topic, e.payload),
    true)
  from new_events e
  where private.realtime_channel(e.topic, e.payload) is not null;
  return null;
end;
$$;
comment on function private.events_after_insert_broadcast() is
  'Trigger (after each insert statement on private.events): sends followed events to their private Realtime channel.';
revoke all on function private.events_after_insert_broadcast() from public, anon, authenticated;

-- realtime.send is Supabase's (and the local shim's); a database without it broadcasts nothing.
do $$
begin
  if to_regprocedure('realtime.send(jsonb, text, text, boolean)') is not null then
    create trigger events_after_insert_broadcast
      after insert on private.events
      referencing new table as new_events
      for each statement execute function private.events_after_insert_broadcast();
  end if;
end
$$;
