-- A created resource is one a client can follow: POST /inventory/adjust answers the Location of its
-- movement and POST /inventory/transfers that of its transfer (its two movements), read here.

create or replace function private.get_stock_movement(id bigint)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  found_movement public.stock_movements;
begin
  perform private.require_app_role('viewer');
  select * into found_movement from public.stock_movements m where m.id = get_stock_movement.id;
  if not found then
    perform private.raise_business_error('P0N01', 'no such stock movement', jsonb_build_object('movement_id', get_stock_movement.id));
  end if;
  return private.movement_json(found_movement);
end;
$$;
comment on function private.get_stock_movement(bigint) is 'One stock movement as the API answers it (viewer and up).';

create or replace function private.get_stock_transfer(transfer_id text)
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  movements jsonb;
begin
  perform private.require_app_role('viewer');
  select jsonb_agg(private.movement_json(m) order by m.quantity) into movements
  from public.stock_movements m
  where m.reference_type = 'transfer' and m.reference_id = get_stock_transfer.transfer_id
    and m.kind in ('transfer_out', 'transfer_in');
  if movements is null then
    perform private.raise_business_error('P0N01', 'no such transfer', jsonb_build_object('transfer_id', get_stock_transfer.transfer_id));
  end if;
  return jsonb_build_object('transfer_id', get_stock_transfer.transfer_id, 'movements', movements);
end;
$$;
comment on function private.get_stock_transfer(text) is 'A transfer: its out and in movements (viewer and up).';

revoke execute on function private.get_stock_movement(bigint), private.get_stock_transfer(text) from public, anon;
grant execute on function private.get_stock_movement(bigint), private.get_stock_transfer(text) to authenticated, service_role;
