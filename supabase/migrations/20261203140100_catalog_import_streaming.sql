-- An import is staged while its body streams in, batch by batch, each batch its own short
-- transaction (no transaction stays open while a client uploads). Until the request has read the
-- whole body and claimed its Idempotency-Key the job is 'staging': no worker takes its rows, and a
-- request that fails (a body too large, a key used for another request, a repeat) discards it. A
-- staging job left by a process that died is discarded by the scheduled worker after an hour.

alter table private.background_jobs drop constraint background_jobs_status_check;
alter table private.background_jobs add constraint background_jobs_status_check
  check (status in ('staging', 'queued', 'running', 'completed', 'failed'));

create or replace function private.import_open()
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  job_id uuid;
begin
  if not private.has_app_role('staff') then
    perform private.raise_business_error('P0F01', 'imports need role staff or above', '{}');
  end if;
  insert into private.background_jobs (kind, status, claims, created_by)
  values ('catalog.import', 'staging', coalesce(auth.jwt(), '{}'), auth.uid())
  returning id into job_id;
  return job_id;
end;
$$;
comment on function private.import_open() is 'Opens an import job for the caller (staff and up) to stage rows into; no worker takes it until import_close.';

-- Closes staging: `total` products and refused lines, `failed` of them refused before staging
-- (the first of them in `early_errors`). The job is queued, or completed when nothing was staged.
create or replace function private.import_close(job_id uuid, total integer, failed integer, early_errors jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  update private.background_jobs j set
    total = import_close.total,
    failed = import_close.failed,
    errors = coalesce((select jsonb_agg(e) from (select e from jsonb_array_elements(early_errors) e limit 1000) x), '[]'),
    status = case when import_close.failed >= import_close.total then 'completed' else 'queued' end,
    finished_at = case when import_close.failed >= import_close.total then now() end
   where j.id = job_id and j.status = 'staging' and private.job_owned(j.id);
  if not found then
    perform private.raise_business_error('P0N01', 'no such job being staged', jsonb_build_object('id', job_id));
  end if;
end;
$$;
comment on function private.import_close(uuid, integer, integer, jsonb) is 'Ends the staging of an import job the caller owns: totals, early errors, queued.';

create or replace function private.import_discard(job_id uuid)
returns void
language sql
security definer
set search_path = ''
as $$
  delete from private.background_jobs j where j.id = job_id and j.status = 'staging' and private.job_owned(j.id)
$$;
comment on function private.import_discard(uuid) is 'Drops an import job the caller owns that is still staging, with its rows.';

create or replace function private.import_discard_abandoned(older_than interval default '1 hour')
returns integer
language sql
security definer
set search_path = ''
as $$
  with gone as (
    delete from private.background_jobs j where j.status = 'staging' and j.created_at < now() - older_than returning 1
  )
  select count(*)::integer from gone
$$;
comment on function private.import_discard_abandoned(interval) is 'Drops import jobs left staging (their request died) for longer than older_than (workers only).';

revoke execute on function private.import_open(), private.import_close(uuid, integer, integer, jsonb),
  private.import_discard(uuid), private.import_discard_abandoned(interval) from public, anon, authenticated;
grant execute on function private.import_open(), private.import_close(uuid, integer, integer, jsonb), private.import_discard(uuid)
  to authenticated, service_role;
grant execute on function private.import_discard_abandoned(interval) to service_role;
