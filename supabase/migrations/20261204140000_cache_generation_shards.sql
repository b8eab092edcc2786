-- Cache generations without a hot row. Every catalog commit bumped its topic's one counter row
-- (`product.updated`), so concurrent catalog writes queued on that row's lock until each commit
-- ended (bench/cache: product updates at 0.41-0.70x the throughput without the bump). A topic's
-- counter is now spread over 8 rows (shards); a commit bumps the shard of its backend
-- (pg_backend_pid() % 8), so writers on different connections no longer wait on each other.
--
-- Readers are unchanged: private.cache_generation already sums the rows of the read's topics, and
-- a sum of counters that only grow moves with every commit, as one counter did. Snapshots see
-- commits in one order, so no two states a reader can see have the same sum. Product counters stay
-- one row each (shard 0): writers of the same product already serialise on the product row itself.

alter table private.cache_generations add column shard smallint not null default 0 check (shard between 0 and 7);
alter table private.cache_generations drop constraint cache_generations_pkey;
alter table private.cache_generations add constraint cache_generations_pkey primary key (key, shard);
comment on column private.cache_generations.shard is
  'Which of a topic''s 8 counters (a topic''s generation is their sum); 0 for a product''s one counter.';

-- As before (see 20261202140100_cache_generations.sql), but a topic's counter is the shard of this
-- backend. Keys are still bumped in (key, shard) order, so committing writers never wait in a cycle.
create or replace function private.bump_cache_generations()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  counted bigint := coalesce(nullif(current_setting('storekeep.cache_bumped_through', true), ''), '0')::bigint;
  latest bigint;
  mine smallint := (pg_backend_pid() % 8)::smallint;
begin
  if new.id <= counted or not exists (select 1 from private.cache_topics t where t.topic = new.topic) then
    return null;
  end if;
  select max(e.id) into latest from private.events e where e.transaction_id = pg_current_xact_id();
  insert into private.cache_generations as g (key, shard, generation)
  select k.key, k.shard, 1
    from (select e.topic as key, mine as shard
            from private.events e join private.cache_topics t on t.topic = e.topic
           where e.transaction_id = pg_current_xact_id() and e.id > counted
          union
          select 'product:' || (e.payload ->> t.product_field), 0::smallint
            from private.events e join private.cache_topics t on t.topic = e.topic
           where e.transaction_id = pg_current_xact_id() and e.id > counted
             and e.payload ->> t.product_field is not null) k
   order by k.key, k.shard
  on conflict (key, shard) do update set generation = g.generation + 1;
  perform set_config('storekeep.cache_bumped_through', latest::text, true);
  return null;
end;
$$;
comment on function private.bump_cache_generations() is
  'Constraint trigger (deferred, after insert on private.events): moves the cache generations of the transaction''s events (a topic''s shard of this backend, a product''s one counter).';
revoke execute on function private.bump_cache_generations() from public, anon, authenticated;
