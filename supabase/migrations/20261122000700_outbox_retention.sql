-- Outbox retention: events older than the retention are deleted in bounded batches.
-- Production schedules it with pg_cron where available; the local stack runs it on a timer.
create or replace function private.prune_events(retention interval default interval '30 days', batch_size int default 10000)
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  deleted int;
begin
  delete from private.events
  where id in (
    select e.id from private.events e
    where e.created_at < now() - retention
    order by e.id
    limit batch_size
  );
  get diagnostics deleted = row_count;
  return deleted;
end;
$$;
comment on function private.prune_events(interval, int) is 'Deletes up to batch_size outbox events older than retention; returns how many.';

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('storekeep-prune-events', '17 * * * *', 'select private.prune_events()');
  end if;
end
$$;
