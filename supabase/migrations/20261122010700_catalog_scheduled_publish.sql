-- Scheduled publishing: products whose publish_at has come are published by a job (pg_cron in
-- production where available, the `catalog.publish-scheduled` job in jobs/registry.ts otherwise).
-- A product that can no longer be published (its variants were removed) loses its schedule and a
-- `product.publish_failed` event says why.
create or replace function private.catalog_publish_due(as_of timestamptz default now(), max_products integer default 500)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  due uuid;
  published integer := 0;
  failed integer := 0;
  reason text;
begin
  for due in
    select p.id from public.products p
    where p.publish_at <= as_of and p.status <> 'published' and p.deleted_at is null
    order by p.publish_at, p.id
    limit max_products
    for update skip locked
  loop
    begin
      update public.products set status = 'published' where id = due;
      published := published + 1;
    exception when others then
      get stacked diagnostics reason = message_text;
      update public.products set publish_at = null where id = due;
      perform private.emit_event('product.publish_failed', jsonb_build_object('id', due, 'reason', reason));
      failed := failed + 1;
    end;
  end loop;
  return jsonb_build_object('published', published, 'failed', failed);
end;
$$;
comment on function private.catalog_publish_due(timestamptz, integer) is
  'Publishes up to max_products products whose publish_at is at or before as_of; returns counts.';
revoke execute on function private.catalog_publish_due(timestamptz, integer) from public, anon, authenticated;
grant execute on function private.catalog_publish_due(timestamptz, integer) to service_role;

do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('storekeep-publish-scheduled', '* * * * *', 'select private.catalog_publish_due()');
  end if;
end
$$;
