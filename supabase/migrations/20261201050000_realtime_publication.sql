-- Realtime postgres_changes: the tables the PMS screens watch join Supabase's `supabase_realtime`
-- publication. Row level security decides what each subscriber receives (a subscriber gets exactly
-- the rows it could select). Supabase creates the publication; the local shim does too; a plain
-- Postgres without it gets one here, so this file applies everywhere.
-- The stock ledger (stock_movements) is left out on purpose: it is append-only and the busiest
-- table; screens follow it through stock.changed broadcasts and GET /v1/sync/changes.
do $$
declare
  watched text;
begin
  if not exists (select 1 from pg_catalog.pg_publication where pubname = 'supabase_realtime') then
    create publication supabase_realtime;
  end if;
  foreach watched in array array[
    'stock_levels', 'reorder_suggestions', 'locations',
    'products', 'product_variants', 'brands', 'categories',
    'reservations', 'reservation_items',
    'orders', 'order_lines', 'order_status_history',
    'user_roles', 'webhook_endpoints'
  ] loop
    if not exists (
      select 1 from pg_catalog.pg_publication_tables
      where pubname = 'supabase_realtime' and schemaname = 'public' and tablename = watched
    ) then
      execute format('alter publication supabase_realtime add table public.%I', watched);
    end if;
  end loop;
end
$$;
