-- Observability: what GET /v1/metrics reports about the database, computed in SQL so every API
-- instance (each short-lived edge isolate) reports the same truth: webhook backlog, reservations,
-- the last ledger check, and scheduled job runs. Job runners and the ledger check write their
-- results here; private.metrics_snapshot() reads them in one statement.

-- One row per scheduled job: cumulative runs and failures, and when it last ran and succeeded.
create table private.job_runs (
  job text primary key check (job ~ '^[a-z][a-z_]*(\.[a-z][a-z_]*)+$'),
  interval_seconds integer not null check (interval_seconds > 0),
  runs bigint not null default 0 check (runs >= 0),
  failures bigint not null default 0 check (failures >= 0),
  first_run_at timestamptz not null default now(),
  last_run_at timestamptz,
  last_success_at timestamptz,
  last_failure_at timestamptz,
  last_duration_ms integer check (last_duration_ms >= 0),
  -- The first 500 characters of the last failure's message, for the operator.
  last_error text check (length(last_error) <= 500)
);
comment on table private.job_runs is
  'Scheduled job bookkeeping for metrics: runs, failures and the last run and success of each job.';
alter table private.job_runs enable row level security;

create or replace function private.record_job_run(
  p_job text,
  p_interval_seconds integer,
  p_ok boolean,
  p_duration_ms integer,
  p_error text default null
)
returns void
language sql
security definer
set search_path = ''
as $$
  insert into private.job_runs as r
    (job, interval_seconds, runs, failures, last_run_at, last_success_at, last_failure_at, last_duration_ms, last_error)
  values (p_job, p_interval_seconds, 1, case when p_ok then 0 else 1 end, now(),
          case when p_ok then now() end, case when p_ok then null else now() end,
          greatest(p_duration_ms, 0), case when p_ok then null else left(p_error, 500) end)
  on conflict (job) do update set
    interval_seconds = excluded.interval_seconds,
    runs = r.runs + 1,
    failures = r.failures + excluded.failures,
    last_run_at = excluded.last_run_at,
    last_success_at = coalesce(excluded.last_success_at, r.last_success_at),
    last_failure_at = coalesce(excluded.last_failure_at, r.last_failure_at),
    last_duration_ms = excluded.last_duration_ms,
    last_error = case when p_ok then r.last_error else excluded.last_error end;
$$;
comment on function private.record_job_run(text, integer, boolean, integer, text) is
  'Counts one run of a scheduled job (ok or failed, with its duration and error) for metrics.';

-- The ledger check's result, kept by the inventory.check_ledger job (a full scan of the ledger is
-- too heavy to run on every scrape). One row: the latest check.
create table private.ledger_checks (
  id boolean primary key default true check (id),
  checked_at timestamptz not null,
  levels_checked integer not null check (levels_checked >= 0),
  mismatches integer not null check (mismatches >= 0)
);
comment on table private.ledger_checks is 'The latest stock ledger check: when, levels checked, levels in disagreement.';
alter table private.ledger_checks enable row level security;

create or replace function private.record_ledger_check()
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  result jsonb := private.check_stock_ledger();
begin
  insert into private.ledger_checks as c (id, checked_at, levels_checked, mismatches)
  values (true, now(), (result ->> 'checked')::integer, jsonb_array_length(result -> 'mismatches'))
  on conflict (id) do update set
    checked_at = excluded.checked_at, levels_checked = excluded.levels_checked, mismatches = excluded.mismatches;
  return jsonb_build_object('checked', (result ->> 'checked')::integer,
                            'mismatches', jsonb_array_length(result -> 'mismatches'));
end;
$$;
comment on function private.record_ledger_check() is
  'Runs the stock ledger check and records how many levels disagree (the ledger metric reads it).';

-- Everything the metrics endpoint reports from the database, as one JSON object. Each part reads an
-- index or a small table, so a scrape stays cheap as the data grows.
create or replace function private.metrics_snapshot()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'webhook_deliveries', (
      select coalesce(jsonb_object_agg(s.status, coalesce(d.n, 0)), '{}')
      from (values ('pending'), ('delivered'), ('failed')) as s(status)
      left join (select status, count(*) as n from private.webhook_deliveries group by status) d using (status)
    ),
    'webhook_oldest_pending_seconds', (
      select coalesce(extract(epoch from now() - min(e.created_at)), 0)
      from private.webhook_deliveries d join private.events e on e.id = d.event_id
      where d.status = 'pending'
    ),
    'reservations_active', (select count(*) from public.reservations where status = 'active'),
    'reservations_overdue', (
      select count(*) from public.reservations where status = 'active' and expires_at <= now()
    ),
    'reservation_expiry_lag_seconds', (
      select coalesce(extract(epoch from now() - min(expires_at)), 0)
      from public.reservations where status = 'active' and expires_at <= now()
    ),
    'reservations_expired', (select count(*) from public.reservations where status = 'expired'),
    -- Throughput as the highest id so far (read from the primary key): a rolled-back insert
    -- still uses an id, so the rate is an upper bound.
    'stock_movements_total', (select coalesce(max(id), 0) from public.stock_movements),
    'events_total', (select coalesce(max(id), 0) from private.events),
    'reorder_suggestions_open', (select count(*) from public.reorder_suggestions where status = 'open'),
    'ledger', (
      select jsonb_build_object('checked_at', extract(epoch from c.checked_at),
                                'levels_checked', c.levels_checked, 'mismatches', c.mismatches)
      from private.ledger_checks c
    ),
    'jobs', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'job', r.job, 'runs', r.runs, 'failures', r.failures,
        'last_success_at', extract(epoch from r.last_success_at),
        'last_failure_at', extract(epoch from r.last_failure_at),
        -- How far past its interval the job is: 0 while it keeps succeeding on time.
        'lag_seconds', greatest(0, extract(epoch from
          now() - coalesce(r.last_success_at, r.first_run_at) - make_interval(secs => r.interval_seconds)))
      ) order by r.job), '[]')
      from private.job_runs r
    )
  );
$$;
comment on function private.metrics_snapshot() is
  'Database-side metrics (webhook backlog, reservations, stock throughput, last ledger check, job runs) as one JSON object.';

-- A partial index keeps the expired count cheap while expired reservations pile up.
create index reservations_expired_idx on public.reservations (id) where status = 'expired';

revoke execute on function private.record_job_run(text, integer, boolean, integer, text),
  private.record_ledger_check(), private.metrics_snapshot() from public, anon, authenticated;
grant execute on function private.record_job_run(text, integer, boolean, integer, text),
  private.record_ledger_check(), private.metrics_snapshot() to service_role;

-- Production: pg_cron records the ledger check every five minutes (the local stack uses a timer).
do $$
begin
  if exists (select 1 from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('storekeep-ledger-check', '*/5 * * * *', 'select private.record_ledger_check()');
  end if;
end
$$;
