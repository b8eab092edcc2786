-- Inbound webhooks (from the PMS and other systems): each verified message id is recorded in the
-- same transaction that applies it, so a repeat is acknowledged without being applied again.

create table private.inbound_webhook_messages (
  source text not null check (source ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  message_id text not null check (length(message_id) between 1 and 255),
  -- applied: a handler applied it; stored: no handler for this source yet, kept as received.
  status text not null check (status in ('applied', 'stored')),
  payload jsonb not null,
  result jsonb,
  received_at timestamptz not null default now(),
  primary key (source, message_id)
);
comment on table private.inbound_webhook_messages is
  'Verified inbound webhook messages by (source, message id): the dedupe record, written with their effect.';
create index inbound_webhook_messages_received_idx on private.inbound_webhook_messages (received_at);
alter table private.inbound_webhook_messages enable row level security;
-- The inbound route applies messages as the service role (no user is behind a webhook).
grant select, insert, update on private.inbound_webhook_messages to service_role;

-- Claims a message id for this transaction: true the first time, false for a repeat (which
-- waits for a concurrent first delivery to commit or roll back before answering).
create or replace function private.claim_inbound_webhook(source text, message_id text, payload jsonb)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  inserted integer;
begin
  insert into private.inbound_webhook_messages as m (source, message_id, status, payload)
  values (claim_inbound_webhook.source, claim_inbound_webhook.message_id, 'stored', claim_inbound_webhook.payload)
  on conflict on constraint inbound_webhook_messages_pkey do nothing;
  get diagnostics inserted = row_count;
  return inserted = 1;
end;
$$;
comment on function private.claim_inbound_webhook(text, text, jsonb) is
  'Records an inbound message id in the caller''s transaction; false when it was already recorded (a repeat).';
grant execute on function private.claim_inbound_webhook(text, text, jsonb) to service_role;

-- Retention: message ids older than the retention are forgotten in bounded batches.
create or replace function private.prune_inbound_webhooks(retention interval default interval '30 days', batch_size integer default 10000)
returns integer
language plpgsql
set search_path = ''
as $$
declare
  deleted integer;
begin
  delete from private.inbound_webhook_messages m
  where (m.source, m.message_id) in (
    select o.source, o.message_id from private.inbound_webhook_messages o
    where o.received_at < now() - retention
    order by o.received_at
    limit batch_size
  );
  get diagnostics deleted = row_count;
  return deleted;
end;
$$;
comment on function private.prune_inbound_webhooks(interval, integer) is
  'Deletes up to batch_size inbound message records older than retention; returns how many.';
