-- A generic audit trail: attach `private.audit_row()` to any table as
-- `<table>_after_write_audit` and every insert, update and delete is kept with who and when.
-- The trigger's argument names the key column (default `id`).
create table private.audit_log (
  id bigint generated always as identity primary key,
  table_name text not null,
  record_id text,
  operation text not null check (operation in ('INSERT', 'UPDATE', 'DELETE')),
  old_row jsonb,
  new_row jsonb,
  actor_id uuid,
  actor_role text,
  at timestamptz not null default now()
);
comment on table private.audit_log is 'Old and new row of every audited change, with the acting user and role.';
create index audit_log_record_idx on private.audit_log (table_name, record_id, id desc);
alter table private.audit_log enable row level security;

create or replace function private.audit_row()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  key_column text := coalesce(tg_argv[0], 'id');
  old_row jsonb := case when tg_op in ('UPDATE', 'DELETE') then to_jsonb(old) end;
  new_row jsonb := case when tg_op in ('INSERT', 'UPDATE') then to_jsonb(new) end;
begin
  insert into private.audit_log (table_name, record_id, operation, old_row, new_row, actor_id, actor_role)
  values (
    tg_table_schema || '.' || tg_table_name,
    coalesce(new_row ->> key_column, old_row ->> key_column),
    tg_op,
    old_row,
    new_row,
    auth.uid(),
    coalesce(auth.jwt() ->> 'app_role', auth.role(), current_user)
  );
  return null;
end;
$$;
comment on function private.audit_row() is 'Trigger (after, for each row): writes the change to private.audit_log.';
