-- Product images. An image is a slot in a product's gallery (position, primary, alt text, an
-- optional variant) showing one asset at the image provider (Cloudinary). Every asset ever shown in
-- a slot is kept as a version, so a replaced image can be restored; the slot copies the fields of
-- its current version. Assets are never overwritten: each upload gets a public id of its own.
--
-- Reads follow the catalog: published, live products' images are public; every image is visible to
-- viewer and up. Writes go only through the private.image_* functions (migration
-- product_images_api): a row must describe an asset the provider really holds, which only the API
-- can check, so no client role may insert, update or delete these tables directly.

create table public.product_images (
  id uuid primary key default gen_random_uuid(),
  product_id uuid not null references public.products (id) on delete cascade,
  variant_id uuid references public.product_variants (id) on delete set null,
  position integer not null check (position >= 0),
  is_primary boolean not null default false,
  alt_text text not null default '' check (length(alt_text) <= 1000),
  -- The current version's asset.
  public_id text not null check (length(public_id) between 1 and 255),
  asset_version bigint not null check (asset_version > 0),
  format text not null check (format in ('jpg', 'png', 'webp', 'avif', 'gif')),
  width integer not null check (width > 0),
  height integer not null check (height > 0),
  bytes integer not null check (bytes > 0),
  checksum text not null check (checksum ~ '^[0-9a-f]{64}$'),
  placeholder text check (placeholder ~ '^#[0-9a-f]{6}$'),
  version integer not null default 1,
  created_by uuid default auth.uid(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint product_images_position_key unique (product_id, position) deferrable initially deferred
);
comment on table public.product_images is
  'Product gallery images: position, primary, alt text and the current asset at the image provider; version bumped on every change.';
comment on column public.product_images.asset_version is 'The provider''s version of the asset (Cloudinary `version`).';
comment on column public.product_images.checksum is 'SHA-256 (hex) of the asset''s bytes.';
comment on column public.product_images.placeholder is 'The dominant colour (#rrggbb), shown while the image loads.';
create unique index product_images_one_primary_idx on public.product_images (product_id) where is_primary;
create index product_images_variant_idx on public.product_images (variant_id) where variant_id is not null;

create table public.product_image_versions (
  id bigint generated always as identity primary key,
  image_id uuid not null references public.product_images (id) on delete cascade,
  product_id uuid not null references public.products (id) on delete cascade,
  public_id text not null unique check (length(public_id) between 1 and 255),
  asset_version bigint not null check (asset_version > 0),
  format text not null check (format in ('jpg', 'png', 'webp', 'avif', 'gif')),
  width integer not null check (width > 0),
  height integer not null check (height > 0),
  bytes integer not null check (bytes > 0),
  checksum text not null check (checksum ~ '^[0-9a-f]{64}$'),
  placeholder text check (placeholder ~ '^#[0-9a-f]{6}$'),
  created_by uuid default auth.uid(),
  created_at timestamptz not null default now()
);
comment on table public.product_image_versions is
  'Every asset an image has shown (its history, the current one included); a previous one can be restored.';
create index product_image_versions_image_idx on public.product_image_versions (image_id, id);
create index product_image_versions_product_idx on public.product_image_versions (product_id);

create trigger product_images_before_update_set_updated_at
  before update on public.product_images
  for each row execute function private.set_updated_at();
create trigger product_images_after_write_audit
  after insert or update or delete on public.product_images
  for each row execute function private.audit_row('id');

alter table public.product_images enable row level security;
alter table public.product_image_versions enable row level security;
revoke all on public.product_images, public.product_image_versions from anon, authenticated, service_role;
grant select on public.product_images, public.product_image_versions to anon, authenticated, service_role;

create policy "Anyone can read images of published products"
  on public.product_images for select to anon
  using (exists (select 1 from public.products p
                 where p.id = product_id and p.status = 'published' and p.deleted_at is null));
create policy "Viewers can read every image and customers those of published products"
  on public.product_images for select to authenticated
  using (
    (select private.has_app_role('viewer'))
    or exists (select 1 from public.products p
               where p.id = product_id and p.status = 'published' and p.deleted_at is null)
  );
create policy "Viewers can read image history"
  on public.product_image_versions for select to authenticated
  using ((select private.has_app_role('viewer')));
