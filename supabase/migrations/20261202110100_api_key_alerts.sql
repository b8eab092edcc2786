-- Rotation alerts for API keys. The api_keys.alerts job (jobs/registry.ts, production also pg_cron
-- through the `jobs` function) emits one outbox event per key and condition:
--   api_key.rotation_due    an active key older than the maximum age
--   api_key.unused          a working key not used (or, never used, not created) within the period;
--                           again after it has been used since the last alert
--   api_key.overlap_ending  a rotated key whose overlap ends within the warning period
-- and /v1/ready counts the keys in each condition as warnings.

create table private.api_key_alerts (
  key_id uuid not null references private.api_keys (id) on delete cascade,
  kind text not null check (kind in ('rotation_due', 'unused', 'overlap_ending')),
  alerted_at timestamptz not null default now(),
  primary key (key_id, kind)
);
comment on table private.api_key_alerts is 'When each API key alert was last emitted, so each is emitted once.';
alter table private.api_key_alerts enable row level security;

-- The keys in each alert condition now, with what their events say.
create or replace function private.api_key_alert_candidates(max_age interval, unused_after interval, overlap_warning interval)
returns table (kind text, key_id uuid, payload jsonb)
language sql
stable
set search_path = ''
as $$
  with live as (
    select k.*, private.api_key_status(k) as status from private.api_keys k
    where k.revoked_at is null and (k.expires_at is null or k.expires_at > now())
      and (k.overlap_ends_at is null or k.overlap_ends_at > now())
  )
  select 'rotation_due', l.id, jsonb_build_object('age_days', floor(extract(epoch from now() - l.created_at) / 86400)::int,
         'max_age_days', floor(extract(epoch from max_age) / 86400)::int)
  from live l where l.status = 'active' and l.created_at <= now() - max_age
  union all
  select 'unused', l.id, jsonb_build_object('idle_days',
         floor(extract(epoch from now() - coalesce(l.last_used_at, l.created_at)) / 86400)::int)
  from live l where coalesce(l.last_used_at, l.created_at) <= now() - unused_after
  union all
  select 'overlap_ending', l.id, jsonb_build_object('rotated_to', (select s.id from private.api_keys s where s.rotated_from = l.id))
  from live l where l.status = 'overlap' and l.overlap_ends_at <= now() + overlap_warning
$$;
comment on function private.api_key_alert_candidates(interval, interval, interval) is
  'API keys due for rotation, unused, or near the end of their overlap, with event details.';

-- Emits the alerts not yet emitted; returns how many of each kind.
create or replace function private.emit_api_key_alerts(max_age interval, unused_after interval, overlap_warning interval)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  candidate record;
  k private.api_keys;
  counts jsonb := '{"rotation_due": 0, "unused": 0, "overlap_ending": 0}';
  base jsonb;
begin
  for candidate in select * from private.api_key_alert_candidates(max_age, unused_after, overlap_warning) loop
    select * into k from private.api_keys a where a.id = candidate.key_id;
    -- Emitted once; an unused alert again only when the key was used after the last one.
    insert into private.api_key_alerts as seen (key_id, kind) values (k.id, candidate.kind)
    on conflict (key_id, kind) do update set alerted_at = now()
      where seen.kind = 'unused' and k.last_used_at is not null and k.last_used_at > seen.alerted_at;
    continue when not found;
    base := jsonb_build_object('api_key_id', k.id, 'name', k.name, 'prefix', k.prefix, 'created_at', k.created_at,
      'last_used_at', k.last_used_at) || candidate.payload;
    case candidate.kind
      when 'rotation_due' then perform private.emit_event('api_key.rotation_due', base);
      when 'unused' then perform private.emit_event('api_key.unused', base);
      else perform private.emit_event('api_key.overlap_ending', base || jsonb_build_object('overlap_ends_at', k.overlap_ends_at));
    end case;
    counts := jsonb_set(counts, array[candidate.kind], to_jsonb((counts ->> candidate.kind)::int + 1));
  end loop;
  return counts;
end;
$$;
comment on function private.emit_api_key_alerts(interval, interval, interval) is
  'Emits api_key.rotation_due / api_key.unused / api_key.overlap_ending once per key and condition; returns counts.';

-- For /v1/ready: how many keys are in each condition now (alerted or not).
create or replace function private.api_key_warnings(max_age interval, unused_after interval, overlap_warning interval)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'rotation_due', count(*) filter (where c.kind = 'rotation_due'),
    'unused', count(*) filter (where c.kind = 'unused'),
    'overlap_ending', count(*) filter (where c.kind = 'overlap_ending'))
  from private.api_key_alert_candidates(max_age, unused_after, overlap_warning) c
$$;
comment on function private.api_key_warnings(interval, interval, interval) is
  'Counts of API keys due for rotation, unused, and near the end of their overlap.';

revoke execute on function private.emit_api_key_alerts(interval, interval, interval),
  private.api_key_warnings(interval, interval, interval) from public, anon, authenticated;
grant execute on function private.emit_api_key_alerts(interval, interval, interval),
  private.api_key_warnings(interval, interval, interval) to service_role;
