-- Background jobs with progress (GET /v1/jobs/{id}) and the catalog import that uses them.
-- An import request stages its validated rows here and returns; workers then take the rows in
-- chunks, each chunk in one transaction run as the user who started the import (so row level
-- security and the staff rules apply), and record progress and failed lines.

create table private.background_jobs (
  id uuid primary key default gen_random_uuid(),
  kind text not null check (kind ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'),
  status text not null default 'queued' check (status in ('queued', 'running', 'completed', 'failed')),
  total integer not null default 0 check (total >= 0),
  done integer not null default 0 check (done >= 0),
  failed integer not null default 0 check (failed >= 0),
  -- The first 1,000 failures: {line, message, sqlstate?, field?}.
  errors jsonb not null default '[]' check (jsonb_typeof(errors) = 'array'),
  claims jsonb not null,
  created_by uuid,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz not null default now()
);
comment on table private.background_jobs is 'Long-running requests (imports) with progress, run as the user who started them.';
create index background_jobs_pending_idx on private.background_jobs (created_at) where status in ('queued', 'running');
alter table private.background_jobs enable row level security;

create table private.import_rows (
  job_id uuid not null references private.background_jobs (id) on delete cascade,
  line integer not null,
  data jsonb not null,
  primary key (job_id, line)
);
comment on table private.import_rows is 'Rows of an import not yet processed; a worker deletes each as it takes it.';
alter table private.import_rows enable row level security;

create trigger background_jobs_before_update_set_updated_at
  before update on private.background_jobs
  for each row execute function private.set_updated_at();

-- Starts a job for the caller (staff and up): `total` rows, of which `early_errors` already failed
-- validation before staging.
create or replace function private.job_start(kind text, total integer, early_errors jsonb default '[]')
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  job_id uuid;
  early integer := jsonb_array_length(coalesce(early_errors, '[]'));
begin
  if not private.has_app_role('staff') then
    perform private.raise_business_error('P0F01', 'imports need role staff or above', '{}');
  end if;
  insert into private.background_jobs (kind, total, failed, errors, claims, created_by, status, finished_at)
  values (kind, total, early, coalesce((select jsonb_agg(e) from (select e from jsonb_array_elements(early_errors) e limit 1000) x), '[]'),
          coalesce(auth.jwt(), '{}'), auth.uid(),
          case when early >= total then 'completed' else 'queued' end,
          case when early >= total then now() end)
  returning id into job_id;
  return job_id;
end;
$$;
comment on function private.job_start(text, integer, jsonb) is 'Creates a background job owned by the caller (staff and up); returns its id.';

create or replace function private.job_owned(job_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from private.background_jobs j
    where j.id = job_id and (j.created_by = auth.uid() or private.has_app_role('manager') or auth.uid() is null and auth.role() is null)
  )
$$;
comment on function private.job_owned(uuid) is 'Whether the caller started the job or is a manager (or the database owner).';

create or replace function private.import_stage(job_id uuid, rows jsonb)
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  staged integer;
begin
  if not private.job_owned(job_id) then
    perform private.raise_business_error('P0N01', 'no such job', jsonb_build_object('id', job_id));
  end if;
  insert into private.import_rows (job_id, line, data)
  select job_id, (r ->> 'line')::integer, r -> 'data' from jsonb_array_elements(rows) r;
  get diagnostics staged = row_count;
  return staged;
end;
$$;
comment on function private.import_stage(uuid, jsonb) is 'Stages rows [{line, data}] of an import job the caller owns.';

-- Takes (and removes) up to max_rows unprocessed rows; they come back if the transaction fails.
create or replace function private.import_take(job_id uuid, max_rows integer)
returns table (line integer, data jsonb)
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not private.job_owned(job_id) then
    perform private.raise_business_error('P0N01', 'no such job', jsonb_build_object('id', job_id));
  end if;
  update private.background_jobs j set status = 'running', started_at = coalesce(j.started_at, now())
   where j.id = job_id and j.status = 'queued';
  return query
    delete from private.import_rows r
     where (r.job_id, r.line) in (
       select t.job_id, t.line from private.import_rows t where t.job_id = import_take.job_id
        order by t.line limit max_rows for update skip locked)
    returning r.line, r.data;
end;
$$;
comment on function private.import_take(uuid, integer) is 'Removes and returns the next rows of an import job the caller owns.';

create or replace function private.job_record(job_id uuid, done integer, failed integer, errors jsonb)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not private.job_owned(job_id) then
    perform private.raise_business_error('P0N01', 'no such job', jsonb_build_object('id', job_id));
  end if;
  update private.background_jobs j set
    done = j.done + job_record.done,
    failed = j.failed + job_record.failed,
    errors = case when jsonb_array_length(j.errors) >= 1000 then j.errors
                  else j.errors || coalesce((select jsonb_agg(e) from (select e from jsonb_array_elements(job_record.errors) e
                                              limit 1000 - jsonb_array_length(j.errors)) x), '[]') end,
    status = case when j.done + job_record.done + j.failed + job_record.failed >= j.total then 'completed' else j.status end,
    finished_at = case when j.done + job_record.done + j.failed + job_record.failed >= j.total then now() end
  where j.id = job_id;
end;
$$;
comment on function private.job_record(uuid, integer, integer, jsonb) is 'Adds progress (rows done, failed, first errors) to a job the caller owns.';

create or replace function private.job_status(job_id uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object('id', j.id, 'kind', j.kind, 'status', j.status, 'total', j.total, 'done', j.done,
           'failed', j.failed,
           'errors', coalesce((select jsonb_agg(e order by (e ->> 'line')::integer) from jsonb_array_elements(j.errors) e), '[]'),
           'created_by', j.created_by, 'created_at', j.created_at,
           'started_at', j.started_at, 'finished_at', j.finished_at)
  from private.background_jobs j
  where j.id = job_id and private.job_owned(j.id)
$$;
comment on function private.job_status(uuid) is 'A job''s progress, for the user who started it or a manager; null otherwise.';

-- Jobs with rows left to process, oldest first, with the claims to run them as (workers only).
create or replace function private.import_pending(max_jobs integer default 10)
returns table (id uuid, claims jsonb)
language sql
stable
security definer
set search_path = ''
as $$
  select j.id, j.claims from private.background_jobs j
  where j.status in ('queued', 'running') and exists (select 1 from private.import_rows r where r.job_id = j.id)
  order by j.created_at
  limit max_jobs
$$;
comment on function private.import_pending(integer) is 'Import jobs with unprocessed rows and the claims they run as.';

-- One chunk of a product import, as the job's user: all rows set-based in one go when they are
-- all good; otherwise row by row, each in a subtransaction, recording each failed line.
create or replace function private.catalog_import_chunk(job_id uuid, max_rows integer default 1000)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  taken jsonb;
  item jsonb;
  done integer := 0;
  failures jsonb := '[]';
  err_state text;
  err_message text;
  err_detail text;
begin
  select coalesce(jsonb_agg(jsonb_build_object('line', t.line, 'data', t.data) order by t.line), '[]')
    into taken from private.import_take(job_id, max_rows) t;
  if jsonb_array_length(taken) = 0 then
    return jsonb_build_object('done', 0, 'failed', 0, 'taken', 0);
  end if;
  begin
    perform private.catalog_insert_products((select jsonb_agg(t -> 'data' order by (t ->> 'line')::integer) from jsonb_array_elements(taken) t));
    done := jsonb_array_length(taken);
  exception when others then
    for item in select t from jsonb_array_elements(taken) t order by (t ->> 'line')::integer loop
      begin
        perform private.catalog_insert_products(jsonb_build_array(item -> 'data'));
        done := done + 1;
      exception when others then
        get stacked diagnostics err_state = returned_sqlstate, err_message = message_text, err_detail = pg_exception_detail;
        failures := failures || jsonb_build_object('line', (item ->> 'line')::integer, 'message', err_message,
          'sqlstate', err_state, 'detail', nullif(err_detail, ''));
      end;
    end loop;
  end;
  perform private.job_record(job_id, done, jsonb_array_length(failures), failures);
  return jsonb_build_object('done', done, 'failed', jsonb_array_length(failures), 'taken', jsonb_array_length(taken));
end;
$$;
comment on function private.catalog_import_chunk(uuid, integer) is
  'Imports up to max_rows staged rows of a job as the caller; records progress; returns counts for the chunk.';

revoke execute on function private.import_pending(integer) from public, anon, authenticated;
grant execute on function private.job_start(text, integer, jsonb), private.job_owned(uuid), private.import_stage(uuid, jsonb),
  private.import_take(uuid, integer), private.job_record(uuid, integer, integer, jsonb), private.job_status(uuid),
  private.catalog_import_chunk(uuid, integer)
  to authenticated, service_role;
