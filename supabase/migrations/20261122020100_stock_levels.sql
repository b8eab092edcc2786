-- Stock levels: one row per variant and location. `available` is generated; constraints keep
-- reserved and on_hand non-negative and reserved within on_hand unless the level allows
-- backorders. on_hand moves only through the ledger (stock_movements); reserved only through the
-- reservation functions. Every change emits `stock.changed`; crossings emit stock.low, stock.out,
-- stock.back_in and, once per crossing of the reorder point, a reorder suggestion with
-- `stock.reorder_needed`.

create table public.stock_levels (
  variant_id uuid not null references public.product_variants (id) on delete cascade,
  location_id uuid not null references public.locations (id) on delete cascade,
  on_hand integer not null default 0,
  reserved integer not null default 0,
  available integer generated always as (on_hand - reserved) stored,
  reorder_point integer not null default 0 check (reorder_point >= 0),
  reorder_quantity integer not null default 0 check (reorder_quantity >= 0),
  allow_backorder boolean not null default false,
  updated_at timestamptz not null default now(),
  primary key (variant_id, location_id),
  constraint stock_levels_on_hand_not_negative check (on_hand >= 0),
  constraint stock_levels_reserved_not_negative check (reserved >= 0),
  constraint stock_levels_reserved_within_on_hand check (allow_backorder or reserved <= on_hand)
);
comment on table public.stock_levels is
  'Stock of each variant at each location; on_hand changes only through stock_movements, reserved only through reservations.';
create index stock_levels_location_idx on public.stock_levels (location_id, variant_id);

create table public.reorder_suggestions (
  id uuid primary key default gen_random_uuid(),
  variant_id uuid not null,
  location_id uuid not null,
  reorder_point integer not null,
  suggested_quantity integer not null check (suggested_quantity > 0),
  available_at_crossing integer not null,
  status text not null default 'open' check (status in ('open', 'resolved', 'dismissed')),
  created_at timestamptz not null default now(),
  resolved_at timestamptz,
  foreign key (variant_id, location_id) references public.stock_levels (variant_id, location_id) on delete cascade
);
comment on table public.reorder_suggestions is
  'One open suggestion per level whose available stock crossed down to its reorder point; resolved when it rises above again or by hand, or dismissed by hand (resolved_at is when it closed).';
create unique index reorder_suggestions_one_open_key on public.reorder_suggestions (variant_id, location_id) where status = 'open';
create index reorder_suggestions_created_idx on public.reorder_suggestions (created_at desc, id desc);

-- Guard: on_hand moves only through a movement (the ledger trigger updates at trigger depth 2;
-- any direct statement runs at depth 1), a level is born empty, and its key never changes.
create or replace function private.stock_levels_guard()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'UPDATE' and (new.variant_id <> old.variant_id or new.location_id <> old.location_id) then
    perform private.raise_business_error('P0F01', 'a stock level''s variant and location never change');
  end if;
  if pg_trigger_depth() < 2 then
    perform private.raise_business_error('P0F01', 'on_hand changes only through stock movements (POST /inventory/adjust)',
      jsonb_build_object('variant_id', new.variant_id, 'location_id', new.location_id));
  end if;
  return new;
end;
$$;
comment on function private.stock_levels_guard() is
  'Trigger: refuses on_hand changes (and non-empty new levels) that do not come from the stock ledger trigger.';

create trigger stock_levels_before_update_guard_on_hand
  before update on public.stock_levels
  for each row
  when (new.on_hand is distinct from old.on_hand or new.variant_id <> old.variant_id or new.location_id <> old.location_id)
  execute function private.stock_levels_guard();
create trigger stock_levels_before_insert_guard_on_hand
  before insert on public.stock_levels
  for each row when (new.on_hand <> 0 or new.reserved <> 0)
  execute function private.stock_levels_guard();

-- Events and reorder crossings for every change of on_hand or reserved.
create or replace function private.stock_levels_emit_events()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  base jsonb;
  suggestion_id uuid;
begin
  select jsonb_build_object('variant_id', new.variant_id, 'sku', v.sku, 'location_id', new.location_id,
                            'location_code', l.code)
  into base
  from public.product_variants v, public.locations l
  where v.id = new.variant_id and l.id = new.location_id;
  perform private.emit_event('stock.changed', base || jsonb_build_object(
    'before', jsonb_build_object('on_hand', old.on_hand, 'reserved', old.reserved, 'available', old.available),
    'after', jsonb_build_object('on_hand', new.on_hand, 'reserved', new.reserved, 'available', new.available)));

  if old.available > 0 and new.available <= 0 then
    perform private.emit_event('stock.out', base || jsonb_build_object('available', new.available));
  elsif old.available <= 0 and new.available > 0 then
    perform private.emit_event('stock.back_in', base || jsonb_build_object('available', new.available));
  end if;

  if old.available > new.reorder_point and new.available <= new.reorder_point then
    if new.reorder_point > 0 and new.available > 0 then
      perform private.emit_event('stock.low', base || jsonb_build_object(
        'available', new.available, 'reorder_point', new.reorder_point));
    end if;
    if new.reorder_quantity > 0 then
      insert into public.reorder_suggestions
        (variant_id, location_id, reorder_point, suggested_quantity, available_at_crossing)
      values (new.variant_id, new.location_id, new.reorder_point, new.reorder_quantity, new.available)
      on conflict (variant_id, location_id) where status = 'open' do nothing
      returning id into suggestion_id;
      if suggestion_id is not null then
        perform private.emit_event('stock.reorder_needed', base || jsonb_build_object(
          'suggestion_id', suggestion_id, 'available', new.available,
          'reorder_point', new.reorder_point, 'reorder_quantity', new.reorder_quantity));
      end if;
    end if;
  elsif old.available <= new.reorder_point and new.available > new.reorder_point then
    update public.reorder_suggestions s set status = 'resolved', resolved_at = now()
    where s.variant_id = new.variant_id and s.location_id = new.location_id and s.status = 'open';
  end if;
  return null;
end;
$$;
comment on function private.stock_levels_emit_events() is
  'Trigger: emits stock.changed with before/after, stock.out/back_in/low on crossings, and one reorder suggestion per crossing.';

create trigger stock_levels_after_update_emit_events
  after update on public.stock_levels
  for each row when (new.on_hand <> old.on_hand or new.reserved <> old.reserved)
  execute function private.stock_levels_emit_events();

-- Inventory initialisation: every variant has a level at every location.
create or replace function private.init_stock_for_variant()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.stock_levels (variant_id, location_id)
  select new.id, l.id from public.locations l
  on conflict do nothing;
  return null;
end;
$$;
comment on function private.init_stock_for_variant() is 'Trigger: gives a new variant an empty stock level at every location.';

create or replace function private.init_stock_for_location()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.stock_levels (variant_id, location_id)
  select v.id, new.id from public.product_variants v
  on conflict do nothing;
  return null;
end;
$$;
comment on function private.init_stock_for_location() is 'Trigger: gives a new location an empty stock level for every variant.';

create trigger product_variants_after_insert_init_stock
  after insert on public.product_variants
  for each row execute function private.init_stock_for_variant();
create trigger locations_after_insert_init_stock
  after insert on public.locations
  for each row execute function private.init_stock_for_location();

-- Levels for anything that existed before this migration.
insert into public.stock_levels (variant_id, location_id)
select v.id, l.id from public.product_variants v cross join public.locations l
on conflict do nothing;

alter table public.stock_levels enable row level security;
revoke all on public.stock_levels from anon, authenticated, service_role;
grant select on public.stock_levels to authenticated, service_role;
grant update (reorder_point, reorder_quantity, allow_backorder) on public.stock_levels to authenticated, service_role;

create policy "Viewers and up can read stock levels"
  on public.stock_levels for select to authenticated
  using ((select private.has_app_role('viewer')));
create policy "Managers and up can set reorder points and backorders"
  on public.stock_levels for update to authenticated
  using ((select private.has_app_role('manager')))
  with check ((select private.has_app_role('manager')));

alter table public.reorder_suggestions enable row level security;
revoke all on public.reorder_suggestions from anon, authenticated, service_role;
grant select on public.reorder_suggestions to authenticated, service_role;
create policy "Viewers and up can read reorder suggestions"
  on public.reorder_suggestions for select to authenticated
  using ((select private.has_app_role('viewer')));
