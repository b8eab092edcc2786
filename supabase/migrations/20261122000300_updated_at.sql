-- Keeps `updated_at` true on every update; attach as `<table>_before_update_set_updated_at`.
create or replace function private.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function private.set_updated_at() is 'Trigger: sets updated_at to now() on update.';
