-- Image operations the API calls. An upload is two steps around the provider call:
--   1. private.image_reserve_upload   records the public id the asset will get (its own transaction);
--   2. private.image_record           turns that reservation into an image or a new version, with
--                                     its outbox event, in one transaction.
-- A reservation never recorded (the provider failed, the browser never confirmed, the process died)
-- expires into the deletion queue, so no asset is left orphaned at the provider. Deleting versions
-- queues their assets too; the `images.destroy` job works the queue with retries.
--
-- These are security definer (the tables take no direct writes) and check the caller's role first.

create table private.image_uploads (
  public_id text primary key,
  product_id uuid not null,
  -- The image this upload replaces; null for a new image.
  image_id uuid,
  created_by uuid default auth.uid(),
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
comment on table private.image_uploads is
  'Public ids handed out for uploads not yet recorded; expired ones go to private.image_deletions.';
create index image_uploads_expires_idx on private.image_uploads (expires_at);
alter table private.image_uploads enable row level security;

create table private.image_deletions (
  public_id text primary key,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error text,
  created_at timestamptz not null default now()
);
comment on table private.image_deletions is 'Assets to destroy at the image provider (worked by the images.destroy job, with retries).';
create index image_deletions_due_idx on private.image_deletions (next_attempt_at);
alter table private.image_deletions enable row level security;

-- A version's asset goes when its row goes (image deleted, product hard-deleted).
create or replace function private.product_image_versions_queue_deletion()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into private.image_deletions (public_id) select o.public_id from old_rows o
  on conflict (public_id) do nothing;
  return null;
end;
$$;
comment on function private.product_image_versions_queue_deletion() is
  'Trigger (after delete, per statement): queues the deleted versions'' assets for deletion at the provider.';
create trigger product_image_versions_after_delete_queue_deletion
  after delete on public.product_image_versions referencing old table as old_rows
  for each statement execute function private.product_image_versions_queue_deletion();

-- An image as the API returns it (without its creator).
create or replace function private.product_image_json(i public.product_images)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object('id', i.id, 'product_id', i.product_id, 'variant_id', i.variant_id, 'position', i.position,
    'is_primary', i.is_primary, 'alt_text', i.alt_text, 'public_id', i.public_id, 'asset_version', i.asset_version,
    'format', i.format, 'width', i.width, 'height', i.height, 'bytes', i.bytes, 'checksum', i.checksum,
    'placeholder', i.placeholder, 'version', i.version,
    -- As private.iso prints them (inlined: anon may call this, and not private.iso).
    'created_at', to_char(i.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'updated_at', to_char(i.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
$$;
comment on function private.product_image_json(public.product_images) is 'An image as the API returns it and as its events carry it.';

-- The product an image write targets must exist, be live, and be editable by the caller.
create or replace function private.image_require_product(p_product_id uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_app_role('staff');
  if not exists (select 1 from public.products p where p.id = p_product_id and p.deleted_at is null) then
    perform private.raise_business_error('P0N01', format('no product %s', p_product_id), jsonb_build_object('id', p_product_id));
  end if;
end;
$$;
comment on function private.image_require_product(uuid) is 'Refuses a caller below staff (P0F01) or a missing or deleted product (P0N01).';

-- Image writes on one product take turns (positions and the primary are per product).
create or replace function private.image_lock_product(p_product_id uuid)
returns void
language sql
set search_path = ''
as $$
  select pg_advisory_xact_lock(hashtextextended('product_images:' || p_product_id::text, 0))
$$;
comment on function private.image_lock_product(uuid) is 'Serialises image writes on one product until the transaction ends.';

-- The image a write names, locked; 404 when it is not this product's, 409 when the version moved on.
create or replace function private.image_lock(p_product_id uuid, p_image_id uuid, p_expected_version integer)
returns public.product_images
language plpgsql
security definer
set search_path = ''
as $$
declare
  image public.product_images;
begin
  perform private.image_require_product(p_product_id);
  perform private.image_lock_product(p_product_id);
  select * into image from public.product_images i where i.id = p_image_id and i.product_id = p_product_id for update;
  if not found then
    perform private.raise_business_error('P0N01', format('no image %s on product %s', p_image_id, p_product_id),
      jsonb_build_object('id', p_image_id));
  end if;
  if p_expected_version is not null and image.version <> p_expected_version then
    perform private.raise_business_error('P0C02', 'the image was changed since version ' || p_expected_version,
      jsonb_build_object('expected_version', p_expected_version, 'current', private.product_image_json(image)));
  end if;
  return image;
end;
$$;
comment on function private.image_lock(uuid, uuid, integer) is
  'Locks and returns a product''s image; P0N01 when missing, P0C02 when not at the expected version.';

-- Step 1 of an upload: reserve `public_id` for a new image of the product (or a new version of
-- `image_id`) until `ttl` has passed.
create or replace function private.image_reserve_upload(p_product_id uuid, p_image_id uuid, p_public_id text, p_ttl interval)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.require_app_role('staff');
  perform private.image_require_product(p_product_id);
  if p_image_id is not null then
    perform private.image_lock(p_product_id, p_image_id, null);
  end if;
  insert into private.image_uploads (public_id, product_id, image_id, expires_at)
  values (p_public_id, p_product_id, p_image_id, now() + p_ttl);
end;
$$;
comment on function private.image_reserve_upload(uuid, uuid, text, interval) is
  'Reserves a public id for an upload to a product (a new image, or a new version of image_id) until the ttl passes.';

-- Step 2: the provider holds the asset; record it. `asset` has asset_version, format, width,
-- height, bytes, checksum and placeholder; `attrs` may have alt_text and variant_id (new images).
-- A new image goes last, primary when it is the product's first. A replacement becomes the
-- image's current version (expected_version guards it).
create or replace function private.image_record(p_product_id uuid, p_public_id text, asset jsonb, attrs jsonb,
  p_expected_version integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  upload private.image_uploads;
  image public.product_images;
  v_variant uuid := (attrs ->> 'variant_id')::uuid;
begin
  perform private.require_app_role('staff');
  perform private.image_require_product(p_product_id);
  perform private.image_lock_product(p_product_id);
  delete from private.image_uploads u where u.public_id = p_public_id and u.product_id = p_product_id
  returning * into upload;
  if not found then
    perform private.raise_business_error('P0N01', 'no pending upload ' || p_public_id || ' for this product (expired or already recorded)',
      jsonb_build_object('public_id', p_public_id));
  end if;
  if v_variant is not null and not exists (select 1 from public.product_variants v
                                           where v.id = v_variant and v.product_id = p_product_id and v.deleted_at is null) then
    perform private.raise_business_error('P0V01', 'the variant is not one of this product''s',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.variant_id', 'message', 'not a variant of this product'))));
  end if;

  if upload.image_id is null then
    insert into public.product_images (product_id, variant_id, position, is_primary, alt_text, public_id, asset_version,
      format, width, height, bytes, checksum, placeholder)
    select p_product_id, v_variant,
           coalesce((select max(i.position) + 1 from public.product_images i where i.product_id = p_product_id), 0),
           not exists (select 1 from public.product_images i where i.product_id = p_product_id and i.is_primary),
           coalesce(attrs ->> 'alt_text', ''), p_public_id, (asset ->> 'asset_version')::bigint, asset ->> 'format',
           (asset ->> 'width')::integer, (asset ->> 'height')::integer, (asset ->> 'bytes')::integer,
           asset ->> 'checksum', asset ->> 'placeholder'
    returning * into image;
    perform private.emit_event('product_image.created', private.product_image_json(image));
  else
    perform private.image_lock(p_product_id, upload.image_id, p_expected_version);
    update public.product_images i set public_id = p_public_id, asset_version = (asset ->> 'asset_version')::bigint,
      format = asset ->> 'format', width = (asset ->> 'width')::integer, height = (asset ->> 'height')::integer,
      bytes = (asset ->> 'bytes')::integer, checksum = asset ->> 'checksum', placeholder = asset ->> 'placeholder',
      version = i.version + 1
    where i.id = upload.image_id
    returning * into image;
    perform private.emit_event('product_image.replaced', private.product_image_json(image));
  end if;

  insert into public.product_image_versions (image_id, product_id, public_id, asset_version, format, width, height,
    bytes, checksum, placeholder)
  values (image.id, p_product_id, p_public_id, image.asset_version, image.format, image.width, image.height, image.bytes,
    image.checksum, image.placeholder);
  return private.product_image_json(image);
end;
$$;
comment on function private.image_record(uuid, text, jsonb, jsonb, integer) is
  'Records an uploaded asset reserved by image_reserve_upload: a new image, or the new current version of the image it replaces.';

-- Whether `public_id` is an upload reserved for this product and not yet recorded (staff and up).
-- The API asks before it acts on an asset a browser reports, so it never touches another's asset.
create or replace function private.image_upload_pending(p_product_id uuid, p_public_id text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_app_role('staff');
  return exists (select 1 from private.image_uploads u
                 where u.public_id = p_public_id and u.product_id = p_product_id and u.expires_at > now());
end;
$$;
comment on function private.image_upload_pending(uuid, text) is 'True when public_id is a live upload reservation of this product.';

-- Edits alt text, variant and primary (`patch` keys present are applied).
create or replace function private.image_update(p_product_id uuid, p_image_id uuid, p_expected_version integer, patch jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  image public.product_images;
  demoted public.product_images;
  v_variant uuid := (patch ->> 'variant_id')::uuid;
begin
  perform private.require_app_role('staff');
  image := private.image_lock(p_product_id, p_image_id, p_expected_version);
  if v_variant is not null and not exists (select 1 from public.product_variants v
                                           where v.id = v_variant and v.product_id = p_product_id and v.deleted_at is null) then
    perform private.raise_business_error('P0V01', 'the variant is not one of this product''s',
      jsonb_build_object('errors', jsonb_build_array(jsonb_build_object('field', 'body.variant_id', 'message', 'not a variant of this product'))));
  end if;
  if (patch ->> 'is_primary')::boolean is true and not image.is_primary then
    update public.product_images i set is_primary = false, version = i.version + 1
    where i.product_id = p_product_id and i.is_primary
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
  where i.id = p_image_id
  returning * into image;
  perform private.emit_event('product_image.updated', private.product_image_json(image));
  return private.product_image_json(image);
end;
$$;
comment on function private.image_update(uuid, uuid, integer, jsonb) is
  'Changes an image''s alt text, variant or makes it the primary one (the former primary is demoted).';

-- Puts the product's images in the given order: `ids` must name each of its images exactly once.
create or replace function private.image_reorder(p_product_id uuid, ids uuid[])
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  image public.product_images;
begin
  perform private.require_app_role('staff');
  perform private.image_require_product(p_product_id);
  perform private.image_lock_product(p_product_id);
  if cardinality(ids) is distinct from (select count(distinct x) from unnest(ids) x)
     or (select array_agg(i.id order by i.id) from public.product_images i where i.product_id = p_product_id)
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
  return private.product_images_json(p_product_id);
end;
$$;
comment on function private.image_reorder(uuid, uuid[]) is 'Orders a product''s images as listed; each moved image gets a new version and an event.';

-- Makes an earlier version of an image its current one again (the asset is still at the provider).
create or replace function private.image_restore(p_product_id uuid, p_image_id uuid, p_expected_version integer, p_version_id bigint)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  image public.product_images;
  earlier public.product_image_versions;
begin
  perform private.require_app_role('staff');
  image := private.image_lock(p_product_id, p_image_id, p_expected_version);
  select * into earlier from public.product_image_versions v where v.id = p_version_id and v.image_id = p_image_id;
  if not found then
    perform private.raise_business_error('P0N01', format('image %s has no version %s', p_image_id, p_version_id),
      jsonb_build_object('version_id', p_version_id));
  end if;
  update public.product_images i set public_id = earlier.public_id, asset_version = earlier.asset_version,
    format = earlier.format, width = earlier.width, height = earlier.height, bytes = earlier.bytes,
    checksum = earlier.checksum, placeholder = earlier.placeholder, version = i.version + 1
  where i.id = p_image_id
  returning * into image;
  perform private.emit_event('product_image.restored', private.product_image_json(image));
  return private.product_image_json(image);
end;
$$;
comment on function private.image_restore(uuid, uuid, integer, bigint) is 'Makes an image show one of its earlier versions again.';

-- Deletes an image with its history; their assets are queued for deletion at the provider. A
-- deleted primary passes the role to the first image left.
create or replace function private.image_delete(p_product_id uuid, p_image_id uuid, p_expected_version integer)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  image public.product_images;
  promoted public.product_images;
begin
  perform private.require_app_role('staff');
  image := private.image_lock(p_product_id, p_image_id, p_expected_version);
  delete from public.product_images i where i.id = p_image_id;
  perform private.emit_event('product_image.deleted', private.product_image_json(image));
  if image.is_primary then
    update public.product_images i set is_primary = true, version = i.version + 1
    where i.id = (select f.id from public.product_images f where f.product_id = p_product_id order by f.position, f.id limit 1)
    returning * into promoted;
    if found then
      perform private.emit_event('product_image.updated', private.product_image_json(promoted));
    end if;
  end if;
end;
$$;
comment on function private.image_delete(uuid, uuid, integer) is
  'Deletes an image and its history (their assets queued for deletion at the provider); the first image left becomes primary.';

-- A product's images in gallery order, as the caller may see them (security invoker: RLS applies).
create or replace function private.product_images_json(p_product_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(private.product_image_json(i) order by i.position, i.id), '[]'::jsonb)
  from public.product_images i where i.product_id = p_product_id
$$;
comment on function private.product_images_json(uuid) is 'A product''s images in order, those the caller may see.';

-- An image's versions, newest first (viewer and up, by RLS).
create or replace function private.product_image_versions_json(p_product_id uuid, p_image_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(jsonb_agg(jsonb_build_object('id', v.id, 'image_id', v.image_id, 'public_id', v.public_id,
      'asset_version', v.asset_version, 'format', v.format, 'width', v.width, 'height', v.height, 'bytes', v.bytes,
      'checksum', v.checksum, 'placeholder', v.placeholder,
      'created_at', to_char(v.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      'current', v.public_id = i.public_id) order by v.id desc), '[]'::jsonb)
  from public.product_image_versions v
  join public.product_images i on i.id = v.image_id
  where v.image_id = p_image_id and v.product_id = p_product_id
$$;
comment on function private.product_image_versions_json(uuid, uuid) is 'An image''s versions, newest first, marking the current one.';

-- Jobs. Reservations past their time become deletions (their upload may have reached the provider).
create or replace function private.image_expire_uploads()
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  moved integer;
begin
  with expired as (
    delete from private.image_uploads u
    where u.public_id in (select e.public_id from private.image_uploads e where e.expires_at < now()
                          for update skip locked)
    returning u.public_id
  )
  insert into private.image_deletions (public_id) select public_id from expired
  on conflict (public_id) do nothing;
  get diagnostics moved = row_count;
  return moved;
end;
$$;
comment on function private.image_expire_uploads() is 'Moves expired upload reservations to the deletion queue; returns how many.';

-- Claims up to `max_items` due deletions and pushes each one's next attempt back (exponential, up
-- to an hour), so a crash mid-way only delays it. The caller reports each with image_deletion_done
-- or image_deletion_failed.
create or replace function private.image_claim_deletions(max_items integer default 20)
returns setof text
language sql
security definer
set search_path = ''
as $$
  update private.image_deletions d
     set attempts = d.attempts + 1,
         next_attempt_at = now() + least(power(2, d.attempts) * interval '30 seconds', interval '1 hour')
   where d.public_id in (select q.public_id from private.image_deletions q where q.next_attempt_at <= now()
                         order by q.next_attempt_at limit max_items for update skip locked)
  returning d.public_id
$$;
comment on function private.image_claim_deletions(integer) is 'Claims due provider deletions (with backoff for the next attempt).';

create or replace function private.image_deletion_done(p_public_id text)
returns void
language sql
security definer
set search_path = ''
as $$
  delete from private.image_deletions d where d.public_id = p_public_id
$$;
comment on function private.image_deletion_done(text) is 'The provider no longer holds the asset: forget its deletion.';

create or replace function private.image_deletion_failed(p_public_id text, error text)
returns void
language sql
security definer
set search_path = ''
as $$
  update private.image_deletions d set last_error = left(error, 1000) where d.public_id = p_public_id
$$;
comment on function private.image_deletion_failed(text, text) is 'Records why a provider deletion failed; it is retried at its next_attempt_at.';

revoke execute on function private.product_image_versions_queue_deletion(), private.image_lock_product(uuid), private.product_image_json(public.product_images),
  private.image_require_product(uuid),
  private.image_lock(uuid, uuid, integer), private.image_reserve_upload(uuid, uuid, text, interval),
  private.image_record(uuid, text, jsonb, jsonb, integer),
  private.image_upload_pending(uuid, text),
  private.image_update(uuid, uuid, integer, jsonb), private.image_reorder(uuid, uuid[]),
  private.image_restore(uuid, uuid, integer, bigint), private.image_delete(uuid, uuid, integer),
  private.product_images_json(uuid), private.product_image_versions_json(uuid, uuid),
  private.image_expire_uploads(), private.image_claim_deletions(integer), private.image_deletion_done(text),
  private.image_deletion_failed(text, text)
  from public, anon, authenticated, service_role;
-- Reads as any caller (RLS decides); writes as staff and up (the functions check).
grant execute on function private.product_image_json(public.product_images), private.product_images_json(uuid),
  private.product_image_versions_json(uuid, uuid) to anon, authenticated, service_role;
grant execute on function private.image_reserve_upload(uuid, uuid, text, interval),
  private.image_record(uuid, text, jsonb, jsonb, integer),
  private.image_upload_pending(uuid, text),
  private.image_update(uuid, uuid, integer, jsonb), private.image_reorder(uuid, uuid[]),
  private.image_restore(uuid, uuid, integer, bigint), private.image_delete(uuid, uuid, integer)
  to authenticated, service_role;
