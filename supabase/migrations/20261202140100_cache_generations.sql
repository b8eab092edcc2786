-- Cache generations: the read cache (packages/server/src/platform/cache) keys every entry by the
-- generation of what it was built from, and a committed write must never leave an old entry
-- current. So the generations live here and move in the writing transaction itself, from the
-- outbox events it wrote: no consumer lag, and a rolled-back write moves nothing.
--
-- Per topic there is one counter (family-wide entries: lists, the category tree), and per product
-- one counter (entries of one product), bumped by every event whose payload names that product.
-- Which families each topic invalidates is decided in code (the catalog's cache rules); this table
-- only says which topics count, and where their payload names the product (a test checks both
-- agree).

create table private.cache_topics (
  topic text primary key,
  -- The payload field holding the product id the event changes (null: no single product).
  product_field text check (product_field in ('id', 'product_id'))
);
comment on table private.cache_topics is
  'Outbox topics whose commits move cache generations, and the payload field naming their product.';

insert into private.cache_topics (topic, product_field) values
  ('product.created', 'id'),
  ('product.updated', 'id'),
  ('product.published', 'id'),
  ('product.unpublished', 'id'),
  ('product.deleted', 'id'),
  ('product.publish_failed', 'id'),
  ('variant.created', 'product_id'),
  ('variant.updated', 'product_id'),
  ('variant.deleted', 'product_id'),
  ('brand.created', null),
  ('brand.updated', null),
  ('brand.deleted', null),
  ('category.created', null),
  ('category.updated', null),
  ('category.deleted', null);

create table private.cache_generations (
  -- A topic (`product.updated`) or a product (`product:<uuid>`).
  key text primary key,
  generation bigint not null default 1
);
comment on table private.cache_generations is
  'Counters the read cache compares entries against: one per cached topic and one per product.';
alter table private.cache_topics enable row level security;
alter table private.cache_generations enable row level security;

-- Runs at commit (a deferred constraint trigger), so the counter rows are locked only for the
-- commit itself, and once per transaction for all its events: keys are bumped in key order, so two
-- committing writers never wait on each other in a cycle. Events written after that (by another
-- deferred trigger) are picked up by their own firing: `storekeep.cache_bumped_through` remembers
-- the last event already counted.
create or replace function private.bump_cache_generations()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  counted bigint := coalesce(nullif(current_setting('storekeep.cache_bumped_through', true), ''), '0')::bigint;
  latest bigint;
begin
  if new.id <= counted or not exists (select 1 from private.cache_topics t where t.topic = new.topic) then
    return null;
  end if;
  select max(e.id) into latest from private.events e where e.transaction_id = pg_current_xact_id();
  insert into private.cache_generations as g (key, generation)
  select k.key, 1
    from (select e.topic as key
            from private.events e join private.cache_topics t on t.topic = e.topic
           where e.transaction_id = pg_current_xact_id() and e.id > counted
          union
          select 'product:' || (e.payload ->> t.product_field)
            from private.events e join private.cache_topics t on t.topic = e.topic
           where e.transaction_id = pg_current_xact_id() and e.id > counted
             and e.payload ->> t.product_field is not null) k
   order by k.key
  on conflict (key) do update set generation = g.generation + 1;
  perform set_config('storekeep.cache_bumped_through', latest::text, true);
  return null;
end;
$$;
comment on function private.bump_cache_generations() is
  'Constraint trigger (deferred, after insert on private.events): moves the cache generations of the transaction''s events.';

-- The WHEN clause keeps every other event (stock, orders: the hot paths) from even queueing the
-- trigger; tests/cache.rules.test.ts checks it admits every topic of private.cache_topics.
create constraint trigger events_after_insert_bump_cache_generations
  after insert on private.events
  deferrable initially deferred
  for each row
  when (split_part(new.topic, '.', 1) in ('product', 'variant', 'brand', 'category'))
  execute function private.bump_cache_generations();

-- What the read path asks, in one round trip: the sum of the counters of `topics` (it only grows,
-- so any bump changes it), and, for one product (by id or by handle, whoever may see it), that
-- product's id and counter. Null product fields: no such product, nothing to cache.
create or replace function private.cache_generation(topics text[], product_id uuid default null, product_handle text default null)
returns table (topics_generation bigint, product uuid, product_generation bigint)
language sql
stable
security definer
set search_path = ''
as $$
  with target as (
    select p.id from public.products p
     where p.deleted_at is null
       and ((cache_generation.product_id is not null and p.id = cache_generation.product_id)
         or (cache_generation.product_handle is not null and p.handle = cache_generation.product_handle))
     limit 1
  )
  select (select coalesce(sum(g.generation), 0)::bigint from private.cache_generations g where g.key = any (topics)),
         t.id,
         coalesce((select g.generation from private.cache_generations g where g.key = 'product:' || t.id::text), 0)::bigint
    from (select 1) one left join target t on true
$$;
comment on function private.cache_generation(text[], uuid, text) is
  'Cache generations for a read: the sum over topics, and one product''s (by id or handle) counter.';
revoke execute on function private.cache_generation(text[], uuid, text) from public, anon, authenticated;
grant execute on function private.cache_generation(text[], uuid, text) to service_role;
revoke execute on function private.bump_cache_generations() from public, anon, authenticated;
