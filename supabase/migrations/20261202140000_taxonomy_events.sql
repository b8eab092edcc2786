-- Brands and categories write outbox events like products do, so every consumer (webhooks,
-- realtime, the changes feed and cache invalidation) learns of a change made through any path:
-- our API, supabase-js/PostgREST or SQL. A category move rewrites its descendants' paths, and each
-- of those rows gets its category.updated.

create or replace function private.brands_emit_event()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if tg_op = 'INSERT' then
    perform private.emit_event('brand.created', jsonb_build_object('id', new.id, 'handle', new.handle, 'name', new.name));
  elsif tg_op = 'UPDATE' then
    perform private.emit_event('brand.updated', jsonb_build_object('id', new.id, 'handle', new.handle, 'name', new.name));
  else
    perform private.emit_event('brand.deleted', jsonb_build_object('id', old.id, 'handle', old.handle, 'name', old.name));
  end if;
  return null;
end;
$$;
comment on function private.brands_emit_event() is
  'Trigger (after each row on brands): brand.created | updated | deleted to the outbox.';

create trigger brands_after_write_emit_event
  after insert or update or delete on public.brands
  for each row execute function private.brands_emit_event();

create or replace function private.categories_emit_event()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  c public.categories := case when tg_op = 'DELETE' then old else new end;
  payload jsonb := jsonb_build_object('id', c.id, 'handle', c.handle, 'name', c.name, 'parent_id', c.parent_id,
                                      'position', c.position, 'path', to_jsonb(c.path));
begin
  if tg_op = 'INSERT' then
    perform private.emit_event('category.created', payload);
  elsif tg_op = 'UPDATE' then
    perform private.emit_event('category.updated', payload);
  else
    perform private.emit_event('category.deleted', payload);
  end if;
  return null;
end;
$$;
comment on function private.categories_emit_event() is
  'Trigger (after each row on categories): category.created | updated | deleted to the outbox.';

create trigger categories_after_write_emit_event
  after insert or update or delete on public.categories
  for each row execute function private.categories_emit_event();
