-- Less work per outbox write while the writer still holds its rows (a reservation holds the hot
-- stock level's lock until commit, and its stock.changed event is written under it):
--
-- * The webhook fan-out was a row trigger (one plpgsql call per event) and the Svix wake-up a
--   second statement trigger. Both are now one statement trigger over the inserted events (the
--   transition table the broadcast trigger already collects): one call per statement, one insert
--   of every delivery of the statement, in event order, and at most one wake-up. Consumers see the
--   same rows and the same notification (NOTIFY coalesces within a transaction anyway).
-- * events_topic_idx: no query reads the outbox by topic alone (sync filters topics on top of the
--   (transaction_id, id) range, the cache bump by transaction_id, replay by created_at), so every
--   event paid for an index nothing used.

drop trigger events_after_insert_fan_out on private.events;
drop trigger events_after_insert_wake_svix on private.events;
drop function private.fan_out_event();
drop function private.wake_svix_forwarder();

create or replace function private.events_after_insert_deliver()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- `webhook.test` pings are addressed to one endpoint by private.send_test_webhook instead.
  insert into private.webhook_deliveries (endpoint_id, event_id, topic)
  select e.id, n.id, n.topic
  from new_events n
  join public.webhook_endpoints e
    on e.enabled and private.webhook_topic_matches(e.topics, n.topic)
  where n.topic <> 'webhook.test'
  order by n.id, e.id;
  -- Work for the dispatcher, or Svix mode (a cursor row): every event is work for the forwarder.
  if found or exists (select 1 from private.svix_outbox_cursors) then
    perform private.wake_event_consumers();
  end if;
  return null;
end;
$$;
comment on function private.events_after_insert_deliver() is
  'Trigger (after each insert statement on private.events): one webhook delivery per enabled endpoint subscribed to each event; wakes the dispatcher or the Svix forwarder at commit.';
revoke all on function private.events_after_insert_deliver() from public, anon, authenticated;

create trigger events_after_insert_deliver
  after insert on private.events
  referencing new table as new_events
  for each statement execute function private.events_after_insert_deliver();

drop index private.events_topic_idx;
