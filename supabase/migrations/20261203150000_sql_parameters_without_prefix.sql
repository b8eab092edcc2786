-- One convention for SQL parameters (issue #10 §5): bare names, qualified with the function's name
-- where the body also uses the same name for a column. Every function whose parameters still carried
-- the p_ prefix is redefined here with its newest body, settings, grants and comment, and nothing else
-- changed. Postgres cannot rename a parameter in place, so each is dropped and created again.
-- - A name that is an SQL reserved word takes a word more: limit -> page_size, to -> to_status,
--   constraint -> constraint_name, table -> table_name, order -> order_row / order_request.
-- - Where a PL/pgSQL body also names a column the same (`where id = order_transition.id`), the
--   parameter is always written qualified and `#variable_conflict use_column` lets the bare name mean
--   the column, as it did while the parameter had its prefix.
-- - Callers pass arguments by position (the seed's named `details =>` changed with it).

drop function private.adjust_stock(text,text,integer,text,text,text,text,text);
create or replace function private.adjust_stock(sku text, location_code text, delta integer, kind text, reason text default null::text, reference_type text default null::text, reference_id text default null::text, idempotency_key text default null::text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  v_variant uuid;
  v_location uuid;
  movement public.stock_movements;
  replayed boolean := false;
begin
  perform private.require_app_role('staff');
  if adjust_stock.kind = 'count' then
    perform private.raise_business_error('P0V01', 'a count states what is on the shelf: send counted, not a delta',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.delta', 'code', 'not_for_counts',
        'message', 'a count takes counted (the quantity on the shelf), not delta'))));
  end if;
  if adjust_stock.kind is null or adjust_stock.kind not in ('receipt', 'adjustment', 'damage', 'loss', 'return') then
    perform private.raise_business_error('P0V01', 'kind must be receipt, adjustment, count, damage, loss or return',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.kind', 'message', 'not a manual movement kind'))));
  end if;
  v_variant := private.variant_id_for_sku(sku);
  v_location := private.location_id_for_code(location_code);

  insert into public.stock_movements
    (variant_id, location_id, kind, quantity, reason, reference_type, reference_id, idempotency_key)
  values (v_variant, v_location, adjust_stock.kind, adjust_stock.delta, adjust_stock.reason, adjust_stock.reference_type, adjust_stock.reference_id, adjust_stock.idempotency_key)
  on conflict (idempotency_key) do nothing
  returning * into movement;

  if movement.id is null then
    -- The key was used before: answer the first movement, unless this is a different request.
    select * into movement from public.stock_movements m where m.idempotency_key = adjust_stock.idempotency_key;
    if (movement.variant_id, movement.location_id, movement.kind, movement.quantity)
       is distinct from (v_variant, v_location, adjust_stock.kind, adjust_stock.delta) then
      perform private.raise_business_error('P0C01', 'this idempotency key was used for a different movement',
        jsonb_build_object('idempotency_key', adjust_stock.idempotency_key, 'movement', private.movement_json(movement)));
    end if;
    replayed := true;
  end if;

  return jsonb_build_object(
    'movement', private.movement_json(movement),
    'level', private.level_json(v_variant, v_location),
    'replayed', replayed);
end;
$function$
;
revoke all on function private.adjust_stock(text,text,integer,text,text,text,text,text) from public, anon, authenticated, service_role;
grant execute on function private.adjust_stock(text,text,integer,text,text,text,text,text) to authenticated, service_role;
comment on function private.adjust_stock(text,text,integer,text,text,text,text,text) is 'Records one manual stock movement (staff and up); the same idempotency key applies once and answers the first movement.';

drop function private.api_key_authenticate(text,text);
create or replace function private.api_key_authenticate(secret_hash text, address text)
 returns table(id uuid, status text, scopes text[], app_role public.app_role, created_by uuid, signing_secret text)
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  k private.api_keys;
  acting public.app_role;
begin
  select * into k from private.api_keys a where a.secret_hash = api_key_authenticate.secret_hash;
  if not found then
    return;
  end if;
  if k.created_by is null then
    acting := k.role_cap;  -- issued by the service role
  else
    select greatest(k.role_cap, r.app_role) into acting from public.user_roles r where r.user_id = k.created_by;
  end if;
  if private.api_key_status(k) in ('active', 'overlap') and acting is not null
     and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute') then
    update private.api_keys a set last_used_at = now(), last_used_address = left(address, 100) where a.id = k.id;
  end if;
  return query select k.id, private.api_key_status(k), k.scopes, acting, k.created_by, k.signing_secret;
end;
$function$
;
revoke all on function private.api_key_authenticate(text,text) from public, anon, authenticated, service_role;
grant execute on function private.api_key_authenticate(text,text) to service_role;
comment on function private.api_key_authenticate(text,text) is 'Looks a key up by its hash: status, scopes, the role it acts with (cap bounded by its creator''s role) and signing secret.';

drop function private.api_key_create(text,text,text[],public.app_role,timestamp with time zone);
create or replace function private.api_key_create(name text, environment text, scopes text[], role_cap public.app_role, expires_at timestamp with time zone default null::timestamp with time zone)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
begin
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  perform private.api_key_require_manager(scopes, role_cap);
  if api_key_create.expires_at is not null and api_key_create.expires_at <= now() then
    perform private.raise_business_error('P0V01', 'expires_at must be in the future',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'expires_at', 'message', 'must be in the future'))));
  end if;
  return private.api_key_issue(name, environment, scopes, role_cap, api_key_create.expires_at, null);
end;
$function$
;
revoke all on function private.api_key_create(text,text,text[],public.app_role,timestamp with time zone) from public, anon, authenticated, service_role;
grant execute on function private.api_key_create(text,text,text[],public.app_role,timestamp with time zone) to authenticated, service_role;
comment on function private.api_key_create(text,text,text[],public.app_role,timestamp with time zone) is 'Creates an API key (admins and up; role cap at most the caller''s role). Returns the secrets once.';

drop function private.api_key_get(uuid);
create or replace function private.api_key_get(id uuid)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  found_key jsonb;
begin
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  select private.api_key_json(a) into found_key from private.api_keys a where a.id = api_key_get.id;
  if found_key is null then
    perform private.raise_business_error('P0N01', 'no such API key', jsonb_build_object('api_key_id', api_key_get.id));
  end if;
  return found_key;
end;
$function$
;
revoke all on function private.api_key_get(uuid) from public, anon, authenticated, service_role;
grant execute on function private.api_key_get(uuid) to authenticated, service_role;
comment on function private.api_key_get(uuid) is 'One key without its secrets (admins and up).';

drop function private.api_key_issue(text,text,text[],public.app_role,timestamp with time zone,uuid);
create or replace function private.api_key_issue(name text, environment text, scopes text[], role_cap public.app_role, expires_at timestamp with time zone, rotated_from uuid)
 returns jsonb
 language plpgsql
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  secret text := 'sk_' || api_key_issue.environment || '_' || private.api_key_random();
  signing text := 'sks_' || private.api_key_random();
  k private.api_keys;
begin
  insert into private.api_keys
    (name, environment, prefix, secret_hash, signing_secret, scopes, role_cap, created_by, expires_at, rotated_from)
  values (btrim(api_key_issue.name), api_key_issue.environment, left(secret, 16), private.api_key_hash(secret), signing,
          array(select distinct s from unnest(api_key_issue.scopes) s order by s), api_key_issue.role_cap, auth.uid(), api_key_issue.expires_at,
          api_key_issue.rotated_from)
  returning * into k;
  return private.api_key_json(k) || jsonb_build_object('secret', secret, 'signing_secret', signing);
end;
$function$
;
revoke all on function private.api_key_issue(text,text,text[],public.app_role,timestamp with time zone,uuid) from public, anon, authenticated, service_role;
comment on function private.api_key_issue(text,text,text[],public.app_role,timestamp with time zone,uuid) is 'Inserts a key and returns it with its secret and signing secret (the only time they are returned).';

drop function private.api_key_list(timestamp with time zone,uuid,integer);
create or replace function private.api_key_list(after_created timestamp with time zone, after_id uuid, page_size integer)
 returns setof jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  return query
    select private.api_key_json(a) from private.api_keys a
    where after_created is null or (a.created_at, a.id) > (after_created, after_id)
    order by a.created_at, a.id
    limit least(greatest(page_size, 1), 201);
end;
$function$
;
revoke all on function private.api_key_list(timestamp with time zone,uuid,integer) from public, anon, authenticated, service_role;
grant execute on function private.api_key_list(timestamp with time zone,uuid,integer) to authenticated, service_role;
comment on function private.api_key_list(timestamp with time zone,uuid,integer) is 'Keys after a cursor, without secrets (admins and up).';

drop function private.api_key_require_manager(text[],public.app_role);
create or replace function private.api_key_require_manager(scopes text[], role_cap public.app_role)
 returns void
 language plpgsql
 stable
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  claims jsonb := auth.jwt();
begin
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  if not private.has_app_role(api_key_require_manager.role_cap) then
    perform private.raise_business_error('P0F01', 'a key''s role cap cannot exceed the caller''s own role',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'role_cap', 'message', 'above the caller''s role', 'code', 'forbidden'))));
  end if;
  if claims ? 'api_key_id' and not (api_key_require_manager.scopes <@ array(select jsonb_array_elements_text(claims -> 'scopes'))) then
    perform private.raise_business_error('P0F01', 'an API key can only hand on scopes it holds itself',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'scopes', 'message', 'beyond the calling key''s scopes', 'code', 'forbidden'))));
  end if;
end;
$function$
;
revoke all on function private.api_key_require_manager(text[],public.app_role) from public, anon, authenticated, service_role;
comment on function private.api_key_require_manager(text[],public.app_role) is 'Raises P0F01 unless the caller may issue a key with these scopes and role cap.';

drop function private.api_key_revoke(uuid);
create or replace function private.api_key_revoke(id uuid)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
begin
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  update private.api_keys a set revoked_at = coalesce(a.revoked_at, now()) where a.id = api_key_revoke.id;
  if not found then
    perform private.raise_business_error('P0N01', 'no such API key', jsonb_build_object('api_key_id', api_key_revoke.id));
  end if;
end;
$function$
;
revoke all on function private.api_key_revoke(uuid) from public, anon, authenticated, service_role;
grant execute on function private.api_key_revoke(uuid) to authenticated, service_role;
comment on function private.api_key_revoke(uuid) is 'Revokes a key at once (admins and up).';

drop function private.api_key_rotate(uuid,interval,timestamp with time zone);
create or replace function private.api_key_rotate(id uuid, overlap interval, expires_at timestamp with time zone default null::timestamp with time zone)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  k private.api_keys;
begin
  if api_key_rotate.overlap < interval '0' or api_key_rotate.overlap > interval '30 days' then
    perform private.raise_business_error('P0V01', 'the overlap must be between 0 seconds and 30 days',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'overlap_seconds', 'message', 'between 0 and 2592000'))));
  end if;
  if api_key_rotate.expires_at is not null and api_key_rotate.expires_at <= now() then
    perform private.raise_business_error('P0V01', 'expires_at must be in the future',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'expires_at', 'message', 'must be in the future'))));
  end if;
  -- Admins first: nobody else learns whether a key exists.
  if not private.has_app_role('admin') then
    perform private.raise_business_error('P0F01', 'only admins and owners manage API keys', '{}');
  end if;
  select * into k from private.api_keys a where a.id = api_key_rotate.id for update;
  if not found then
    perform private.raise_business_error('P0N01', 'no such API key', jsonb_build_object('api_key_id', api_key_rotate.id));
  end if;
  perform private.api_key_require_manager(k.scopes, k.role_cap);
  if private.api_key_status(k) <> 'active' then
    perform private.raise_business_error('P0C01',
      format('this key is %s: only an active key can be rotated', private.api_key_status(k)),
      jsonb_build_object('status', private.api_key_status(k)));
  end if;
  update private.api_keys a set overlap_ends_at = now() + api_key_rotate.overlap where a.id = api_key_rotate.id;
  return private.api_key_issue(k.name, k.environment, k.scopes, k.role_cap, api_key_rotate.expires_at, k.id);
end;
$function$
;
revoke all on function private.api_key_rotate(uuid,interval,timestamp with time zone) from public, anon, authenticated, service_role;
grant execute on function private.api_key_rotate(uuid,interval,timestamp with time zone) to authenticated, service_role;
comment on function private.api_key_rotate(uuid,interval,timestamp with time zone) is 'Issues the successor of an active key; the old one works until now() + overlap. Admins and up.';

drop function private.close_reorder_suggestion(uuid,text);
create or replace function private.close_reorder_suggestion(id uuid, status text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  found_row public.reorder_suggestions;
begin
  perform private.require_app_role('staff');
  if close_reorder_suggestion.status is null or close_reorder_suggestion.status not in ('resolved', 'dismissed') then
    perform private.raise_business_error('P0V01', 'a suggestion closes as resolved or dismissed',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'status', 'message', 'resolved or dismissed'))));
  end if;
  select * into found_row from public.reorder_suggestions s where s.id = close_reorder_suggestion.id for update;
  if found_row.id is null then
    perform private.raise_business_error('P0N01', format('no reorder suggestion %s', close_reorder_suggestion.id), jsonb_build_object('id', close_reorder_suggestion.id));
  end if;
  if found_row.status = 'open' then
    update public.reorder_suggestions s set status = close_reorder_suggestion.status, resolved_at = now()
    where s.id = close_reorder_suggestion.id
    returning * into found_row;
  elsif found_row.status <> close_reorder_suggestion.status then
    perform private.raise_business_error('P0C01', format('the suggestion is already %s', found_row.status),
      jsonb_build_object('suggestion', private.reorder_suggestion_json(found_row)));
  end if;
  return private.reorder_suggestion_json(found_row);
end;
$function$
;
revoke all on function private.close_reorder_suggestion(uuid,text) from public, anon, authenticated, service_role;
grant execute on function private.close_reorder_suggestion(uuid,text) to authenticated, service_role;
comment on function private.close_reorder_suggestion(uuid,text) is 'Resolves or dismisses an open reorder suggestion (staff and up); repeating the same close changes nothing.';

drop function private.commit_reservation(uuid);
create or replace function private.commit_reservation(id uuid)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  r public.reservations;
  item record;
begin
  perform private.require_app_role('staff');
  select * into r from public.reservations where id = commit_reservation.id for update;
  if r.id is null then
    perform private.raise_business_error('P0N01', format('no reservation %s', commit_reservation.id), jsonb_build_object('id', commit_reservation.id));
  end if;
  if r.status in ('released', 'expired') then
    perform private.raise_business_error('P0C01', format('a reservation that is %s cannot be committed', r.status),
      jsonb_build_object('id', commit_reservation.id, 'status', r.status));
  end if;
  if r.status = 'active' then
    if r.expires_at <= now() then
      perform private.raise_business_error('P0C01', 'the reservation has expired',
        jsonb_build_object('id', commit_reservation.id, 'status', 'expired', 'expires_at', private.iso(r.expires_at)));
    end if;
    for item in
      select i.variant_id, i.location_id, i.quantity
      from public.reservation_items i join public.locations l on l.id = i.location_id
      where i.reservation_id = commit_reservation.id
      order by i.variant_id, l.priority, i.location_id
    loop
      insert into public.stock_movements
        (variant_id, location_id, kind, quantity, reference_type, reference_id, reservation_id)
      values (item.variant_id, item.location_id, 'sale', -item.quantity,
        coalesce(case r.reference_type when 'order' then 'order' when 'cart' then 'cart' end, 'reservation'),
        coalesce(case when r.reference_type in ('order', 'cart') then r.reference_id end, commit_reservation.id::text),
        commit_reservation.id);
    end loop;
    update public.reservations set status = 'committed', closed_at = now(), updated_at = now() where id = commit_reservation.id;
    perform private.emit_event('reservation.committed', jsonb_build_object('id', commit_reservation.id, 'reference_type', r.reference_type,
      'reference_id', r.reference_id));
  end if;
  return private.reservation_json(commit_reservation.id);
end;
$function$
;
revoke all on function private.commit_reservation(uuid) from public, anon, authenticated, service_role;
grant execute on function private.commit_reservation(uuid) to authenticated, service_role;
comment on function private.commit_reservation(uuid) is 'Commits an active reservation (staff and up): its units leave as sale movements; committing again changes nothing.';

drop function private.count_stock(text,text,integer,text,text,text,text);
create or replace function private.count_stock(sku text, location_code text, counted integer, reason text default null::text, reference_type text default null::text, reference_id text default null::text, idempotency_key text default null::text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  v_variant uuid;
  v_location uuid;
  level public.stock_levels;
  movement public.stock_movements;
  replayed boolean := false;
begin
  perform private.require_app_role('staff');
  if count_stock.counted is null or count_stock.counted < 0 then
    perform private.raise_business_error('P0V01', 'counted must be zero or more',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'body.counted', 'code', 'too_small', 'message', 'a count is zero or more'))));
  end if;
  v_variant := private.variant_id_for_sku(sku);
  v_location := private.location_id_for_code(location_code);

  if count_stock.idempotency_key is not null then
    select * into movement from public.stock_movements m where m.idempotency_key = count_stock.idempotency_key;
  end if;
  if movement.id is null then
    -- Read on_hand under the level's lock: the difference stays exact until commit.
    select * into level from public.stock_levels sl
    where sl.variant_id = v_variant and sl.location_id = v_location
    for no key update;
    if not level.allow_backorder and count_stock.counted < level.reserved then
      perform private.raise_business_error('P0C01',
        format('%s units of %s are reserved at %s: a count of %s would break those holds; release or ship them first',
          level.reserved, sku, location_code, count_stock.counted),
        jsonb_build_object(
          'errors', jsonb_build_array(jsonb_build_object('field', 'body.counted', 'code', 'below_reserved',
            'message', format('%s units are reserved here; a count cannot be below that', level.reserved))),
          'level', private.level_json(v_variant, v_location)));
    end if;
    insert into public.stock_movements
      (variant_id, location_id, kind, quantity, counted, reason, reference_type, reference_id, idempotency_key)
    values (v_variant, v_location, 'count', count_stock.counted - level.on_hand, count_stock.counted, count_stock.reason, count_stock.reference_type,
            count_stock.reference_id, count_stock.idempotency_key)
    on conflict (idempotency_key) do nothing
    returning * into movement;
    if movement.id is null then
      -- A concurrent request took the key meanwhile (it committed after our look above).
      select * into movement from public.stock_movements m where m.idempotency_key = count_stock.idempotency_key;
      replayed := true;
    end if;
  else
    replayed := true;
  end if;

  if replayed and (movement.variant_id, movement.location_id, movement.kind, movement.counted)
                  is distinct from (v_variant, v_location, 'count', count_stock.counted) then
    perform private.raise_business_error('P0C01', 'this idempotency key was used for a different movement',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.idempotency_key', 'code', 'reused',
        'message', 'already used for another movement')), 'movement', private.movement_json(movement)));
  end if;

  return jsonb_build_object(
    'movement', private.movement_json(movement),
    'level', private.level_json(v_variant, v_location),
    'replayed', replayed);
end;
$function$
;
revoke all on function private.count_stock(text,text,integer,text,text,text,text) from public, anon, authenticated, service_role;
grant execute on function private.count_stock(text,text,integer,text,text,text,text) to authenticated, service_role;
comment on function private.count_stock(text,text,integer,text,text,text,text) is 'Records a stock count (staff and up): on_hand becomes the counted quantity, the difference is the movement; refused below what is reserved.';

drop function private.get_order(uuid);
create or replace function private.get_order(id uuid)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  found jsonb;
begin
  perform private.require_app_role('viewer');
  found := private.order_json(get_order.id);
  if found is null then
    perform private.raise_business_error('P0N01', format('no order %s', get_order.id), jsonb_build_object('id', get_order.id));
  end if;
  return found;
end;
$function$
;
revoke all on function private.get_order(uuid) from public, anon, authenticated, service_role;
grant execute on function private.get_order(uuid) to authenticated, service_role;
comment on function private.get_order(uuid) is 'One order with its lines and history (viewer and up), or P0N01.';

drop function private.get_reservation(uuid);
create or replace function private.get_reservation(id uuid)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  found jsonb;
begin
  perform private.require_app_role('viewer');
  found := private.reservation_json(get_reservation.id);
  if found is null then
    perform private.raise_business_error('P0N01', format('no reservation %s', get_reservation.id), jsonb_build_object('id', get_reservation.id));
  end if;
  return found;
end;
$function$
;
revoke all on function private.get_reservation(uuid) from public, anon, authenticated, service_role;
grant execute on function private.get_reservation(uuid) to authenticated, service_role;
comment on function private.get_reservation(uuid) is 'One reservation with its items (viewer and up), or P0N01.';

drop function private.idempotency_begin(text,text,text);
create or replace function private.idempotency_begin(key text, operation text, request_hash text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  v_caller text := private.idempotency_caller();
  earlier private.idempotent_requests;
begin
  insert into private.idempotent_requests (caller, key, operation, request_hash)
  values (v_caller, idempotency_begin.key, idempotency_begin.operation, idempotency_begin.request_hash)
  on conflict (caller, key) do nothing;
  if found then
    return null;
  end if;
  select * into earlier from private.idempotent_requests r where r.caller = v_caller and r.key = idempotency_begin.key;
  if earlier.operation <> idempotency_begin.operation or earlier.request_hash <> idempotency_begin.request_hash then
    perform private.raise_business_error('P0C01', 'this Idempotency-Key was used for a different request',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'header.idempotency-key', 'message', 'already used for another request'))));
  end if;
  return earlier.response;
end;
$function$
;
revoke all on function private.idempotency_begin(text,text,text) from public, anon, authenticated, service_role;
grant execute on function private.idempotency_begin(text,text,text) to authenticated, service_role;
comment on function private.idempotency_begin(text,text,text) is 'Claims an Idempotency-Key for the caller: null when new, the first response when repeated, P0C01 when reused for another request.';

drop function private.idempotency_finish(text,jsonb);
create or replace function private.idempotency_finish(key text, response jsonb)
 returns void
 language sql
 security definer
 set search_path to ''
as $function$
  update private.idempotent_requests r set response = idempotency_finish.response
  where r.caller = private.idempotency_caller() and r.key = idempotency_finish.key
$function$
;
revoke all on function private.idempotency_finish(text,jsonb) from public, anon, authenticated, service_role;
grant execute on function private.idempotency_finish(text,jsonb) to authenticated, service_role;
comment on function private.idempotency_finish(text,jsonb) is 'Records the response of the request that claimed the key.';

drop function private.image_delete(uuid,uuid,integer);
create or replace function private.image_delete(product_id uuid, image_id uuid, expected_version integer)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  image public.product_images;
  promoted public.product_images;
begin
  perform private.require_app_role('staff');
  image := private.image_lock(image_delete.product_id, image_id, expected_version);
  delete from public.product_images i where i.id = image_id;
  perform private.emit_event('product_image.deleted', private.product_image_json(image));
  if image.is_primary then
    update public.product_images i set is_primary = true, version = i.version + 1
    where i.id = (select f.id from public.product_images f where f.product_id = image_delete.product_id order by f.position, f.id limit 1)
    returning * into promoted;
    if found then
      perform private.emit_event('product_image.updated', private.product_image_json(promoted));
    end if;
  end if;
end;
$function$
;
revoke all on function private.image_delete(uuid,uuid,integer) from public, anon, authenticated, service_role;
grant execute on function private.image_delete(uuid,uuid,integer) to authenticated, service_role;
comment on function private.image_delete(uuid,uuid,integer) is 'Deletes an image and its history (their assets queued for deletion at the provider); the first image left becomes primary.';

drop function private.image_deletion_done(text);
create or replace function private.image_deletion_done(public_id text)
 returns void
 language sql
 security definer
 set search_path to ''
as $function$
  delete from private.image_deletions d where d.public_id = image_deletion_done.public_id
$function$
;
revoke all on function private.image_deletion_done(text) from public, anon, authenticated, service_role;
comment on function private.image_deletion_done(text) is 'The provider no longer holds the asset: forget its deletion.';

drop function private.image_deletion_failed(text,text);
create or replace function private.image_deletion_failed(public_id text, error text)
 returns void
 language sql
 security definer
 set search_path to ''
as $function$
  update private.image_deletions d set last_error = left(error, 1000) where d.public_id = image_deletion_failed.public_id
$function$
;
revoke all on function private.image_deletion_failed(text,text) from public, anon, authenticated, service_role;
comment on function private.image_deletion_failed(text,text) is 'Records why a provider deletion failed; it is retried at its next_attempt_at.';

drop function private.image_lock(uuid,uuid,integer);
create or replace function private.image_lock(product_id uuid, image_id uuid, expected_version integer)
 returns public.product_images
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  image public.product_images;
begin
  perform private.image_require_product(image_lock.product_id);
  perform private.image_lock_product(image_lock.product_id);
  select * into image from public.product_images i where i.id = image_id and i.product_id = image_lock.product_id for update;
  if not found then
    perform private.raise_business_error('P0N01', format('no image %s on product %s', image_id, image_lock.product_id),
      jsonb_build_object('id', image_id));
  end if;
  if image_lock.expected_version is not null and image.version <> image_lock.expected_version then
    perform private.raise_business_error('P0C02', 'the image was changed since version ' || image_lock.expected_version,
      jsonb_build_object('expected_version', image_lock.expected_version, 'current', private.product_image_json(image)));
  end if;
  return image;
end;
$function$
;
revoke all on function private.image_lock(uuid,uuid,integer) from public, anon, authenticated, service_role;
comment on function private.image_lock(uuid,uuid,integer) is 'Locks and returns a product''s image; P0N01 when missing, P0C02 when not at the expected version.';

drop function private.image_lock_product(uuid);
create or replace function private.image_lock_product(product_id uuid)
 returns void
 language sql
 set search_path to ''
as $function$
  select pg_advisory_xact_lock(hashtextextended('product_images:' || product_id::text, 0))
$function$
;
revoke all on function private.image_lock_product(uuid) from public, anon, authenticated, service_role;
comment on function private.image_lock_product(uuid) is 'Serialises image writes on one product until the transaction ends.';

drop function private.image_record(uuid,text,jsonb,jsonb,integer);
create or replace function private.image_record(product_id uuid, public_id text, asset jsonb, attrs jsonb, expected_version integer)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  upload private.image_uploads;
  image public.product_images;
  v_variant uuid := (attrs ->> 'variant_id')::uuid;
begin
  perform private.require_app_role('staff');
  perform private.image_require_product(image_record.product_id);
  perform private.image_lock_product(image_record.product_id);
  delete from private.image_uploads u where u.public_id = image_record.public_id and u.product_id = image_record.product_id
  returning * into upload;
  if not found then
    perform private.raise_business_error('P0N01', 'no pending upload ' || image_record.public_id || ' for this product (expired or already recorded)',
      jsonb_build_object('public_id', image_record.public_id));
  end if;
  if v_variant is not null and not exists (select 1 from public.product_variants v
                                           where v.id = v_variant and v.product_id = image_record.product_id and v.deleted_at is null) then
    perform private.raise_business_error('P0V01', 'the variant is not one of this product''s',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.variant_id', 'message', 'not a variant of this product'))));
  end if;

  if upload.image_id is null then
    insert into public.product_images (product_id, variant_id, position, is_primary, alt_text, public_id, asset_version,
      format, width, height, bytes, checksum, placeholder)
    select image_record.product_id, v_variant,
           coalesce((select max(i.position) + 1 from public.product_images i where i.product_id = image_record.product_id), 0),
           not exists (select 1 from public.product_images i where i.product_id = image_record.product_id and i.is_primary),
           coalesce(attrs ->> 'alt_text', ''), image_record.public_id, (asset ->> 'asset_version')::bigint, asset ->> 'format',
           (asset ->> 'width')::integer, (asset ->> 'height')::integer, (asset ->> 'bytes')::integer,
           asset ->> 'checksum', asset ->> 'placeholder'
    returning * into image;
    perform private.emit_event('product_image.created', private.product_image_json(image));
  else
    perform private.image_lock(image_record.product_id, upload.image_id, expected_version);
    update public.product_images i set public_id = image_record.public_id, asset_version = (asset ->> 'asset_version')::bigint,
      format = asset ->> 'format', width = (asset ->> 'width')::integer, height = (asset ->> 'height')::integer,
      bytes = (asset ->> 'bytes')::integer, checksum = asset ->> 'checksum', placeholder = asset ->> 'placeholder',
      version = i.version + 1
    where i.id = upload.image_id
    returning * into image;
    perform private.emit_event('product_image.replaced', private.product_image_json(image));
  end if;

  insert into public.product_image_versions (image_id, product_id, public_id, asset_version, format, width, height,
    bytes, checksum, placeholder)
  values (image.id, image_record.product_id, image_record.public_id, image.asset_version, image.format, image.width, image.height, image.bytes,
    image.checksum, image.placeholder);
  return private.product_image_json(image);
end;
$function$
;
revoke all on function private.image_record(uuid,text,jsonb,jsonb,integer) from public, anon, authenticated, service_role;
grant execute on function private.image_record(uuid,text,jsonb,jsonb,integer) to authenticated, service_role;
comment on function private.image_record(uuid,text,jsonb,jsonb,integer) is 'Records an uploaded asset reserved by image_reserve_upload: a new image, or the new current version of the image it replaces.';

drop function private.image_reorder(uuid,uuid[]);
create or replace function private.image_reorder(product_id uuid, ids uuid[])
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  image public.product_images;
begin
  perform private.require_app_role('staff');
  perform private.image_require_product(image_reorder.product_id);
  perform private.image_lock_product(image_reorder.product_id);
  if cardinality(ids) is distinct from (select count(distinct x) from unnest(ids) x)
     or (select array_agg(i.id order by i.id) from public.product_images i where i.product_id = image_reorder.product_id)
        is distinct from (select array_agg(x order by x) from unnest(ids) x) then
    perform private.raise_business_error('P0V01', 'image_ids must list each of the product''s images exactly once',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.image_ids', 'message', 'not the product''s images, each once'))));
  end if;
  for image in
    update public.product_images i set position = o.ord - 1, version = i.version + 1
    from unnest(ids) with ordinality as o(id, ord)
    where i.id = o.id and i.position <> o.ord - 1
    returning i.*
  loop
    perform private.emit_event('product_image.updated', private.product_image_json(image));
  end loop;
  return private.product_images_json(image_reorder.product_id);
end;
$function$
;
revoke all on function private.image_reorder(uuid,uuid[]) from public, anon, authenticated, service_role;
grant execute on function private.image_reorder(uuid,uuid[]) to authenticated, service_role;
comment on function private.image_reorder(uuid,uuid[]) is 'Orders a product''s images as listed; each moved image gets a new version and an event.';

drop function private.image_require_product(uuid);
create or replace function private.image_require_product(product_id uuid)
 returns void
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
begin
  perform private.require_app_role('staff');
  if not exists (select 1 from public.products p where p.id = product_id and p.deleted_at is null) then
    perform private.raise_business_error('P0N01', format('no product %s', product_id), jsonb_build_object('id', product_id));
  end if;
end;
$function$
;
revoke all on function private.image_require_product(uuid) from public, anon, authenticated, service_role;
comment on function private.image_require_product(uuid) is 'Refuses a caller below staff (P0F01) or a missing or deleted product (P0N01).';

drop function private.image_reserve_upload(uuid,uuid,text,interval);
create or replace function private.image_reserve_upload(product_id uuid, image_id uuid, public_id text, ttl interval)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
begin
  perform private.require_app_role('staff');
  perform private.image_require_product(image_reserve_upload.product_id);
  if image_reserve_upload.image_id is not null then
    perform private.image_lock(image_reserve_upload.product_id, image_reserve_upload.image_id, null);
  end if;
  insert into private.image_uploads (public_id, product_id, image_id, expires_at)
  values (image_reserve_upload.public_id, image_reserve_upload.product_id, image_reserve_upload.image_id, now() + ttl);
end;
$function$
;
revoke all on function private.image_reserve_upload(uuid,uuid,text,interval) from public, anon, authenticated, service_role;
grant execute on function private.image_reserve_upload(uuid,uuid,text,interval) to authenticated, service_role;
comment on function private.image_reserve_upload(uuid,uuid,text,interval) is 'Reserves a public id for an upload to a product (a new image, or a new version of image_id) until the ttl passes.';

drop function private.image_restore(uuid,uuid,integer,bigint);
create or replace function private.image_restore(product_id uuid, image_id uuid, expected_version integer, version_id bigint)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  image public.product_images;
  earlier public.product_image_versions;
begin
  perform private.require_app_role('staff');
  image := private.image_lock(product_id, image_restore.image_id, expected_version);
  select * into earlier from public.product_image_versions v where v.id = image_restore.version_id and v.image_id = image_restore.image_id;
  if not found then
    perform private.raise_business_error('P0N01', format('image %s has no version %s', image_restore.image_id, image_restore.version_id),
      jsonb_build_object('version_id', image_restore.version_id));
  end if;
  update public.product_images i set public_id = earlier.public_id, asset_version = earlier.asset_version,
    format = earlier.format, width = earlier.width, height = earlier.height, bytes = earlier.bytes,
    checksum = earlier.checksum, placeholder = earlier.placeholder, version = i.version + 1
  where i.id = image_restore.image_id
  returning * into image;
  perform private.emit_event('product_image.restored', private.product_image_json(image));
  return private.product_image_json(image);
end;
$function$
;
revoke all on function private.image_restore(uuid,uuid,integer,bigint) from public, anon, authenticated, service_role;
grant execute on function private.image_restore(uuid,uuid,integer,bigint) to authenticated, service_role;
comment on function private.image_restore(uuid,uuid,integer,bigint) is 'Makes an image show one of its earlier versions again.';

drop function private.image_update(uuid,uuid,integer,jsonb);
create or replace function private.image_update(product_id uuid, image_id uuid, expected_version integer, patch jsonb)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  image public.product_images;
  demoted public.product_images;
  v_variant uuid := (patch ->> 'variant_id')::uuid;
begin
  perform private.require_app_role('staff');
  image := private.image_lock(image_update.product_id, image_id, expected_version);
  if v_variant is not null and not exists (select 1 from public.product_variants v
                                           where v.id = v_variant and v.product_id = image_update.product_id and v.deleted_at is null) then
    perform private.raise_business_error('P0V01', 'the variant is not one of this product''s',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.variant_id', 'message', 'not a variant of this product'))));
  end if;
  if (patch ->> 'is_primary')::boolean is true and not image.is_primary then
    update public.product_images i set is_primary = false, version = i.version + 1
    where i.product_id = image_update.product_id and i.is_primary
    returning * into demoted;
    if found then
      perform private.emit_event('product_image.updated', private.product_image_json(demoted));
    end if;
  end if;
  update public.product_images i set
    alt_text = case when patch ? 'alt_text' then coalesce(patch ->> 'alt_text', '') else i.alt_text end,
    variant_id = case when patch ? 'variant_id' then v_variant else i.variant_id end,
    is_primary = case when (patch ->> 'is_primary')::boolean is true then true else i.is_primary end,
    version = i.version + 1
  where i.id = image_id
  returning * into image;
  perform private.emit_event('product_image.updated', private.product_image_json(image));
  return private.product_image_json(image);
end;
$function$
;
revoke all on function private.image_update(uuid,uuid,integer,jsonb) from public, anon, authenticated, service_role;
grant execute on function private.image_update(uuid,uuid,integer,jsonb) to authenticated, service_role;
comment on function private.image_update(uuid,uuid,integer,jsonb) is 'Changes an image''s alt text, variant or makes it the primary one (the former primary is demoted).';

drop function private.image_upload_pending(uuid,text);
create or replace function private.image_upload_pending(product_id uuid, public_id text)
 returns boolean
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
#variable_conflict use_column
begin
  perform private.require_app_role('staff');
  return exists (select 1 from private.image_uploads u
                 where u.public_id = image_upload_pending.public_id and u.product_id = image_upload_pending.product_id and u.expires_at > now());
end;
$function$
;
revoke all on function private.image_upload_pending(uuid,text) from public, anon, authenticated, service_role;
grant execute on function private.image_upload_pending(uuid,text) to authenticated, service_role;
comment on function private.image_upload_pending(uuid,text) is 'True when public_id is a live upload reservation of this product.';

drop function private.level_json(uuid,uuid);
create or replace function private.level_json(variant_id uuid, location_id uuid)
 returns jsonb
 language sql
 stable security definer
 set search_path to ''
as $function$
  select jsonb_build_object(
    'sku', v.sku, 'location_code', l.code, 'on_hand', sl.on_hand, 'reserved', sl.reserved,
    'available', sl.available, 'reorder_point', sl.reorder_point, 'reorder_quantity', sl.reorder_quantity,
    'allow_backorder', sl.allow_backorder)
  from public.stock_levels sl
  join public.product_variants v on v.id = sl.variant_id
  join public.locations l on l.id = sl.location_id
  where sl.variant_id = level_json.variant_id and sl.location_id = level_json.location_id
$function$
;
revoke all on function private.level_json(uuid,uuid) from public, anon, authenticated, service_role;
comment on function private.level_json(uuid,uuid) is 'A stock level as the API answers it.';

drop function private.list_orders(text,text,timestamp with time zone,uuid,integer);
create or replace function private.list_orders(status text, customer_email text, before_created_at timestamp with time zone, before_id uuid, page_size integer)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
#variable_conflict use_column
begin
  perform private.require_app_role('viewer');
  return coalesce((
    select jsonb_agg(private.order_json(page.id) || jsonb_build_object('cursor_created_at', page.created_at)
                     order by page.created_at desc, page.id desc)
    from (
      select o.id, o.created_at from public.orders o
      where (list_orders.status is null or o.status = list_orders.status)
        and (list_orders.customer_email is null or lower(o.customer_email) = lower(list_orders.customer_email))
        and (before_id is null or (o.created_at, o.id) < (before_created_at, before_id))
      order by o.created_at desc, o.id desc
      limit page_size
    ) page), '[]'::jsonb);
end;
$function$
;
revoke all on function private.list_orders(text,text,timestamp with time zone,uuid,integer) from public, anon, authenticated, service_role;
grant execute on function private.list_orders(text,text,timestamp with time zone,uuid,integer) to authenticated, service_role;
comment on function private.list_orders(text,text,timestamp with time zone,uuid,integer) is 'A page of orders, newest first, optionally of one status or one customer (viewer and up).';

drop function private.list_reorder_suggestions(text,timestamp with time zone,uuid,integer);
create or replace function private.list_reorder_suggestions(status text default 'open'::text, before_created timestamp with time zone default null::timestamp with time zone, before_id uuid default null::uuid, page_size integer default 50)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  result jsonb;
begin
  perform private.require_app_role('viewer');
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', s.id, 'sku', v.sku, 'location_code', l.code, 'status', s.status,
           'reorder_point', s.reorder_point, 'suggested_quantity', s.suggested_quantity,
           'available_at_crossing', s.available_at_crossing, 'available', sl.available,
           'created_at', private.iso(s.created_at), 'resolved_at', private.iso(s.resolved_at),
           'cursor_created_at', s.created_at)
         order by s.created_at desc, s.id desc), '[]'::jsonb)
  into result
  from (
    select * from public.reorder_suggestions s
    where (list_reorder_suggestions.status is null or s.status = list_reorder_suggestions.status)
      and (before_created is null or (s.created_at, s.id) < (before_created, before_id))
    order by s.created_at desc, s.id desc
    limit page_size
  ) as s
  join public.product_variants v on v.id = s.variant_id
  join public.locations l on l.id = s.location_id
  join public.stock_levels sl on sl.variant_id = s.variant_id and sl.location_id = s.location_id;
  return result;
end;
$function$
;
revoke all on function private.list_reorder_suggestions(text,timestamp with time zone,uuid,integer) from public, anon, authenticated, service_role;
grant execute on function private.list_reorder_suggestions(text,timestamp with time zone,uuid,integer) to authenticated, service_role;
comment on function private.list_reorder_suggestions(text,timestamp with time zone,uuid,integer) is 'Reorder suggestions newest first (viewer and up), by status, paged by (created_at, id).';

drop function private.location_id_for_code(text);
create or replace function private.location_id_for_code(code text)
 returns uuid
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  found_id uuid;
begin
  select l.id into found_id from public.locations l where l.code = lower(location_id_for_code.code);
  if found_id is null then
    perform private.raise_business_error('P0N01', format('no location with code %s', location_id_for_code.code),
      jsonb_build_object('location_code', location_id_for_code.code));
  end if;
  return found_id;
end;
$function$
;
revoke all on function private.location_id_for_code(text) from public, anon, authenticated, service_role;
comment on function private.location_id_for_code(text) is 'The location with this code, or P0N01.';

drop function private.order_json(uuid);
create or replace function private.order_json(id uuid)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
#variable_conflict use_column
begin
  return (
    select jsonb_build_object(
      'id', o.id,
      'number', o.number,
      'status', o.status,
      'currency', o.currency,
      'subtotal_amount', o.subtotal_amount,
      'customer', jsonb_build_object('email', o.customer_email, 'name', o.customer_name),
      'shipping_address', o.shipping_address,
      'note', o.note,
      'lines', coalesce((
        select jsonb_agg(jsonb_build_object('line_no', l.line_no, 'variant_id', l.variant_id, 'sku', l.sku,
                 'title', l.title, 'quantity', l.quantity, 'unit_price_amount', l.unit_price_amount,
                 'line_total_amount', l.line_total_amount) order by l.line_no)
        from public.order_lines l where l.order_id = o.id), '[]'::jsonb),
      'reservation_id', o.reservation_id,
      'payment_due_at', private.iso(o.payment_due_at),
      'payment_reference', o.payment_reference,
      'tracking_number', o.tracking_number,
      'carrier', o.carrier,
      'cancel_reason', o.cancel_reason,
      'version', o.version,
      'created_at', private.iso(o.created_at),
      'updated_at', private.iso(o.updated_at),
      'paid_at', private.iso(o.paid_at),
      'shipped_at', private.iso(o.shipped_at),
      'delivered_at', private.iso(o.delivered_at),
      'cancelled_at', private.iso(o.cancelled_at),
      'returned_at', private.iso(o.returned_at),
      'history', coalesce((
        select jsonb_agg(jsonb_build_object('from', h.from_status, 'to', h.to_status, 'reason', h.reason,
                 'source', h.source, 'actor_id', h.actor_id, 'at', private.iso(h.created_at)) order by h.id)
        from public.order_status_history h where h.order_id = o.id), '[]'::jsonb))
    from public.orders o
    where o.id = order_json.id);
end;
$function$
;
revoke all on function private.order_json(uuid) from public, anon, authenticated, service_role;
comment on function private.order_json(uuid) is 'An order with its lines and status history as the API answers it, or null.';

drop function private.order_record_transition(public.orders,text,text,text,jsonb);
create or replace function private.order_record_transition(order_row public.orders, to_status text, reason text, source text, details jsonb default '{}'::jsonb)
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
begin
  update public.orders o set
    status = order_record_transition.to_status,
    version = o.version + 1,
    paid_at = case when order_record_transition.to_status = 'paid' then now() else o.paid_at end,
    shipped_at = case when order_record_transition.to_status = 'shipped' then now() else o.shipped_at end,
    delivered_at = case when order_record_transition.to_status = 'delivered' then now() else o.delivered_at end,
    cancelled_at = case when order_record_transition.to_status = 'cancelled' then now() else o.cancelled_at end,
    returned_at = case when order_record_transition.to_status = 'returned' then now() else o.returned_at end,
    cancel_reason = case when order_record_transition.to_status = 'cancelled' then order_record_transition.reason else o.cancel_reason end,
    payment_reference = coalesce(details ->> 'payment_reference', o.payment_reference),
    tracking_number = coalesce(details ->> 'tracking_number', o.tracking_number),
    carrier = coalesce(details ->> 'carrier', o.carrier)
  where o.id = order_row.id;

  insert into public.order_status_history (order_id, from_status, to_status, reason, source, actor_id)
  values (order_row.id, order_row.status, order_record_transition.to_status, order_record_transition.reason, order_record_transition.source, auth.uid());

  perform private.emit_event('order.status_changed', jsonb_build_object(
    'id', order_row.id, 'number', order_row.number, 'from', order_row.status, 'to', order_record_transition.to_status,
    'reason', order_record_transition.reason, 'source', order_record_transition.source, 'version', order_row.version + 1,
    'payment_reference', coalesce(details ->> 'payment_reference', order_row.payment_reference),
    'tracking_number', coalesce(details ->> 'tracking_number', order_row.tracking_number),
    'carrier', coalesce(details ->> 'carrier', order_row.carrier)));
end;
$function$
;
revoke all on function private.order_record_transition(public.orders,text,text,text,jsonb) from public, anon, authenticated, service_role;
comment on function private.order_record_transition(public.orders,text,text,text,jsonb) is 'Records an allowed, locked order transition: status, timestamp, version, history row and order.status_changed.';

drop function private.order_transition(uuid,text,text,text,jsonb,integer);
create or replace function private.order_transition(id uuid, status text, source text, reason text default null::text, details jsonb default '{}'::jsonb, expected_version integer default null::integer)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  v_reservation_id uuid;
  v_rank constant jsonb := '{"pending": 0, "paid": 1, "shipped": 2, "delivered": 3, "returned": 4}';
  v_detail_field text;
  o public.orders;
begin
  perform private.require_app_role('staff');
  if order_transition.status is null or order_transition.status not in ('paid', 'shipped', 'delivered', 'cancelled', 'returned') then
    perform private.raise_business_error('P0V01', 'status must be paid, shipped, delivered, cancelled or returned',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'body.status', 'message', 'one of paid, shipped, delivered, cancelled, returned'))));
  end if;
  if order_transition.source is null or order_transition.source !~ '^(api|webhook:[a-z0-9][a-z0-9_-]{0,62})$' then
    raise exception 'order_transition: bad source %', order_transition.source using errcode = 'invalid_parameter_value';
  end if;
  select k into v_detail_field
  from jsonb_object_keys(coalesce(order_transition.details, '{}')) as k
  where k not in ('payment_reference', 'tracking_number', 'carrier')
     or (k = 'payment_reference' and order_transition.status <> 'paid')
     or (k in ('tracking_number', 'carrier') and order_transition.status <> 'shipped')
  limit 1;
  if v_detail_field is not null then
    perform private.raise_business_error('P0V01', format('%s does not go with status %s', v_detail_field, order_transition.status),
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
        'field', 'body.' || v_detail_field, 'message', format('not allowed with status %s', order_transition.status)))));
  end if;

  select ord.reservation_id into v_reservation_id from public.orders ord where ord.id = order_transition.id;
  if v_reservation_id is null then
    perform private.raise_business_error('P0N01', format('no order %s', order_transition.id), jsonb_build_object('id', order_transition.id));
  end if;
  perform 1 from public.reservations r where r.id = v_reservation_id for update;
  select * into o from public.orders where id = order_transition.id for no key update;

  if order_transition.expected_version is not null and o.version <> order_transition.expected_version then
    perform private.raise_business_error('P0C02', 'the order was changed since version ' || order_transition.expected_version,
      jsonb_build_object('expected_version', order_transition.expected_version, 'current', private.order_json(order_transition.id)));
  end if;
  -- Asking for the status the order has is a no-op; so is a webhook that arrives after the order
  -- has moved past what it reports (a late `paid` for an order already shipped), so its sender
  -- stops retrying. Either way, details that contradict the order's are a conflict.
  if o.status = order_transition.status or (order_transition.source like 'webhook:%' and o.status <> 'cancelled' and order_transition.status <> 'cancelled'
                             and (v_rank ->> order_transition.status)::integer < (v_rank ->> o.status)::integer) then
    if exists (select 1 from jsonb_each_text(coalesce(order_transition.details, '{}')) as d
               where d.value is distinct from to_jsonb(o) ->> d.key) then
      perform private.raise_business_error('P0C01', format('order %s is already %s with other details', o.number, o.status),
        jsonb_build_object('id', order_transition.id, 'order_status', o.status, 'current', private.order_json(order_transition.id)));
    end if;
    return private.order_json(order_transition.id);
  end if;
  if not (o.status, order_transition.status) in (('pending', 'paid'), ('pending', 'cancelled'), ('paid', 'cancelled'),
                                   ('paid', 'shipped'), ('shipped', 'delivered'), ('shipped', 'returned'),
                                   ('delivered', 'returned')) then
    perform private.raise_business_error('P0C01', format('an order that is %s cannot become %s', o.status, order_transition.status),
      jsonb_build_object('id', order_transition.id, 'order_status', o.status, 'requested', order_transition.status));
  end if;
  if order_transition.status = 'paid' and o.payment_due_at <= now() then
    perform private.raise_business_error('P0C01', format('the payment window of order %s has closed', o.number),
      jsonb_build_object('id', order_transition.id, 'order_status', o.status, 'payment_due_at', private.iso(o.payment_due_at)));
  end if;
  if (o.status = 'paid' and order_transition.status = 'cancelled') or order_transition.status = 'returned' then
    perform private.require_app_role('manager');
  end if;

  -- The order changes first, so the reservation trigger below finds it agreeing.
  perform private.order_record_transition(o, order_transition.status, order_transition.reason, order_transition.source, coalesce(order_transition.details, '{}'));
  if order_transition.status = 'paid' then
    -- Never expires; private.iso prints infinity as null, so the API shows `expires_at: null`.
    update public.reservations r set expires_at = 'infinity', updated_at = now() where r.id = o.reservation_id;
  elsif order_transition.status = 'cancelled' then
    perform private.release_reservation(o.reservation_id);
  elsif order_transition.status = 'shipped' then
    perform private.commit_reservation(o.reservation_id);
  elsif order_transition.status = 'returned' then
    insert into public.stock_movements (variant_id, location_id, kind, quantity, reason, reference_type, reference_id)
    select i.variant_id, i.location_id, 'return', i.quantity, format('order %s returned', o.number), 'order', o.id::text
    from public.reservation_items i
    join public.locations l on l.id = i.location_id
    where i.reservation_id = o.reservation_id
    order by i.variant_id, l.priority, i.location_id;
  end if;
  return private.order_json(order_transition.id);
end;
$function$
;
revoke all on function private.order_transition(uuid,text,text,text,jsonb,integer) from public, anon, authenticated, service_role;
grant execute on function private.order_transition(uuid,text,text,text,jsonb,integer) to service_role;
comment on function private.order_transition(uuid,text,text,text,jsonb,integer) is 'Moves an order along an allowed transition with its stock work (staff and up; cancelling a paid order or a return: manager); the same status is a no-op.';

drop function private.place_order(jsonb);
create or replace function private.place_order(order_request jsonb)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
  v_id uuid := gen_random_uuid();
  v_items jsonb := order_request -> 'items';
  v_ttl integer;
  v_errors jsonb;
  v_currency text;
  v_reservation jsonb;
  v_number text;
  v_subtotal bigint;
  v_lines jsonb;
begin
  perform private.require_app_role('staff');

  if jsonb_typeof(v_items) is distinct from 'array' or jsonb_array_length(v_items) not between 1 and 100 then
    perform private.raise_business_error('P0V01', 'items must be a list of 1 to 100 lines',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.items', 'message', 'between 1 and 100 lines'))));
  end if;
  v_ttl := coalesce((order_request ->> 'payment_ttl_seconds')::integer, 3600);

  -- Each line's variant and product, looked up once (LIMIT 1 keeps each lookup an index probe:
  -- the planner otherwise guesses 100 lines and hashes the whole variants table).
  select jsonb_agg(jsonb_build_object('ord', e.ord, 'quantity', e.line -> 'quantity', 'variant_id', v.id, 'sku', v.sku,
           'title', v.product_title || case when v.title <> '' then ' — ' || v.title else '' end,
           'price_amount', v.price_amount, 'currency', v.currency, 'product_status', v.product_status) order by e.ord)
  into v_lines
  from jsonb_array_elements(v_items) with ordinality as e(line, ord)
  left join lateral (
    select v.id, v.sku, v.title, v.price_amount, v.currency, p.title as product_title, p.status as product_status
    from public.product_variants v
    join public.products p on p.id = v.product_id and p.deleted_at is null
    where lower(v.sku) = lower(e.line ->> 'sku') and v.deleted_at is null
    limit 1
  ) v on true;

  -- Every line must name a live variant of a published product; the first known line's currency
  -- is the order's, and every other line must be priced in it.
  select l ->> 'currency' into v_currency from jsonb_array_elements(v_lines) as l where l ->> 'currency' is not null limit 1;
  select jsonb_agg(jsonb_build_object('field', 'body.items.' || (checked.ord - 1) || '.sku', 'message', checked.problem)
                   order by checked.ord)
  into v_errors
  from (
    select l.ord, case
      when l.variant_id is null then 'no live variant has this sku'
      when l.product_status <> 'published' then 'the product is not published'
      when l.currency <> v_currency then format('priced in %s, the order is in %s', l.currency, v_currency)
    end as problem
    from jsonb_to_recordset(v_lines) as l(ord integer, variant_id uuid, product_status text, currency text)
  ) checked
  where checked.problem is not null;
  if v_errors is not null then
    perform private.raise_business_error('P0V01', 'some order lines cannot be sold', jsonb_build_object('errors', v_errors));
  end if;

  -- Holds every line or raises (P0V01 for a bad quantity or location, P0S01 for a shortage).
  v_reservation := private.reserve_stock(
    (select jsonb_agg(jsonb_strip_nulls(jsonb_build_object('sku', e.line -> 'sku', 'quantity', e.line -> 'quantity',
       'location_code', e.line -> 'location_code')) order by e.ord)
     from jsonb_array_elements(v_items) with ordinality as e(line, ord)),
    v_ttl, 'order', v_id::text);

  -- The order, its lines and its first history entry in one statement (one plan, one executor run;
  -- the lines' and the history's foreign keys are checked at its end, when the order exists).
  with placed as (
    insert into public.orders (id, number, currency, subtotal_amount, customer_email, customer_name, shipping_address,
                               note, reservation_id, payment_due_at, created_by)
    values (v_id, 'SK-' || nextval('private.order_numbers'), v_currency,
            (select sum(l.price_amount::bigint * l.quantity)
             from jsonb_to_recordset(v_lines) as l(price_amount integer, quantity integer)),
            order_request #>> '{customer,email}', order_request #>> '{customer,name}', order_request -> 'shipping_address',
            order_request ->> 'note', (v_reservation ->> 'id')::uuid,
            (select r.expires_at from public.reservations r where r.id = (v_reservation ->> 'id')::uuid), auth.uid())
    returning number, subtotal_amount
  ), lines as (
    insert into public.order_lines (order_id, line_no, variant_id, sku, title, quantity, unit_price_amount)
    select v_id, l.ord, l.variant_id, l.sku, l.title, l.quantity, l.price_amount
    from jsonb_to_recordset(v_lines) as l(ord integer, variant_id uuid, sku text, title text, quantity integer,
                                           price_amount integer)
  ), history as (
    insert into public.order_status_history (order_id, from_status, to_status, source, actor_id)
    values (v_id, null, 'pending', 'api', auth.uid())
  )
  select placed.number, placed.subtotal_amount into v_number, v_subtotal from placed;

  perform private.emit_event('order.created', jsonb_build_object(
    'id', v_id, 'number', v_number, 'status', 'pending', 'currency', v_currency, 'subtotal_amount', v_subtotal,
    'payment_due_at', v_reservation -> 'expires_at',
    'lines', (select jsonb_agg(jsonb_build_object('sku', l ->> 'sku', 'quantity', l -> 'quantity'))
              from jsonb_array_elements(v_lines) as l)));

  return private.order_json(v_id);
end;
$function$
;
revoke all on function private.place_order(jsonb) from public, anon, authenticated, service_role;
grant execute on function private.place_order(jsonb) to authenticated, service_role;
comment on function private.place_order(jsonb) is 'Places an order (staff and up): lines priced from the catalog, stock held for the payment window, all or nothing.';

drop function private.product_image_versions_json(uuid,uuid);
create or replace function private.product_image_versions_json(product_id uuid, image_id uuid)
 returns jsonb
 language sql
 stable
 set search_path to ''
as $function$
  select coalesce(jsonb_agg(jsonb_build_object('id', v.id, 'image_id', v.image_id, 'public_id', v.public_id,
      'asset_version', v.asset_version, 'format', v.format, 'width', v.width, 'height', v.height, 'bytes', v.bytes,
      'checksum', v.checksum, 'placeholder', v.placeholder,
      'created_at', to_char(v.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'current', v.public_id = i.public_id) order by v.id desc), '[]'::jsonb)
  from public.product_image_versions v
  join public.product_images i on i.id = v.image_id
  where v.image_id = product_image_versions_json.image_id and v.product_id = product_image_versions_json.product_id
$function$
;
revoke all on function private.product_image_versions_json(uuid,uuid) from public, anon, authenticated, service_role;
grant execute on function private.product_image_versions_json(uuid,uuid) to anon, authenticated, service_role;
comment on function private.product_image_versions_json(uuid,uuid) is 'An image''s versions, newest first, marking the current one.';

drop function private.product_images_json(uuid);
create or replace function private.product_images_json(product_id uuid)
 returns jsonb
 language sql
 stable
 set search_path to ''
as $function$
  select coalesce(jsonb_agg(private.product_image_json(i) order by i.position, i.id), '[]'::jsonb)
  from public.product_images i where i.product_id = product_images_json.product_id
$function$
;
revoke all on function private.product_images_json(uuid) from public, anon, authenticated, service_role;
grant execute on function private.product_images_json(uuid) to anon, authenticated, service_role;
comment on function private.product_images_json(uuid) is 'A product''s images in order, those the caller may see.';

drop function private.record_job_run(text,integer,boolean,integer,text);
create or replace function private.record_job_run(job text, interval_seconds integer, ok boolean, duration_ms integer, error text default null::text)
 returns void
 language sql
 security definer
 set search_path to ''
as $function$
  insert into private.job_runs as r
    (job, interval_seconds, runs, failures, last_run_at, last_success_at, last_failure_at, last_duration_ms, last_error)
  values (record_job_run.job, record_job_run.interval_seconds, 1, case when ok then 0 else 1 end, now(),
          case when ok then now() end, case when ok then null else now() end,
          greatest(duration_ms, 0), case when ok then null else left(error, 500) end)
  on conflict (job) do update set
    interval_seconds = excluded.interval_seconds,
    runs = r.runs + 1,
    failures = r.failures + excluded.failures,
    last_run_at = excluded.last_run_at,
    last_success_at = coalesce(excluded.last_success_at, r.last_success_at),
    last_failure_at = coalesce(excluded.last_failure_at, r.last_failure_at),
    last_duration_ms = excluded.last_duration_ms,
    last_error = case when ok then r.last_error else excluded.last_error end;
$function$
;
revoke all on function private.record_job_run(text,integer,boolean,integer,text) from public, anon, authenticated, service_role;
grant execute on function private.record_job_run(text,integer,boolean,integer,text) to service_role;
comment on function private.record_job_run(text,integer,boolean,integer,text) is 'Counts one run of a scheduled job (ok or failed, with its duration and error) for metrics.';

drop function private.release_reservation(uuid);
create or replace function private.release_reservation(id uuid)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  r public.reservations;
begin
  perform private.require_app_role('staff');
  select * into r from public.reservations where id = release_reservation.id for update;
  if r.id is null then
    perform private.raise_business_error('P0N01', format('no reservation %s', release_reservation.id), jsonb_build_object('id', release_reservation.id));
  end if;
  if r.status = 'committed' then
    perform private.raise_business_error('P0C01', 'a committed reservation cannot be released',
      jsonb_build_object('id', release_reservation.id, 'status', r.status));
  end if;
  if r.status = 'active' then
    perform private.unreserve_items(array[release_reservation.id]);
    update public.reservations set status = 'released', closed_at = now(), updated_at = now() where id = release_reservation.id;
    perform private.emit_event('reservation.released', jsonb_build_object('id', release_reservation.id, 'reference_type', r.reference_type,
      'reference_id', r.reference_id));
  end if;
  return private.reservation_json(release_reservation.id);
end;
$function$
;
revoke all on function private.release_reservation(uuid) from public, anon, authenticated, service_role;
grant execute on function private.release_reservation(uuid) to authenticated, service_role;
comment on function private.release_reservation(uuid) is 'Releases an active reservation (staff and up); releasing a released or expired one changes nothing.';

drop function private.reservation_json(uuid);
create or replace function private.reservation_json(id uuid)
 returns jsonb
 language sql
 stable security definer
 set search_path to ''
as $function$
  select jsonb_build_object(
    'id', r.id,
    'status', r.status,
    'expires_at', private.iso(r.expires_at),
    'reference', case when r.reference_type is null then null
      else jsonb_build_object('type', r.reference_type, 'id', r.reference_id) end,
    'items', coalesce((
      select jsonb_agg(jsonb_build_object('sku', v.sku, 'location_code', l.code, 'quantity', i.quantity)
                       order by lower(v.sku), l.priority, l.code)
      from public.reservation_items i
      join public.product_variants v on v.id = i.variant_id
      join public.locations l on l.id = i.location_id
      where i.reservation_id = r.id), '[]'::jsonb),
    'created_at', private.iso(r.created_at),
    'closed_at', private.iso(r.closed_at))
  from public.reservations r
  where r.id = reservation_json.id
$function$
;
revoke all on function private.reservation_json(uuid) from public, anon, authenticated, service_role;
comment on function private.reservation_json(uuid) is 'A reservation with its items as the API answers it, or null.';

drop function private.reserve_stock(jsonb,integer,text,text,text);
create or replace function private.reserve_stock(items jsonb, ttl_seconds integer default 900, reference_type text default null::text, reference_id text default null::text, idempotency_key text default null::text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  v_id uuid;
  v_expires timestamptz := now() + make_interval(secs => reserve_stock.ttl_seconds);
  v_lines integer;
  v_matched integer := 0;
  v_errors jsonb;
  v_groups private.reservation_group[];
  grp private.reservation_group;
  v_pass integer;
  v_i integer;
  v_any integer;
  v_spec_left integer[];
  v_left integer;
  v_idx integer;
  v_spec integer;
  v_want integer;
  v_avail integer;
  v_take integer;
  v_from_spec integer;
  v_items jsonb;
  v_shortages jsonb := '[]';
begin
  perform private.require_app_role('staff');

  if jsonb_typeof(reserve_stock.items) is distinct from 'array' or jsonb_array_length(reserve_stock.items) not between 1 and 100 then
    perform private.raise_business_error('P0V01', 'items must be a list of 1 to 100 lines',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.items', 'message', 'between 1 and 100 lines'))));
  end if;
  if reserve_stock.ttl_seconds is null or reserve_stock.ttl_seconds not between 1 and 604800 then
    perform private.raise_business_error('P0V01', 'ttl_seconds must be between 1 and 604800',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.ttl_seconds', 'message', 'between 1 and 604800'))));
  end if;

  v_lines := jsonb_array_length(reserve_stock.items);

  -- Idempotent creation: the same key answers the reservation it created first. Without a key the
  -- reservation is written only once a level can serve it (below).
  if reserve_stock.idempotency_key is not null then
    insert into public.reservations (expires_at, reference_type, reference_id, idempotency_key, created_by)
    values (v_expires, reserve_stock.reference_type, reserve_stock.reference_id, reserve_stock.idempotency_key, auth.uid())
    on conflict (idempotency_key) where idempotency_key is not null do nothing
    returning id into v_id;
    if v_id is null then
      return private.reservation_json((select r.id from public.reservations r where r.idempotency_key = reserve_stock.idempotency_key))
        || jsonb_build_object('replayed', true);
    end if;
  end if;

  -- The one read: per variant (in variant id order, the global lock order) the quantity any online
  -- location may serve, the quantities named for given locations, and the candidate levels in
  -- allocation order (location priority) with what each had available. A single line without a
  -- location (a cart's add, every attempt of a flash sale) is read by a query of its own shape.
  if v_lines = 1 and not (reserve_stock.items -> 0 ? 'location_code') and jsonb_typeof(reserve_stock.items -> 0 -> 'quantity') = 'number'
     and (reserve_stock.items -> 0 ->> 'quantity')::numeric between 1 and 2147483647
     and (reserve_stock.items -> 0 ->> 'quantity')::numeric = trunc((reserve_stock.items -> 0 ->> 'quantity')::numeric) then
    select coalesce(array_agg(row(v.id, v.sku, 1, q.quantity, q.quantity, '{}', '{}', '{}',
                                  c.locations, c.codes, c.online, c.available, c.backorder)::private.reservation_group), '{}')
    into v_groups
    from (select (reserve_stock.items -> 0 ->> 'quantity')::integer as quantity) q
    join public.product_variants v on lower(v.sku) = lower(reserve_stock.items -> 0 ->> 'sku') and v.deleted_at is null
    cross join lateral (
      -- Aggregated in the order of the sorted rows below (one sort for the five arrays).
      select coalesce(array_agg(s.location_id), '{}') as locations, coalesce(array_agg(s.code), '{}') as codes,
             coalesce(array_agg(true), '{}') as online, coalesce(array_agg(s.available), '{}') as available,
             coalesce(array_agg(s.allow_backorder), '{}') as backorder
      from (
        select sl.location_id, l.code, sl.available, sl.allow_backorder
        from public.stock_levels sl
        join public.locations l on l.id = sl.location_id and l.active and l.fulfils_online
        where sl.variant_id = v.id and (sl.allow_backorder or sl.available > 0)
        order by l.priority, l.id
      ) s
    ) c;
  else
  select coalesce(array_agg(row(g.*)::private.reservation_group order by g.variant_id), '{}') into v_groups
  from (
    with lines as (
      select v.id as variant_id, v.sku, l.id as location_id, l.code as location_code,
             (e.line ->> 'quantity')::integer as quantity
      from jsonb_array_elements(reserve_stock.items) as e(line)
      join public.product_variants v on lower(v.sku) = lower(e.line ->> 'sku') and v.deleted_at is null
      left join public.locations l on l.code = lower(e.line ->> 'location_code') and l.active
      where jsonb_typeof(e.line -> 'quantity') = 'number' and (e.line ->> 'quantity')::numeric >= 1
        and (e.line ->> 'quantity')::numeric = trunc((e.line ->> 'quantity')::numeric)
        and (e.line ->> 'location_code' is null or l.id is not null)
    ), per_location as (
      select variant_id, sku, location_id, location_code, sum(quantity)::integer as quantity, count(*)::integer as lines
      from lines group by variant_id, sku, location_id, location_code
    ), per_variant as (
      select variant_id, sku,
             sum(lines)::integer as lines,
             sum(quantity)::integer as quantity,
             coalesce(sum(quantity) filter (where location_id is null), 0)::integer as any_quantity,
             coalesce(array_agg(location_id) filter (where location_id is not null), '{}') as spec_locations,
             coalesce(array_agg(location_code) filter (where location_id is not null), '{}') as spec_codes,
             coalesce(array_agg(quantity) filter (where location_id is not null), '{}') as spec_quantities
      from per_location
      group by variant_id, sku
    )
    select pv.*, c.locations, c.codes, c.online, c.available, c.backorder
    from per_variant pv
    cross join lateral (
      select coalesce(array_agg(sl.location_id order by l.priority, l.id), '{}') as locations,
             coalesce(array_agg(l.code order by l.priority, l.id), '{}') as codes,
             coalesce(array_agg(l.fulfils_online order by l.priority, l.id), '{}') as online,
             coalesce(array_agg(sl.available order by l.priority, l.id), '{}') as available,
             coalesce(array_agg(sl.allow_backorder order by l.priority, l.id), '{}') as backorder
      from public.stock_levels sl
      join public.locations l on l.id = sl.location_id
      where sl.variant_id = pv.variant_id and l.active
        and ((pv.any_quantity > 0 and l.fulfils_online) or sl.location_id = any (pv.spec_locations))
        and (sl.allow_backorder or sl.available > 0)
    ) c
  ) g;
  end if;

  foreach grp in array v_groups loop
    v_matched := v_matched + grp.lines;
  end loop;
  if v_matched < v_lines then
    -- Some line names an unknown sku, an unknown or inactive location, or a bad quantity.
    select jsonb_agg(jsonb_build_object('field', 'body.items.' || (e.ord - 1) || '.' || problem.field, 'message', problem.message)
                     order by e.ord)
    into v_errors
    from jsonb_array_elements(reserve_stock.items) with ordinality as e(line, ord)
    cross join lateral (
      select 'quantity' as field, 'must be a positive integer' as message
      where jsonb_typeof(e.line -> 'quantity') is distinct from 'number'
         or (e.line ->> 'quantity')::numeric < 1 or (e.line ->> 'quantity')::numeric <> trunc((e.line ->> 'quantity')::numeric)
      union all
      select 'sku', 'no live variant has this sku'
      where not exists (select 1 from public.product_variants v
                        where lower(v.sku) = lower(e.line ->> 'sku') and v.deleted_at is null)
      union all
      select 'location_code', 'no active location has this code'
      where e.line ->> 'location_code' is not null
        and not exists (select 1 from public.locations l where l.code = lower(e.line ->> 'location_code') and l.active)
    ) as problem;
    perform private.raise_business_error('P0V01', 'some reservation lines are not valid', jsonb_build_object('errors', v_errors));
  end if;

  -- Pass 1 allocates on what the read saw, locking nothing; pass 2, only when pass 1 met every
  -- line, takes the units under the levels' locks. The same allocation both times: each level in
  -- priority order serves what is named for it, and an online one also what any location may serve.
  for v_pass in 1 .. 2 loop
    v_items := '[]';
    foreach grp in array v_groups loop
      v_any := grp.any_quantity;
      v_spec_left := grp.spec_quantities;
      v_left := grp.quantity;

      for v_i in 1 .. coalesce(array_length(grp.locations, 1), 0) loop
        v_idx := array_position(grp.spec_locations, grp.locations[v_i]);
        v_spec := coalesce(v_spec_left[v_idx], 0);
        v_want := v_spec + case when grp.online[v_i] then v_any else 0 end;
        continue when v_want = 0;

        if v_pass = 1 then
          v_take := case when grp.backorder[v_i] then v_want else least(v_want, greatest(grp.available[v_i], 0)) end;
        else
          -- The hold's item is written before the level is locked: on a hot level everything
          -- between the row lock and commit is serialised, so the conditional UPDATE comes last.
          if v_id is null then
            insert into public.reservations (expires_at, reference_type, reference_id, created_by)
            values (v_expires, reserve_stock.reference_type, reserve_stock.reference_id, auth.uid())
            returning id into v_id;
          end if;
          insert into public.reservation_items (reservation_id, variant_id, location_id, quantity)
          values (v_id, grp.variant_id, grp.locations[v_i], v_want);

          -- The shape of a bare conditional update: take everything wanted here.
          update public.stock_levels sl
          set reserved = sl.reserved + v_want, updated_at = now()
          where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i]
            and (sl.allow_backorder or sl.on_hand - sl.reserved >= v_want);
          if found then
            v_take := v_want;
          else
            -- Less left than wanted (others took it since the read). Look again without a lock,
            -- and lock only when there is something to take.
            select sl.on_hand - sl.reserved into v_avail
            from public.stock_levels sl
            where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i];
            if v_avail > 0 then
              select sl.on_hand - sl.reserved into v_avail
              from public.stock_levels sl
              where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i]
              for no key update;
            end if;
            v_take := least(v_want, greatest(v_avail, 0));
            if v_take > 0 then
              update public.stock_levels sl
              set reserved = sl.reserved + v_take, updated_at = now()
              where sl.variant_id = grp.variant_id and sl.location_id = grp.locations[v_i];
              update public.reservation_items i set quantity = v_take
              where i.reservation_id = v_id and i.variant_id = grp.variant_id and i.location_id = grp.locations[v_i];
            else
              delete from public.reservation_items i
              where i.reservation_id = v_id and i.variant_id = grp.variant_id and i.location_id = grp.locations[v_i];
            end if;
          end if;
        end if;

        if v_take > 0 then
          v_from_spec := least(v_spec, v_take);
          if v_idx is not null then
            v_spec_left[v_idx] := v_spec - v_from_spec;
          end if;
          v_any := v_any - (v_take - v_from_spec);
          v_left := v_left - v_take;
          v_items := v_items || jsonb_build_object('sku', grp.sku, 'location_code', grp.codes[v_i], 'quantity', v_take);
        end if;
        exit when v_left = 0;
      end loop;

      if v_left > 0 then
        if v_any > 0 then
          v_shortages := v_shortages || jsonb_build_object('sku', grp.sku, 'requested', grp.any_quantity,
            'available', grp.any_quantity - v_any);
        end if;
        for v_idx in 1 .. coalesce(array_length(grp.spec_locations, 1), 0) loop
          if v_spec_left[v_idx] > 0 then
            v_shortages := v_shortages || jsonb_build_object('sku', grp.sku, 'location_code', grp.spec_codes[v_idx],
              'requested', grp.spec_quantities[v_idx], 'available', grp.spec_quantities[v_idx] - v_spec_left[v_idx]);
          end if;
        end loop;
      end if;
    end loop;

    if jsonb_array_length(v_shortages) > 0 then
      -- Raising undoes every hold taken above: all lines or none.
      perform private.raise_business_error('P0S01',
        format('not enough stock for %s', (select string_agg(s ->> 'sku', ', ') from jsonb_array_elements(v_shortages) as s)),
        jsonb_build_object('shortages', v_shortages));
    end if;
  end loop;

  return jsonb_build_object(
    'id', v_id,
    'status', 'active',
    'expires_at', private.iso(v_expires),
    'reference', case when reserve_stock.reference_type is null then null
      else jsonb_build_object('type', reserve_stock.reference_type, 'id', reserve_stock.reference_id) end,
    'created_at', private.iso(now()),
    'closed_at', null,
    'replayed', false,
    'items', v_items);
end;
$function$
;
revoke all on function private.reserve_stock(jsonb,integer,text,text,text) from public, anon, authenticated, service_role;
grant execute on function private.reserve_stock(jsonb,integer,text,text,text) to authenticated, service_role;
comment on function private.reserve_stock(jsonb,integer,text,text,text) is 'Reserves every line or none (staff and up): locations by priority or the one named, lines may split; P0S01 names each shortage. Decides on one unlocked read, then locks only what it takes.';

drop function private.rows_breaking(text,regclass,jsonb);
create or replace function private.rows_breaking(constraint_name text, table_name regclass, rows jsonb)
 returns integer[]
 language plpgsql
 stable
 set search_path to ''
as $function$
declare
  v_check text;
  v_keys text;
  v_predicate text;
  result integer[];
begin
  if jsonb_typeof(rows) is distinct from 'array' then
    return '{}';
  end if;
  select pg_catalog.pg_get_expr(c.conbin, c.conrelid) into v_check
  from pg_catalog.pg_constraint c
  where c.conrelid = table_name and c.conname = constraint_name and c.contype = 'c';
  if v_check is not null then
    execute format(
      'select coalesce(array_agg(r.ordinality - 1 order by r.ordinality), ''{}'')
       from jsonb_populate_recordset(null::%s, $1) with ordinality as r where (%s) is false',
      table_name, v_check)
    into result using rows;
    return result;
  end if;

  select (select string_agg(pg_catalog.pg_get_indexdef(i.indexrelid, k, true), ', ' order by k)
            from generate_series(1, i.indnkeyatts) as k),
         coalesce(pg_catalog.pg_get_expr(i.indpred, i.indrelid), 'true')
  into v_keys, v_predicate
  from pg_catalog.pg_index i
  join pg_catalog.pg_class ic on ic.oid = i.indexrelid
  where i.indrelid = table_name and ic.relname = constraint_name and i.indisunique;
  if v_keys is not null then
    execute format(
      'with given as (
         select g.ordinality, row(%1$s) as k from jsonb_populate_recordset(null::%2$s, $1) with ordinality as g where %3$s)
       select coalesce(array_agg(given.ordinality - 1 order by given.ordinality), ''{}'') from given
       where given.k in (select row(%1$s) from %2$s where %3$s)
          or exists (select 1 from given earlier where earlier.k = given.k and earlier.ordinality < given.ordinality)',
      v_keys, table_name, v_predicate)
    into result using rows;
    return result;
  end if;
  return '{}';
end;
$function$
;
revoke all on function private.rows_breaking(text,regclass,jsonb) from public, anon, authenticated, service_role;
grant execute on function private.rows_breaking(text,regclass,jsonb) to authenticated, service_role;
comment on function private.rows_breaking(text,regclass,jsonb) is 'Indexes (from 0) of the given rows that break a check constraint or unique index of the table, evaluated by the database; for error answers.';

drop function private.set_level_policy(text,text,integer,integer,boolean);
create or replace function private.set_level_policy(sku text, location_code text, reorder_point integer default null::integer, reorder_quantity integer default null::integer, allow_backorder boolean default null::boolean)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  v_variant uuid;
  v_location uuid;
  current public.stock_levels;
begin
  perform private.require_app_role('manager');
  v_variant := private.variant_id_for_sku(sku);
  v_location := private.location_id_for_code(location_code);
  select * into current from public.stock_levels sl
  where sl.variant_id = v_variant and sl.location_id = v_location
  for no key update;
  if set_level_policy.allow_backorder is false and current.reserved > current.on_hand then
    perform private.raise_business_error('P0C01',
      format('%s units are reserved but only %s on hand: backorders cannot be turned off', current.reserved, current.on_hand),
      jsonb_build_object('level', private.level_json(v_variant, v_location)));
  end if;
  update public.stock_levels sl
  set reorder_point = coalesce(set_level_policy.reorder_point, sl.reorder_point),
      reorder_quantity = coalesce(set_level_policy.reorder_quantity, sl.reorder_quantity),
      allow_backorder = coalesce(set_level_policy.allow_backorder, sl.allow_backorder),
      updated_at = now()
  where sl.variant_id = v_variant and sl.location_id = v_location;
  return private.level_json(v_variant, v_location);
end;
$function$
;
revoke all on function private.set_level_policy(text,text,integer,integer,boolean) from public, anon, authenticated, service_role;
grant execute on function private.set_level_policy(text,text,integer,integer,boolean) to authenticated, service_role;
comment on function private.set_level_policy(text,text,integer,integer,boolean) is 'Sets a level''s reorder point, reorder quantity and backorder switch (manager and up); null leaves a setting as it is.';

drop function private.set_order_status(uuid,text,text,jsonb,integer);
create or replace function private.set_order_status(id uuid, status text, reason text default null::text, details jsonb default '{}'::jsonb, expected_version integer default null::integer)
 returns jsonb
 language sql
 security definer
 set search_path to ''
as $function$
  select private.order_transition(id, status, 'api', reason, details, expected_version)
$function$
;
revoke all on function private.set_order_status(uuid,text,text,jsonb,integer) from public, anon, authenticated, service_role;
grant execute on function private.set_order_status(uuid,text,text,jsonb,integer) to authenticated, service_role;
comment on function private.set_order_status(uuid,text,text,jsonb,integer) is 'The API''s order transition (source api); see private.order_transition.';

drop function private.stock_history(text,text,bigint,integer);
create or replace function private.stock_history(sku text default null::text, location_code text default null::text, before_id bigint default null::bigint, page_size integer default 50)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
declare
  v_variant uuid;
  v_location uuid;
  result jsonb;
begin
  perform private.require_app_role('viewer');
  if sku is not null then
    v_variant := private.variant_id_for_sku(sku);
  end if;
  if location_code is not null then
    v_location := private.location_id_for_code(location_code);
  end if;
  select coalesce(jsonb_agg(private.movement_json(m) order by m.id desc), '[]'::jsonb) into result
  from (
    select * from public.stock_movements m
    where (v_variant is null or m.variant_id = v_variant)
      and (v_location is null or m.location_id = v_location)
      and (before_id is null or m.id < before_id)
    order by m.id desc
    limit page_size
  ) as m;
  return result;
end;
$function$
;
revoke all on function private.stock_history(text,text,bigint,integer) from public, anon, authenticated, service_role;
grant execute on function private.stock_history(text,text,bigint,integer) to authenticated, service_role;
comment on function private.stock_history(text,text,bigint,integer) is 'Stock movements newest first (viewer and up), optionally for one sku and/or location, paged by id.';

drop function private.stock_status(text,text,text,text,integer);
create or replace function private.stock_status(sku text default null::text, location_code text default null::text, stock text default null::text, after_sku text default null::text, page_size integer default 50)
 returns jsonb
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  result jsonb;
begin
  perform private.require_app_role('viewer');
  if stock_status.sku is not null then
    perform private.variant_id_for_sku(stock_status.sku);
  end if;
  if stock_status.location_code is not null then
    perform private.location_id_for_code(stock_status.location_code);
  end if;
  select coalesce(jsonb_agg(page.row order by page.sort_key), '[]'::jsonb) into result
  from (
    select lower(v.sku) as sort_key,
      jsonb_build_object(
        'sku', v.sku,
        'locations', jsonb_agg(jsonb_build_object(
          'location_code', levels.code, 'on_hand', levels.on_hand, 'reserved', levels.reserved,
          'available', levels.available, 'reorder_point', levels.reorder_point)
          order by levels.priority, levels.code) filter (where levels.shown),
        'total', jsonb_build_object(
          'on_hand', sum(levels.on_hand)::integer, 'reserved', sum(levels.reserved)::integer,
          'available', sum(levels.available)::integer)
      ) as row
    from public.product_variants v
    cross join lateral (
      select l.code, l.priority, sl.on_hand, sl.reserved, sl.available, sl.reorder_point,
             (stock_status.location_code is null or l.code = lower(stock_status.location_code))
               and (stock is null
                 or (stock = 'low' and sl.available <= sl.reorder_point)
                 or (stock = 'out' and sl.available <= 0)) as shown
      from public.stock_levels sl
      join public.locations l on l.id = sl.location_id
      where sl.variant_id = v.id
    ) as levels
    where v.deleted_at is null
      and (stock_status.sku is null or lower(v.sku) = lower(stock_status.sku))
      and (after_sku is null or lower(v.sku) > lower(after_sku))
    group by v.id, v.sku
    having bool_or(levels.shown)
    order by lower(v.sku)
    limit page_size
  ) as page;
  return result;
end;
$function$
;
revoke all on function private.stock_status(text,text,text,text,integer) from public, anon, authenticated, service_role;
grant execute on function private.stock_status(text,text,text,text,integer) to authenticated, service_role;
comment on function private.stock_status(text,text,text,text,integer) is 'Stock per variant (viewer and up): the levels the filters (sku, location, low/out) match, and the total over every level; paged by sku.';

drop function private.transfer_stock(text,text,text,integer,text,text);
create or replace function private.transfer_stock(sku text, from_code text, to_code text, quantity integer, reason text default null::text, idempotency_key text default null::text)
 returns jsonb
 language plpgsql
 security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  v_variant uuid;
  v_from uuid;
  v_to uuid;
  v_transfer text := gen_random_uuid()::text;
  leg record;
  out_movement public.stock_movements;
  in_movement public.stock_movements;
  replayed boolean := false;
begin
  perform private.require_app_role('staff');
  if transfer_stock.quantity is null or transfer_stock.quantity <= 0 then
    perform private.raise_business_error('P0V01', 'quantity must be a positive integer',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.quantity', 'message', 'must be positive'))));
  end if;
  v_variant := private.variant_id_for_sku(sku);
  v_from := private.location_id_for_code(from_code);
  v_to := private.location_id_for_code(to_code);
  if v_from = v_to then
    perform private.raise_business_error('P0V01', 'a transfer needs two different locations',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.to_location_code', 'message', 'same as from_location_code'))));
  end if;

  if transfer_stock.idempotency_key is not null then
    -- Requests with one key queue here, so a repeat sees the first transfer before moving
    -- anything (the in leg may be written before the keyed out leg).
    perform pg_advisory_xact_lock(hashtextextended('storekeep.stock_movements.idempotency_key:' || transfer_stock.idempotency_key, 0));
    select * into out_movement from public.stock_movements m where m.idempotency_key = transfer_stock.idempotency_key;
    if out_movement.id is not null then
      select * into in_movement from public.stock_movements m
      where m.reference_type = 'transfer' and m.reference_id = out_movement.reference_id and m.kind = 'transfer_in';
      if out_movement.kind <> 'transfer_out'
         or (out_movement.variant_id, out_movement.location_id, -out_movement.quantity, in_movement.location_id)
            is distinct from (v_variant, v_from, transfer_stock.quantity, v_to) then
        perform private.raise_business_error('P0C01', 'this idempotency key was used for a different movement',
          jsonb_build_object('idempotency_key', transfer_stock.idempotency_key, 'movement', private.movement_json(out_movement)));
      end if;
      v_transfer := out_movement.reference_id;
      replayed := true;
    end if;
  end if;

  if not replayed then
    for leg in
      select l.id, l.id = v_from as outgoing from public.locations l where l.id in (v_from, v_to) order by l.priority, l.id
    loop
      if leg.outgoing then
        insert into public.stock_movements
          (variant_id, location_id, kind, quantity, reason, reference_type, reference_id, idempotency_key)
        values (v_variant, v_from, 'transfer_out', -transfer_stock.quantity, transfer_stock.reason, 'transfer', v_transfer, transfer_stock.idempotency_key)
        on conflict (idempotency_key) do nothing
        returning * into out_movement;
        if out_movement.id is null then
          -- An adjustment took the key meanwhile; raising undoes the in leg, if written.
          perform private.raise_business_error('P0C01', 'this idempotency key was used for a different movement',
            jsonb_build_object('idempotency_key', transfer_stock.idempotency_key));
        end if;
      else
        insert into public.stock_movements (variant_id, location_id, kind, quantity, reason, reference_type, reference_id)
        values (v_variant, v_to, 'transfer_in', transfer_stock.quantity, transfer_stock.reason, 'transfer', v_transfer)
        returning * into in_movement;
      end if;
    end loop;
  end if;

  return jsonb_build_object(
    'transfer_id', v_transfer,
    'movements', jsonb_build_array(private.movement_json(out_movement), private.movement_json(in_movement)),
    'from', private.level_json(v_variant, v_from),
    'to', private.level_json(v_variant, v_to),
    'replayed', replayed);
end;
$function$
;
revoke all on function private.transfer_stock(text,text,text,integer,text,text) from public, anon, authenticated, service_role;
grant execute on function private.transfer_stock(text,text,text,integer,text,text) to authenticated, service_role;
comment on function private.transfer_stock(text,text,text,integer,text,text) is 'Moves stock between two locations (staff and up): transfer_out and transfer_in in one transaction, once per idempotency key.';

drop function private.unreserve_items(uuid[]);
create or replace function private.unreserve_items(reservation_ids uuid[])
 returns void
 language plpgsql
 security definer
 set search_path to ''
as $function$
declare
  item record;
begin
  for item in
    select i.variant_id, i.location_id, sum(i.quantity)::integer as quantity
    from public.reservation_items i
    join public.locations l on l.id = i.location_id
    where i.reservation_id = any (reservation_ids)
    group by i.variant_id, i.location_id, l.priority
    order by i.variant_id, l.priority, i.location_id
  loop
    update public.stock_levels sl
    set reserved = sl.reserved - item.quantity, updated_at = now()
    where sl.variant_id = item.variant_id and sl.location_id = item.location_id;
  end loop;
end;
$function$
;
revoke all on function private.unreserve_items(uuid[]) from public, anon, authenticated, service_role;
comment on function private.unreserve_items(uuid[]) is 'Returns the held units of reservations to available, locking levels in the global order.';

drop function private.variant_id_for_sku(text);
create or replace function private.variant_id_for_sku(sku text)
 returns uuid
 language plpgsql
 stable security definer
 set search_path to ''
as $function$
#variable_conflict use_column
declare
  found_id uuid;
begin
  select v.id into found_id from public.product_variants v where lower(v.sku) = lower(variant_id_for_sku.sku) and v.deleted_at is null;
  if found_id is null then
    perform private.raise_business_error('P0N01', format('no variant with sku %s', variant_id_for_sku.sku), jsonb_build_object('sku', variant_id_for_sku.sku));
  end if;
  return found_id;
end;
$function$
;
revoke all on function private.variant_id_for_sku(text) from public, anon, authenticated, service_role;
comment on function private.variant_id_for_sku(text) is 'The live variant with this sku (any case), or P0N01.';
